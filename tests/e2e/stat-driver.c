/*
 * stat-driver: lib/stat.h on numbers from stdin, for tests/e2e/stat-numpy.sh
 * to compare with numpy.  Not a filter; built by that script.
 *
 *	stat-driver ols WINDOW		lines "x y"; after each, one line
 *					"n slope slope_se intercept r2",
 *					or "n -" when there is no fit
 *	stat-driver wls P HALF_LIFE	lines "t x1 .. xP y" add a point and
 *					fit at t; lines "fit t" only fit;
 *					each prints "n_eff sum_w sigma r2
 *					beta1 .. betaP se1 .. seP", or "-"
 *
 * Numbers are printed with %.17g.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "lib/stat.h"

static void
put(double v)
{
	printf(" %.17g", v);
}

static void
run_ols(int window)
{
	struct olsw *w = olsw_new(window);
	struct olsfit f;
	double x, y;

	while (scanf("%lf %lf", &x, &y) == 2) {
		if (olsw_push(w, x, y) != 0)
			errx(1, "olsw_push: refused %g %g", x, y);
		printf("%d", olsw_count(w));
		if (olsw_fit(w, &f) == 0) {
			put(f.slope);
			put(f.slope_se);
			put(f.intercept);
			put(f.r2);
		} else
			printf(" -");
		printf("\n");
	}
	olsw_free(w);
}

static void
run_wls(int p, double half_life)
{
	struct wls *s = wls_new(p, half_life);
	struct wlsfit f;
	char word[32];
	double t, x[WLS_MAXP], y;
	int i;

	while (scanf("%31s", word) == 1) {
		if (strcmp(word, "fit") == 0) {
			if (scanf("%lf", &t) != 1)
				errx(1, "fit: no time");
		} else {
			t = strtod(word, NULL);
			for (i = 0; i < p; i++)
				if (scanf("%lf", &x[i]) != 1)
					errx(1, "short line");
			if (scanf("%lf", &y) != 1)
				errx(1, "short line");
			if (wls_add(s, t, x, y, 1) != 0)
				errx(1, "wls_add: refused");
		}
		if (wls_fit(s, t, &f) != 0) {
			printf("-\n");
			continue;
		}
		printf("%.17g", f.n_eff);
		put(f.sum_w);
		put(f.sigma);
		put(f.r2);
		for (i = 0; i < p; i++)
			put(f.beta[i]);
		for (i = 0; i < p; i++)
			put(f.se[i]);
		printf("\n");
	}
	wls_free(s);
}

int
main(int argc, char *argv[])
{
	gsl_set_error_handler_off();
	if (argc == 3 && strcmp(argv[1], "ols") == 0)
		run_ols(atoi(argv[2]));
	else if (argc == 4 && strcmp(argv[1], "wls") == 0)
		run_wls(atoi(argv[2]), strtod(argv[3], NULL));
	else {
		fprintf(stderr, "usage: stat-driver ols window | "
		    "wls p half-life\n");
		return 2;
	}
	return fflush(stdout) != 0 || ferror(stdout);
}
