/*
 * stat.c: rolling simple regression and exponentially forgetting
 * weighted least squares (see stat.h), with GSL, and their byte images.
 */
#include <err.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "lib/stat.h"
#include "lib/util.h"

#define WLS_INACTIVE	1e-12	/* mean square of a column with no weight */
#define WLS_CHOL	1e-8	/* least rcond Cholesky is trusted with */
#define WLS_SINGULAR	1e-12	/* singular value ratio of a singular system */
#define WLS_EMPTY	1e-300	/* sum w^2 below this empties the state */

/*
 * The window is kept twice over: point k goes to slots k % window and
 * k % window + window, so the last n points always lie in order in one
 * stretch of the arrays and gsl_fit_linear() can read them in place.
 */
struct olsw {
	int	 window;
	int	 count;		/* points in the window */
	int	 next;		/* slot of the next point, 0 .. window-1 */
	double	*x, *y;		/* 2 * window each */
};

/* Sufficient statistics, all as of t_last; S holds its upper triangle. */
struct wls {
	int	p;
	double	half_life;	/* 0: no forgetting */
	double	t_last;		/* -INFINITY before the first point */
	double	sw, sw2, swy, swy2;
	double	b[WLS_MAXP];
	double	S[WLS_MAXP][WLS_MAXP];
	/* the fit at t_last, until the next point (wls_fit_cached) */
	int	cached, cache_rc;
	struct wlsfit cache;
};

static const unsigned char olsw_magic[8] = "cvolsw1";
static const unsigned char wls_magic[8] = "cvwls1";

#define OLSW_HEAD	(8 + 4 + 4)
#define WLS_HEAD	(8 + 4 + 4)
#define WLS_NDOUBLES(p)	(6 + (p) + (p) * ((p) + 1) / 2)

struct olsw *
olsw_new(int window)
{
	struct olsw *w;

	if (window < 1 || window > OLSW_MAXWINDOW)
		errx(1, "olsw_new: window %d out of range", window);
	w = ecalloc(1, sizeof(*w));
	w->window = window;
	w->x = ecalloc(2 * (size_t)window, sizeof(double));
	w->y = ecalloc(2 * (size_t)window, sizeof(double));
	return w;
}

void
olsw_free(struct olsw *w)
{
	if (w == NULL)
		return;
	free(w->x);
	free(w->y);
	free(w);
}

int
olsw_push(struct olsw *w, double x, double y)
{
	if (!isfinite(x) || !isfinite(y))
		return -1;
	w->x[w->next] = w->x[w->next + w->window] = x;
	w->y[w->next] = w->y[w->next + w->window] = y;
	w->next = (w->next + 1) % w->window;
	if (w->count < w->window)
		w->count++;
	return 0;
}

int
olsw_count(const struct olsw *w)
{
	return w->count;
}

/* Index of the oldest point in the doubled arrays. */
static int
olsw_first(const struct olsw *w)
{
	return (w->next - w->count + w->window) % w->window;
}

int
olsw_fit(const struct olsw *w, struct olsfit *out)
{
	const double *x = w->x + olsw_first(w), *y = w->y + olsw_first(w);
	double mx = 0, my = 0, sxx = 0, tss = 0, big = 0, d;
	double c0, c1, cov00, cov01, cov11, rss;
	int i, n = w->count;

	if (n < 3)
		return -1;
	for (i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
		big = fmax(big, fabs(x[i]));
	}
	mx /= n;
	my /= n;
	for (i = 0; i < n; i++) {
		d = x[i] - mx;
		sxx += d * d;
		d = y[i] - my;
		tss += d * d;
	}
	/*
	 * x values that differ only by rounding give a slope made of
	 * noise: require a spread of more than a few dozen ulps.
	 */
	d = 64 * DBL_EPSILON * big;
	if (!(sxx > n * d * d))
		return -1;
	if (gsl_fit_linear(x, 1, y, 1, n, &c0, &c1, &cov00, &cov01, &cov11,
	    &rss) != GSL_SUCCESS)
		return -1;
	if (!isfinite(c0) || !isfinite(c1) || !isfinite(cov11))
		return -1;
	out->slope = c1;
	out->slope_se = sqrt(cov11);
	out->intercept = c0;
	out->r2 = tss > 0 ? 1 - rss / tss : NAN;
	out->n = n;
	return 0;
}

struct wls *
wls_new(int p, double half_life)
{
	struct wls *s;

	if (p < 1 || p > WLS_MAXP)
		errx(1, "wls_new: %d regressors, 1 to %d allowed", p, WLS_MAXP);
	s = ecalloc(1, sizeof(*s));
	s->p = p;
	s->half_life = half_life > 0 ? half_life : 0;
	s->t_last = -INFINITY;
	return s;
}

void
wls_free(struct wls *s)
{
	free(s);
}

static void
wls_clear(struct wls *s)
{
	s->sw = s->sw2 = s->swy = s->swy2 = 0;
	memset(s->b, 0, sizeof(s->b));
	memset(s->S, 0, sizeof(s->S));
}

/* The factor that takes the statistics from t_last to t. */
static double
wls_factor(const struct wls *s, double t)
{
	if (s->half_life == 0 || !(t > s->t_last) || s->t_last == -INFINITY)
		return 1;
	return exp2(-(t - s->t_last) / s->half_life);
}

/* Multiply by f, flushing to zero what would become denormal. */
static double
scale(double v, double f)
{
	v *= f;
	return fabs(v) < DBL_MIN ? 0 : v;
}

int
wls_add(struct wls *s, double t, const double *x, double y, double w)
{
	double f;
	int i, j;

	if (!isfinite(t) || !isfinite(y) || !isfinite(w) || w < 0)
		return -1;
	for (i = 0; i < s->p; i++)
		if (!isfinite(x[i]))
			return -1;
	f = wls_factor(s, t);
	if (f != 1) {
		s->sw = scale(s->sw, f);
		s->sw2 = scale(s->sw2, f * f);
		s->swy = scale(s->swy, f);
		s->swy2 = scale(s->swy2, f);
		for (i = 0; i < s->p; i++) {
			s->b[i] = scale(s->b[i], f);
			for (j = i; j < s->p; j++)
				s->S[i][j] = scale(s->S[i][j], f);
		}
		if (s->sw2 < WLS_EMPTY)
			wls_clear(s);
	}
	if (t > s->t_last)
		s->t_last = t;
	s->cached = 0;
	s->sw += w;
	s->sw2 += w * w;
	s->swy += w * y;
	s->swy2 += w * y * y;
	for (i = 0; i < s->p; i++) {
		s->b[i] += w * x[i] * y;
		for (j = i; j < s->p; j++)
			s->S[i][j] += w * x[i] * x[j];
	}
	return 0;
}

/* S[i][j] from the upper triangle. */
static double
sym(const struct wls *s, int i, int j)
{
	return i <= j ? s->S[i][j] : s->S[j][i];
}

/* The result of a fit that failed: nothing active, nothing known. */
static void
wlsfit_empty(struct wlsfit *out, double n_eff, double sum_w)
{
	int i, j;

	for (i = 0; i < WLS_MAXP; i++) {
		out->beta[i] = 0;
		out->se[i] = NAN;
		out->active[i] = 0;
		for (j = 0; j < WLS_MAXP; j++)
			out->cov[i][j] = NAN;
	}
	out->sigma = out->r2 = NAN;
	out->n_eff = n_eff;
	out->sum_w = sum_w;
}

/*
 * Solve A z = r for the k x k symmetric matrix A (unit diagonal) and
 * replace A by its inverse.  Return 0, or -1 if A is singular.
 */
static double
min_pivot(const double *l, int k)
{
	double m = 1;
	int i;

	for (i = 0; i < k; i++)
		if (l[i * k + i] * l[i * k + i] < m)
			m = l[i * k + i] * l[i * k + i];
	return m;
}

static int
solve_sym(double *a, int k, double *r, double *z)
{
	double l[WLS_MAXP * WLS_MAXP], v[WLS_MAXP * WLS_MAXP];
	double sv[WLS_MAXP], work[3 * WLS_MAXP];
	gsl_matrix_view L = gsl_matrix_view_array(l, k, k);
	gsl_matrix_view U = gsl_matrix_view_array(a, k, k);
	gsl_matrix_view V = gsl_matrix_view_array(v, k, k);
	gsl_vector_view R = gsl_vector_view_array(r, k);
	gsl_vector_view Z = gsl_vector_view_array(z, k);
	gsl_vector_view SV = gsl_vector_view_array(sv, k);
	gsl_vector_view W1 = gsl_vector_view_array(work, k);
	int i, j, m;

	memcpy(l, a, sizeof(double) * k * k);
	/*
	 * With a unit diagonal, the squared pivots of the Cholesky factor
	 * are each column's 1 - R^2 on the ones before it: a cheap guard
	 * (gsl_linalg_cholesky_rcond costs more than the solve here, and
	 * the fit runs for every sighting).
	 */
	if (gsl_linalg_cholesky_decomp1(&L.matrix) == GSL_SUCCESS &&
	    min_pivot(l, k) >= WLS_CHOL) {
		if (gsl_linalg_cholesky_solve(&L.matrix, &R.vector,
		    &Z.vector) != GSL_SUCCESS ||
		    gsl_linalg_cholesky_invert(&L.matrix) != GSL_SUCCESS)
			return -1;
		memcpy(a, l, sizeof(double) * k * k);
		return 0;
	}

	/*
	 * Not positive definite to working precision, or poorly
	 * conditioned: let the singular values decide, and solve with
	 * them if they allow it.  A = U diag(sv) V'.
	 */
	if (gsl_linalg_SV_decomp(&U.matrix, &V.matrix, &SV.vector,
	    &W1.vector) != GSL_SUCCESS)
		return -1;
	if (!(sv[k - 1] > WLS_SINGULAR * sv[0]))
		return -1;
	if (gsl_linalg_SV_solve(&U.matrix, &V.matrix, &SV.vector, &R.vector,
	    &Z.vector) != GSL_SUCCESS)
		return -1;
	/* A^-1 = V diag(1/sv) U', into l and then over a. */
	for (i = 0; i < k; i++)
		for (j = 0; j < k; j++) {
			l[i * k + j] = 0;
			for (m = 0; m < k; m++)
				l[i * k + j] += v[i * k + m] * a[j * k + m] /
				    sv[m];
		}
	memcpy(a, l, sizeof(double) * k * k);
	return 0;
}

/*
 * Keep only columns that the earlier ones do not already span (an
 * indicator that is 1 for every point duplicates the constant): a greedy
 * Cholesky of the block scaled to unit diagonal keeps a column when its
 * pivot, one minus its R^2 on the kept columns, is not ~0.  Returns how
 * many of col[0..k) are kept, in place and in order.
 */
static int
independent(const struct wls *s, int *col, int k)
{
	double L[WLS_MAXP][WLS_MAXP], l[WLS_MAXP], v, piv;
	int kept = 0, i, j, m, ci;

	for (i = 0; i < k; i++) {
		ci = col[i];
		piv = 1;
		for (j = 0; j < kept; j++) {
			v = sym(s, col[j], ci) / sqrt(s->S[ci][ci] *
			    s->S[col[j]][col[j]]);
			for (m = 0; m < j; m++)
				v -= L[j][m] * l[m];
			l[j] = v / L[j][j];
			piv -= l[j] * l[j];
		}
		if (piv <= 1e-12)
			continue;
		for (m = 0; m < kept; m++)
			L[kept][m] = l[m];
		L[kept][kept] = sqrt(piv);
		col[kept++] = ci;
	}
	return kept;
}

int
wls_fit(const struct wls *s, double t, struct wlsfit *out)
{
	double a[WLS_MAXP * WLS_MAXP], r[WLS_MAXP], z[WLS_MAXP];
	double d[WLS_MAXP], beta[WLS_MAXP], f, n_eff, rss, tss, sig2, q;
	int col[WLS_MAXP], i, j, k, ci, cj;

	/*
	 * beta, n_eff, sigma and r2 do not change when all weights are
	 * scaled, so they come from the statistics as stored; only sum_w
	 * and cov carry the decay factor f.  A state that wls_add()
	 * would empty counts as empty.
	 */
	f = wls_factor(s, t);
	if (s->sw2 > 0 && s->sw2 * (f * f) >= WLS_EMPTY) {
		n_eff = s->sw * s->sw / s->sw2;
		wlsfit_empty(out, n_eff, s->sw * f);
	} else {
		wlsfit_empty(out, 0, 0);
		return -1;
	}

	for (i = k = 0; i < s->p; i++)
		if (s->S[i][i] > WLS_INACTIVE * s->sw)
			col[k++] = i;
	k = independent(s, col, k);
	/* Equal weights decayed together give n_eff a few ulps short. */
	if (k == 0 || n_eff * (1 + 1e-12) < k + 1)
		return -1;

	/*
	 * Scale the active block to unit diagonal, so that conditioning
	 * measures collinearity and not the units of the columns.
	 */
	for (i = 0; i < k; i++)
		d[i] = 1 / sqrt(s->S[col[i]][col[i]]);
	for (i = 0; i < k; i++) {
		ci = col[i];
		r[i] = s->b[ci] * d[i];
		for (j = 0; j < k; j++) {
			cj = col[j];
			a[i * k + j] = sym(s, ci, cj) * d[i] * d[j];
		}
	}
	if (solve_sym(a, k, r, z) != 0)
		return -1;
	for (i = 0; i < k; i++)
		beta[i] = z[i] * d[i];

	/* Weighted RSS = sum w y^2 - 2 beta'b + beta'S beta. */
	rss = s->swy2;
	for (i = 0; i < k; i++) {
		ci = col[i];
		q = 0;
		for (j = 0; j < k; j++) {
			cj = col[j];
			q += sym(s, ci, cj) * beta[j];
		}
		rss += beta[i] * (q - 2 * s->b[ci]);
	}
	if (rss < 0)
		rss = 0;
	tss = s->swy2 - s->swy * s->swy / s->sw;
	sig2 = rss / s->sw * n_eff / (n_eff - k);

	for (i = 0; i < k; i++) {
		ci = col[i];
		out->active[ci] = 1;
		out->beta[ci] = beta[i];
		for (j = 0; j < k; j++)
			out->cov[ci][col[j]] = sig2 * a[i * k + j] * d[i] *
			    d[j] / f;
		out->se[ci] = sqrt(out->cov[ci][ci]);
	}
	out->sigma = sqrt(sig2);
	out->r2 = tss > 0 ? 1 - rss / tss : NAN;
	return 0;
}

double
wls_last(const struct wls *s)
{
	return s->t_last;
}

int
wls_fit_cached(struct wls *s, double t, struct wlsfit *out)
{
	double f;
	int i, j;

	if (!s->cached) {
		s->cache_rc = wls_fit(s, s->t_last, &s->cache);
		s->cached = 1;
	}
	f = wls_factor(s, t);
	/* Failures and near-empty states take the exact path. */
	if (s->cache_rc < 0 || !(s->sw2 * (f * f) >= WLS_EMPTY))
		return wls_fit(s, t, out);
	*out = s->cache;
	out->sum_w = s->sw * f;
	for (i = 0; i < s->p; i++) {
		if (!out->active[i])
			continue;
		for (j = 0; j < s->p; j++)
			if (out->active[j])
				out->cov[i][j] = s->cache.cov[i][j] / f;
		out->se[i] = sqrt(out->cov[i][i]);
	}
	return 0;
}

double
wls_predict(const struct wlsfit *fit, const double *x)
{
	double v = 0;
	int i;

	for (i = 0; i < WLS_MAXP; i++)
		if (fit->active[i])
			v += x[i] * fit->beta[i];
	return v;
}

double
wls_predict_se(const struct wlsfit *fit, const double *x)
{
	double v = 0;
	int i, j, any = 0;

	for (i = 0; i < WLS_MAXP; i++) {
		if (!fit->active[i])
			continue;
		any = 1;
		for (j = 0; j < WLS_MAXP; j++)
			if (fit->active[j])
				v += x[i] * fit->cov[i][j] * x[j];
	}
	return any ? sqrt(fmax(v, 0)) : NAN;
}

static unsigned char *
put_u32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		*p++ = v >> (8 * i) & 0xff;
	return p;
}

static unsigned char *
put_f64(unsigned char *p, double d)
{
	uint64_t v;
	int i;

	memcpy(&v, &d, sizeof(v));
	for (i = 0; i < 8; i++)
		*p++ = v >> (8 * i) & 0xff;
	return p;
}

static uint32_t
get_u32(const unsigned char **pp)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)*(*pp)++ << (8 * i);
	return v;
}

static double
get_f64(const unsigned char **pp)
{
	uint64_t v = 0;
	double d;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)*(*pp)++ << (8 * i);
	memcpy(&d, &v, sizeof(d));
	return d;
}

/*
 * olsw image: "cvolsw1\0", window and count as uint32, then count
 * pairs x, y oldest first.
 */
size_t
olsw_image_size(const struct olsw *w)
{
	return OLSW_HEAD + 16 * (size_t)w->count;
}

void
olsw_image(const struct olsw *w, void *buf)
{
	unsigned char *p = buf;
	int i, first = olsw_first(w);

	memcpy(p, olsw_magic, 8);
	p = put_u32(p + 8, w->window);
	p = put_u32(p, w->count);
	for (i = 0; i < w->count; i++) {
		p = put_f64(p, w->x[first + i]);
		p = put_f64(p, w->y[first + i]);
	}
}

struct olsw *
olsw_from_image(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	struct olsw *w;
	uint32_t window, count, i;
	double x, y;

	if (buf == NULL || len < OLSW_HEAD || memcmp(p, olsw_magic, 8) != 0)
		return NULL;
	p += 8;
	window = get_u32(&p);
	count = get_u32(&p);
	if (window < 1 || window > OLSW_MAXWINDOW || count > window ||
	    len != OLSW_HEAD + 16 * (size_t)count)
		return NULL;
	w = olsw_new(window);
	for (i = 0; i < count; i++) {
		x = get_f64(&p);
		y = get_f64(&p);
		if (olsw_push(w, x, y) != 0) {
			olsw_free(w);
			return NULL;
		}
	}
	return w;
}

/*
 * wls image: "cvwls1\0\0", p and a zero as uint32, then half_life,
 * t_last, sum w, sum w^2, sum w y, sum w y^2, b[0..p-1] and the upper
 * triangle of S by rows.
 */
size_t
wls_image_size(const struct wls *s)
{
	return WLS_HEAD + 8 * (size_t)WLS_NDOUBLES(s->p);
}

void
wls_image(const struct wls *s, void *buf)
{
	unsigned char *p = buf;
	int i, j;

	memcpy(p, wls_magic, 8);
	p = put_u32(p + 8, s->p);
	p = put_u32(p, 0);
	p = put_f64(p, s->half_life);
	p = put_f64(p, s->t_last);
	p = put_f64(p, s->sw);
	p = put_f64(p, s->sw2);
	p = put_f64(p, s->swy);
	p = put_f64(p, s->swy2);
	for (i = 0; i < s->p; i++)
		p = put_f64(p, s->b[i]);
	for (i = 0; i < s->p; i++)
		for (j = i; j < s->p; j++)
			p = put_f64(p, s->S[i][j]);
}

struct wls *
wls_from_image(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	struct wls *s;
	uint32_t np;
	int i, j, ok;

	if (buf == NULL || len < WLS_HEAD || memcmp(p, wls_magic, 8) != 0)
		return NULL;
	p += 8;
	np = get_u32(&p);
	if (np < 1 || np > WLS_MAXP || get_u32(&p) != 0 ||
	    len != WLS_HEAD + 8 * (size_t)WLS_NDOUBLES(np))
		return NULL;
	s = wls_new(np, 0);
	s->half_life = get_f64(&p);
	s->t_last = get_f64(&p);
	s->sw = get_f64(&p);
	s->sw2 = get_f64(&p);
	s->swy = get_f64(&p);
	s->swy2 = get_f64(&p);
	ok = s->half_life >= 0 && !isnan(s->half_life) &&
	    (isfinite(s->t_last) || s->t_last == -INFINITY) &&
	    isfinite(s->sw) && s->sw >= 0 && isfinite(s->sw2) &&
	    s->sw2 >= 0 && isfinite(s->swy) && isfinite(s->swy2) &&
	    s->swy2 >= 0;
	for (i = 0; i < s->p; i++) {
		s->b[i] = get_f64(&p);
		ok = ok && isfinite(s->b[i]);
	}
	for (i = 0; i < s->p; i++)
		for (j = i; j < s->p; j++) {
			s->S[i][j] = get_f64(&p);
			ok = ok && isfinite(s->S[i][j]) &&
			    (i != j || s->S[i][j] >= 0);
		}
	if (!ok) {
		wls_free(s);
		return NULL;
	}
	return s;
}
