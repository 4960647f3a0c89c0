/*
 * test-stat.c: the rolling regression and the forgetting weighted least
 * squares of lib/stat.h against closed forms worked out by hand, their
 * refusals (too few points, no spread, collinear columns, bad input),
 * and their byte images.  tests/e2e/stat-numpy.sh checks the same fits
 * against numpy on random data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "check.h"
#include "lib/stat.h"
#include "lib/util.h"

/*
 * The textbook data set: x = 1..5, y = 2 4 5 4 5.
 *	mean x = 3, mean y = 4, Sxx = 4+1+0+1+4 = 10,
 *	Sxy = (-2)(-2) + (-1)(0) + 0(1) + 1(0) + 2(1) = 6,
 *	slope = 6/10 = 0.6, intercept = 4 - 0.6*3 = 2.2,
 *	fitted 2.8 3.4 4.0 4.6 5.2, residuals -0.8 0.6 1.0 -0.6 -0.2,
 *	RSS = 0.64+0.36+1+0.36+0.04 = 2.4, s^2 = RSS/(n-2) = 0.8,
 *	se(slope) = sqrt(s^2/Sxx) = sqrt(0.08),
 *	se(intercept) = sqrt(s^2 (1/n + mean x^2/Sxx)) = sqrt(0.8*1.1),
 *	TSS = 4+0+1+0+1 = 6, r2 = 1 - 2.4/6 = 0.6.
 */
static const double tx[] = { 1, 2, 3, 4, 5 };
static const double ty[] = { 2, 4, 5, 4, 5 };

/* Same bits, so that NaN equals NaN. */
static int
same(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static int
same_ols(const struct olsfit *a, const struct olsfit *b)
{
	return same(a->slope, b->slope) && same(a->slope_se, b->slope_se) &&
	    same(a->intercept, b->intercept) && same(a->r2, b->r2) &&
	    a->n == b->n;
}

static int
same_wls(const struct wlsfit *a, const struct wlsfit *b)
{
	int i, j, ok;

	ok = same(a->sigma, b->sigma) && same(a->r2, b->r2) &&
	    same(a->n_eff, b->n_eff) && same(a->sum_w, b->sum_w);
	for (i = 0; i < WLS_MAXP; i++) {
		ok = ok && same(a->beta[i], b->beta[i]) &&
		    same(a->se[i], b->se[i]) && a->active[i] == b->active[i];
		for (j = 0; j < WLS_MAXP; j++)
			ok = ok && same(a->cov[i][j], b->cov[i][j]);
	}
	return ok;
}

/* A fixed pseudo-random sequence in [0, 1), the same on every machine. */
static double
rnd(unsigned long *state)
{
	*state = *state * 6364136223846793005UL + 1442695040888963407UL;
	return (double)(*state >> 11) / 9007199254740992.0;
}

static void
test_ols_line(void)
{
	struct olsw *w = olsw_new(20);
	struct olsfit f;
	int i;

	for (i = 0; i < 10; i++)
		olsw_push(w, i, 3 - 2 * i);
	CHECK(olsw_fit(w, &f) == 0, "exact line: fit");
	CHECK_CLOSE(f.slope, -2, 1e-14, "exact line: slope");
	CHECK_CLOSE(f.intercept, 3, 1e-14, "exact line: intercept");
	CHECK_CLOSE(f.r2, 1, 1e-14, "exact line: r2");
	CHECK(f.slope_se < 1e-14, "exact line: se %g", f.slope_se);
	CHECK(f.n == 10, "exact line: n %d", f.n);
	olsw_free(w);
}

static void
test_ols_textbook(void)
{
	struct olsw *w = olsw_new(5);
	struct olsfit f;
	size_t i;

	for (i = 0; i < NELEM(tx); i++)
		olsw_push(w, tx[i], ty[i]);
	CHECK(olsw_fit(w, &f) == 0, "textbook: fit");
	CHECK_CLOSE(f.slope, 0.6, 1e-14, "textbook: slope");
	CHECK_CLOSE(f.intercept, 2.2, 1e-14, "textbook: intercept");
	CHECK_CLOSE(f.slope_se, sqrt(0.08), 1e-14, "textbook: slope se");
	CHECK_CLOSE(f.r2, 0.6, 1e-14, "textbook: r2");
	CHECK(f.n == 5, "textbook: n %d", f.n);
	olsw_free(w);
}

static void
test_ols_refusals(void)
{
	struct olsw *w = olsw_new(10);
	struct olsfit f = { 7, 7, 7, 7, 7 }, g;

	olsw_push(w, 1, 1);
	olsw_push(w, 2, 3);
	CHECK(olsw_fit(w, &f) == -1, "two points: refused");
	CHECK(f.slope == 7 && f.n == 7, "two points: out untouched");
	olsw_free(w);

	w = olsw_new(10);
	olsw_push(w, 4, 1);
	olsw_push(w, 4, 2);
	olsw_push(w, 4, 5);
	CHECK(olsw_fit(w, &f) == -1, "constant x: refused");
	CHECK(f.slope == 7, "constant x: out untouched");
	olsw_free(w);

	w = olsw_new(10);
	olsw_push(w, 1, 1);
	olsw_push(w, 2, 3);
	CHECK(olsw_push(w, log(0), 2) == -1, "push -inf x: refused");
	CHECK(olsw_push(w, 3, NAN) == -1, "push NaN y: refused");
	CHECK(olsw_count(w) == 2, "refused points not counted");
	olsw_push(w, 3, 2);
	CHECK(olsw_fit(w, &g) == 0 && g.n == 3, "fit after refusals");
	CHECK_CLOSE(g.slope, 0.5, 1e-14, "fit after refusals: slope");
	olsw_free(w);

	w = olsw_new(10);
	olsw_push(w, 0, 5);
	olsw_push(w, 1, 5);
	olsw_push(w, 2, 5);
	CHECK(olsw_fit(w, &g) == 0 && g.slope == 0 && isnan(g.r2),
	    "constant y: slope 0, r2 NaN");
	olsw_free(w);
}

static void
test_ols_window(void)
{
	struct olsw *w = olsw_new(7), *fresh = olsw_new(7);
	struct olsfit a, b;
	double x[40], y[40];
	unsigned long st = 1;
	int i, n, ok = 1;

	for (i = 0; i < 40; i++) {
		x[i] = rnd(&st) * 10;
		y[i] = 1 + 0.5 * x[i] + rnd(&st);
	}
	for (n = 1; n <= 40; n++) {
		olsw_push(w, x[n - 1], y[n - 1]);
		olsw_free(fresh);
		fresh = olsw_new(7);
		for (i = n > 7 ? n - 7 : 0; i < n; i++)
			olsw_push(fresh, x[i], y[i]);
		ok = ok && olsw_count(w) == (n < 7 ? n : 7);
		if (n >= 3)
			ok = ok && olsw_fit(w, &a) == 0 &&
			    olsw_fit(fresh, &b) == 0 && same_ols(&a, &b);
	}
	CHECK(ok, "window: every fit equals a fresh fit of the last 7");
	CHECK(a.n == 7, "window: n %d", a.n);
	olsw_free(w);
	olsw_free(fresh);
}

static void
test_wls_ols(void)
{
	struct wls *s = wls_new(2, 0);
	struct wlsfit f;
	double x[2];
	size_t i;

	for (i = 0; i < NELEM(tx); i++) {
		x[0] = 1;
		x[1] = tx[i];
		wls_add(s, i * 1000.0, x, ty[i], 1);
	}
	CHECK(wls_fit(s, 1e6, &f) == 0, "wls as ols: fit");
	CHECK_CLOSE(f.beta[0], 2.2, 1e-14, "wls as ols: intercept");
	CHECK_CLOSE(f.beta[1], 0.6, 1e-14, "wls as ols: slope");
	CHECK_CLOSE(f.se[0], sqrt(0.88), 1e-14, "wls as ols: intercept se");
	CHECK_CLOSE(f.se[1], sqrt(0.08), 1e-14, "wls as ols: slope se");
	/* cov(intercept, slope) = -s^2 mean x / Sxx = -0.8 * 3 / 10. */
	CHECK_CLOSE(f.cov[0][1], -0.24, 1e-14, "wls as ols: covariance");
	CHECK_CLOSE(f.cov[1][0], -0.24, 1e-14, "wls as ols: symmetric");
	CHECK_CLOSE(f.sigma, sqrt(0.8), 1e-14, "wls as ols: sigma");
	CHECK_CLOSE(f.r2, 0.6, 1e-14, "wls as ols: r2");
	CHECK(f.n_eff == 5 && f.sum_w == 5, "wls as ols: n_eff %g sum_w %g",
	    f.n_eff, f.sum_w);
	CHECK(f.active[0] && f.active[1] && !f.active[2],
	    "wls as ols: active columns");
	x[1] = 6;
	CHECK_CLOSE(wls_predict(&f, x), 5.8, 1e-14, "wls as ols: predict");
	/* var = s^2 (1/n + (6 - 3)^2 / Sxx) = 0.8 * 1.1 */
	CHECK_CLOSE(wls_predict_se(&f, x), sqrt(0.88), 1e-14,
	    "wls as ols: predict se");
	wls_free(s);
}

/*
 * Half-life 10: y = 0 at t = 0, then y = 1 and y = 3 at t = 30, on a
 * constant alone (the weighted mean).  At t = 30 the weights are 1/8,
 * 1, 1:
 *	sum w = 17/8, sum w^2 = 1/64 + 2 = 129/64, n_eff = 289/129,
 *	beta = (0/8 + 1 + 3) / (17/8) = 32/17,
 *	residuals -32/17, -15/17, 19/17,
 *	sum w r^2 = (1024/8 + 225 + 361) / 289 = 714/289,
 *	sigma^2 = (714/289) / (17/8) * n_eff / (n_eff - 1)
 *	        = 5712/4913 * 289/160 = 2.1,
 *	se^2 = sigma^2 / sum w = 2.1 * 8/17.
 * At t = 40 every weight halves: sum w = 17/16, n_eff, beta and sigma
 * are the same, se^2 = 2.1 * 16/17.
 */
static void
test_wls_forgetting(void)
{
	struct wls *s = wls_new(1, 10);
	struct wlsfit f;
	double one = 1;

	wls_add(s, 0, &one, 0, 1);
	CHECK(wls_fit(s, 30, &f) == -1, "forgetting: one point refused");
	CHECK(f.sum_w == 0.125 && f.n_eff == 1,
	    "forgetting: sum_w %g n_eff %g of a failed fit", f.sum_w,
	    f.n_eff);
	CHECK(f.beta[0] == 0 && isnan(f.se[0]) && !f.active[0],
	    "forgetting: failed fit is empty");
	wls_add(s, 30, &one, 1, 1);
	wls_add(s, 30, &one, 3, 1);
	CHECK(wls_fit(s, 30, &f) == 0, "forgetting: fit at 30");
	CHECK_CLOSE(f.sum_w, 17.0 / 8, 1e-15, "forgetting: sum_w");
	CHECK_CLOSE(f.n_eff, 289.0 / 129, 1e-15, "forgetting: n_eff");
	CHECK_CLOSE(f.beta[0], 32.0 / 17, 1e-15, "forgetting: beta");
	CHECK_CLOSE(f.sigma, sqrt(2.1), 1e-14, "forgetting: sigma");
	CHECK_CLOSE(f.se[0], sqrt(2.1 * 8 / 17), 1e-14, "forgetting: se");
	CHECK(fabs(f.r2) < 1e-14, "forgetting: r2 of a constant %g", f.r2);
	CHECK(wls_fit(s, 40, &f) == 0, "forgetting: fit at 40");
	CHECK_CLOSE(f.sum_w, 17.0 / 16, 1e-15, "forgetting: sum_w at 40");
	CHECK_CLOSE(f.n_eff, 289.0 / 129, 1e-15, "forgetting: n_eff at 40");
	CHECK_CLOSE(f.beta[0], 32.0 / 17, 1e-15, "forgetting: beta at 40");
	CHECK_CLOSE(f.se[0], sqrt(2.1 * 16 / 17), 1e-14,
	    "forgetting: se at 40");
	/* A late point counts as if it came at t = 30. */
	wls_add(s, 25, &one, 2, 1);
	CHECK(wls_fit(s, 30, &f) == 0, "forgetting: late point");
	CHECK_CLOSE(f.sum_w, 25.0 / 8, 1e-15, "forgetting: late point weight");
	wls_free(s);

	/* 2^-2000 underflows: the old point is gone, exactly. */
	s = wls_new(1, 1);
	wls_add(s, 0, &one, 100, 1);
	CHECK(wls_fit(s, 2000, &f) == -1 && f.sum_w == 0,
	    "forgetting: forgotten state fits as empty");
	wls_add(s, 2000, &one, 1, 1);
	wls_add(s, 2000, &one, 2, 1);
	wls_add(s, 2000, &one, 3, 1);
	CHECK(wls_fit(s, 2000, &f) == 0 && f.sum_w == 3 && f.n_eff == 3,
	    "forgetting: restarted from empty: sum_w %g n_eff %g", f.sum_w,
	    f.n_eff);
	CHECK_CLOSE(f.beta[0], 2, 1e-15, "forgetting: restarted: beta");
	wls_free(s);

	s = wls_new(1, 0);
	CHECK(wls_add(s, NAN, &one, 1, 1) == -1, "wls: NaN time refused");
	CHECK(wls_add(s, 0, &one, INFINITY, 1) == -1, "wls: inf y refused");
	CHECK(wls_add(s, 0, &one, 1, -1) == -1, "wls: negative w refused");
	one = NAN;
	CHECK(wls_add(s, 0, &one, 1, 1) == -1, "wls: NaN x refused");
	one = 1;
	CHECK(wls_fit(s, 0, &f) == -1 && f.sum_w == 0, "wls: still empty");
	wls_free(s);
}

static void
test_wls_inactive(void)
{
	struct wls *s = wls_new(3, 0);
	struct wlsfit f;
	double x[3];
	size_t i;

	for (i = 0; i < NELEM(tx); i++) {
		x[0] = 1;
		x[1] = tx[i];
		x[2] = 0;
		wls_add(s, 0, x, ty[i], 1);
	}
	CHECK(wls_fit(s, 0, &f) == 0, "inactive: fit succeeds");
	CHECK(!f.active[2] && f.beta[2] == 0 && isnan(f.se[2]),
	    "inactive: beta 0, se NaN");
	CHECK(f.active[0] && f.active[1], "inactive: others active");
	CHECK_CLOSE(f.beta[1], 0.6, 1e-14, "inactive: slope as ols");
	CHECK_CLOSE(f.se[1], sqrt(0.08), 1e-14, "inactive: se as ols");
	x[1] = 6;
	x[2] = 1e6;
	CHECK_CLOSE(wls_predict(&f, x), 5.8, 1e-14, "inactive: predict");
	wls_free(s);

	/* Only n_eff >= p_active + 1 is needed: 3 points, 2 active. */
	s = wls_new(3, 0);
	for (i = 0; i < 3; i++) {
		x[0] = 1;
		x[1] = tx[i];
		x[2] = 0;
		wls_add(s, 0, x, ty[i], 1);
	}
	CHECK(wls_fit(s, 0, &f) == 0, "inactive: 3 points, 2 active");
	wls_free(s);
}

static void
test_wls_singular(void)
{
	struct wls *s = wls_new(3, 0), *s2 = wls_new(3, 0);
	struct wlsfit f;
	double x[3];
	size_t i;

	for (i = 0; i < NELEM(tx); i++) {
		x[0] = 1;
		x[1] = x[2] = tx[i];
		wls_add(s, 0, x, ty[i], 1);
		x[2] = 2 * tx[i];
		wls_add(s2, 0, x, ty[i], 1);
	}
	/*
	 * A column the others span is dropped, not a failure: the fit is
	 * the one without it (the textbook line, slope on column 1).
	 */
	CHECK(wls_fit(s, 0, &f) == 0 && f.active[1] && !f.active[2],
	    "identical columns: the second is dropped");
	CHECK(wls_fit(s2, 0, &f) == 0 && f.active[1] && !f.active[2],
	    "proportional columns: the second is dropped");
	wls_free(s);
	wls_free(s2);

	/*
	 * Nearly collinear, not singular: the third column is the second
	 * plus 1e-4 (-1)^i, so the scaled normal equations have a ratio of
	 * singular values near 1e-10 (numpy: 9.77e-11), too small for
	 * Cholesky, large enough for the SVD.  y is exact, 1 + 2 x2 + 3 x3,
	 * so the fit recovers the coefficients to about 1e-16 / 1e-10.
	 */
	s = wls_new(3, 0);
	for (i = 0; i < 8; i++) {
		x[0] = 1;
		x[1] = i;
		x[2] = i + (i % 2 ? -1e-4 : 1e-4);
		wls_add(s, 0, x, 1 + 2 * x[1] + 3 * x[2], 1);
	}
	CHECK(wls_fit(s, 0, &f) == 0, "nearly collinear: fit");
	CHECK_CLOSE(f.beta[0], 1, 1e-3, "nearly collinear: beta 0");
	CHECK_CLOSE(f.beta[1], 2, 1e-3, "nearly collinear: beta 1");
	CHECK_CLOSE(f.beta[2], 3, 1e-3, "nearly collinear: beta 2");
	CHECK(isfinite(f.se[2]) && isfinite(f.cov[1][2]),
	    "nearly collinear: se %g finite", f.se[2]);
	wls_free(s);

	/* Too few: n_eff 2 < p + 1. */
	s = wls_new(2, 0);
	for (i = 0; i < 2; i++) {
		x[0] = 1;
		x[1] = tx[i];
		wls_add(s, 0, x, ty[i], 1);
	}
	CHECK(wls_fit(s, 0, &f) == -1, "too few points: refused");
	wls_free(s);
}

static void
test_images(void)
{
	struct olsw *w = olsw_new(6), *w2;
	struct wls *s = wls_new(4, 90), *s2;
	struct olsfit a, b;
	struct wlsfit fa, fb;
	unsigned char *img, *img2, junk[600];
	unsigned long st = 7;
	double x[4], y, t = 0;
	size_t len, i;
	int k, ok;

	for (k = 0; k < 9; k++)
		olsw_push(w, rnd(&st), rnd(&st));
	len = olsw_image_size(w);
	CHECK(len == 16 + 6 * 16, "olsw image: size %zu", len);
	img = emalloc(len);
	olsw_image(w, img);
	w2 = olsw_from_image(img, len);
	CHECK(w2 != NULL, "olsw image: restored");
	img2 = emalloc(olsw_image_size(w2));
	olsw_image(w2, img2);
	CHECK(olsw_image_size(w2) == len && memcmp(img, img2, len) == 0,
	    "olsw image: image of the copy is the same");
	ok = 1;
	for (k = 0; k < 10; k++) {
		ok = ok && olsw_fit(w, &a) == 0 && olsw_fit(w2, &b) == 0 &&
		    same_ols(&a, &b);
		x[0] = rnd(&st);
		x[1] = rnd(&st);
		olsw_push(w, x[0], x[1]);
		olsw_push(w2, x[0], x[1]);
	}
	CHECK(ok, "olsw image: restored fits identical, bit for bit");
	ok = 1;
	for (i = 0; i < len; i++)
		ok = ok && olsw_from_image(img, i) == NULL;
	CHECK(ok, "olsw image: every shorter prefix refused");
	CHECK(olsw_from_image(img, len + 1) == NULL,
	    "olsw image: trailing byte refused");
	img[8] = 2;		/* window 2, count 6 */
	CHECK(olsw_from_image(img, len) == NULL,
	    "olsw image: count > window refused");
	img[8] = 6;
	memset(img + 16, 0xff, 8);	/* a NaN x */
	CHECK(olsw_from_image(img, len) == NULL, "olsw image: NaN refused");
	free(img);
	free(img2);
	olsw_free(w);
	olsw_free(w2);

	for (k = 0; k < 60; k++) {
		t += rnd(&st) * 20;
		x[0] = 1;
		x[1] = rnd(&st) * 10;
		x[2] = rnd(&st) * 15;
		x[3] = rnd(&st) - 0.5;
		wls_add(s, t, x, 10 - 0.1 * x[1] - 0.03 * x[2] + 0.4 * x[3] +
		    0.1 * rnd(&st), 1);
	}
	len = wls_image_size(s);
	CHECK(len == 16 + 8 * (6 + 4 + 10), "wls image: size %zu", len);
	img = emalloc(len);
	wls_image(s, img);
	s2 = wls_from_image(img, len);
	CHECK(s2 != NULL, "wls image: restored");
	img2 = emalloc(wls_image_size(s2));
	wls_image(s2, img2);
	CHECK(wls_image_size(s2) == len && memcmp(img, img2, len) == 0,
	    "wls image: image of the copy is the same");
	ok = 1;
	for (k = 0; k < 10; k++) {
		ok = ok && wls_fit(s, t + 5, &fa) == 0 &&
		    wls_fit(s2, t + 5, &fb) == 0 && same_wls(&fa, &fb);
		t += rnd(&st) * 20;
		x[1] = rnd(&st) * 10;
		x[2] = rnd(&st) * 15;
		x[3] = rnd(&st) - 0.5;
		y = 9 + rnd(&st);
		wls_add(s, t, x, y, 1);
		wls_add(s2, t, x, y, 1);
	}
	CHECK(ok, "wls image: restored fits identical, bit for bit");
	ok = 1;
	for (i = 0; i < len; i++)
		ok = ok && wls_from_image(img, i) == NULL;
	CHECK(ok, "wls image: every shorter prefix refused");
	CHECK(wls_from_image(img, len + 1) == NULL,
	    "wls image: trailing byte refused");
	img[8] = 9;
	CHECK(wls_from_image(img, len) == NULL, "wls image: p 9 refused");
	img[8] = 4;
	memset(img + 16 + 16, 0xff, 8);	/* sum w NaN */
	CHECK(wls_from_image(img, len) == NULL, "wls image: NaN refused");
	free(img);
	free(img2);
	wls_free(s);
	wls_free(s2);

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = rnd(&st) * 256;
	ok = 1;
	for (i = 0; i <= sizeof(junk); i++)
		ok = ok && olsw_from_image(junk, i) == NULL &&
		    wls_from_image(junk, i) == NULL;
	CHECK(ok, "images: random bytes refused");
	CHECK(olsw_from_image(NULL, 0) == NULL &&
	    wls_from_image(NULL, 0) == NULL, "images: NULL refused");
	olsw_free(NULL);
	wls_free(NULL);
}

int
main(void)
{
	gsl_set_error_handler_off();
	test_ols_line();
	test_ols_textbook();
	test_ols_refusals();
	test_ols_window();
	test_wls_ols();
	test_wls_forgetting();
	test_wls_inactive();
	test_wls_singular();
	test_images();
	/*
	 * A column that equals the constant (an indicator set for every
	 * point) is dropped as dependent: y = 1 + 2x exactly, so beta is
	 * (1, 2) with the duplicate inactive.
	 */
	{
		struct wls *dup = wls_new(3, 0);
		struct wlsfit df;
		double xs[3];
		int i2;

		for (i2 = 0; i2 < 10; i2++) {
			xs[0] = 1;
			xs[1] = i2;
			xs[2] = 1;
			wls_add(dup, i2, xs, 1 + 2.0 * i2, 1);
		}
		CHECK(wls_fit(dup, 9, &df) == 0 && df.active[0] &&
		    df.active[1] && !df.active[2], "a duplicate of the "
		    "constant is dropped, not singular");
		CHECK_CLOSE(df.beta[0], 1, 1e-9, "intercept 1");
		CHECK_CLOSE(df.beta[1], 2, 1e-9, "slope 2");
		wls_free(dup);
	}
	return CHECK_DONE();
}
