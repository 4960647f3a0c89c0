/*
 * stat.h: the fits behind cv-features, done with GSL.
 *
 * olsw: simple regression of y on x over the last `window` points
 * pushed (elasticity: ln index on ln volume, one point a month).
 *
 * wls: weighted least squares on p regressors with exponential
 * forgetting in time (depreciation: ln price on a constant, age,
 * mileage, condition, ...), kept as decaying sufficient statistics
 * rather than a list of observations.
 *
 * Both can be saved as byte images and restored bit for bit, so a
 * restarted filter continues with identical numbers.  The images are
 * little-endian whatever the machine.
 *
 * The program must call gsl_set_error_handler_off() before any fit:
 * nothing here may abort, and every GSL status is checked.
 */
#ifndef CV_STAT_H
#define CV_STAT_H

#include <stddef.h>

#define OLSW_MAXWINDOW	(1 << 20)
#define WLS_MAXP	8

/*
 * Rolling simple regression.  olsw_new() takes 1 <= window <=
 * OLSW_MAXWINDOW (anything else is a bug and exits); olsw_free(NULL)
 * is a no-op.
 */
struct olsw;
struct olsw	*olsw_new(int window);
void		 olsw_free(struct olsw *);

/*
 * Add a point, dropping the oldest when the window is full.  Return 0,
 * or -1 and leave the window alone when x or y is not finite (ln 0, a
 * NaN), so that one bad point cannot spoil the next `window` fits.
 */
int		 olsw_push(struct olsw *, double x, double y);
int		 olsw_count(const struct olsw *);

struct olsfit {
	double	slope, slope_se, intercept, r2;
	int	n;
};

/*
 * Fit the points in the window, oldest first, with gsl_fit_linear().
 * slope_se is sqrt(cov11) as GSL gives it: residual variance on n - 2
 * degrees of freedom over Sxx.  r2 = 1 - RSS/TSS, NAN when y is
 * constant (TSS = 0).  Return 0, or -1 and leave *out alone when n < 3
 * or x has no spread (all equal to within rounding).
 */
int		 olsw_fit(const struct olsw *, struct olsfit *out);

/*
 * Exponentially forgetting weighted least squares on p regressors,
 * 1 <= p <= WLS_MAXP (anything else is a bug and exits).  half_life is
 * in the units of t; <= 0 (or NaN) means no forgetting.
 * wls_free(NULL) is a no-op.
 */
struct wls;
struct wls	*wls_new(int p, double half_life);
void		 wls_free(struct wls *);

/*
 * Decay every statistic to time t (weights multiply by
 * 2^(-(t - t_last) / half_life)), then add the point x[0..p-1], y with
 * weight w (usually 1; weights are relative and should be of order
 * one).  A t before the latest t seen does not decay: the point counts
 * as if it came at that latest time.  Return 0, or -1 and change
 * nothing when t, y or an x is not finite or w is negative or not
 * finite.
 *
 * When the decayed weights are all below about 1e-150 (sum of squared
 * weights under 1e-300) the state is emptied: such points could not
 * move a fit against a single fresh one, and letting them sink through
 * the denormals would only cost time.
 */
int		 wls_add(struct wls *, double t, const double *x, double y,
		    double w);

struct wlsfit {
	double	beta[WLS_MAXP];
	double	se[WLS_MAXP];		/* NAN for inactive columns */
	double	cov[WLS_MAXP][WLS_MAXP]; /* of beta; NAN if inactive */
	int	active[WLS_MAXP];	/* 0: (almost) no weight, beta 0 */
	double	sigma;		/* weighted residual sd, dof n_eff - p_active */
	double	r2;		/* weighted, around the weighted mean */
	double	n_eff;		/* (sum w)^2 / sum w^2 at time t */
	double	sum_w;		/* sum w at time t */
};

/*
 * Fit as of time t (the statistics decayed to t; the state does not
 * change).  A column is inactive when its weighted mean square,
 * sum w x_j^2 / sum w, is below 1e-12 (an indicator never set, or set
 * only by points forgotten long ago); regressors are expected to be of
 * order one, as mileage in units of 1e4 km is.  The active columns are
 * solved by Cholesky on the normal equations, scaled to unit diagonal;
 * when that fails or its reciprocal condition number is below 1e-8, by
 * SVD, and a ratio of singular values below 1e-12 means singular
 * (collinear columns, such as an indicator that is always set beside
 * the constant).
 *
 * Standard errors: cov = sigma^2 (X'WX)^-1, with
 * sigma^2 = (sum w r^2 / sum w) * n_eff / (n_eff - p_active).  That is
 * the textbook formula for frequency weights (with all weights 1 it is
 * plain OLS, RSS / (n - p)), except that the degrees of freedom come
 * from n_eff rather than sum w.  sigma does not depend on the scale of
 * the weights, but cov does: it grows as 1 / sum w, so a fit evaluated
 * later with no new data reports larger errors, as its information has
 * aged.  Beware that for a steady stream n_eff is about twice sum w,
 * and under homoscedastic errors the sandwich variance of the
 * estimator is about (sum w / n_eff) times this one: these errors are
 * conservative by roughly sqrt 2.
 *
 * Return 0, or -1 when there is no active column, n_eff < p_active + 1
 * or the system is singular.  On -1, *out still holds n_eff and sum_w;
 * beta is 0, the rest NAN and every column inactive.
 */
int		 wls_fit(const struct wls *, double t, struct wlsfit *out);

/* x . beta over the active columns (x has p elements). */
/*
 * As wls_fit, solving again only after wls_add: between points a fit only
 * moves in time by the decay factor (beta, sigma, r2 and n_eff do not
 * change; cov grows as 1/factor), which is applied to the cached solve.
 * Gives the same numbers as wls_fit, bit for bit.
 */
int		 wls_fit_cached(struct wls *, double t, struct wlsfit *out);
/* The time of the last point added (-INFINITY before the first). */
double		 wls_last(const struct wls *);
double		 wls_predict(const struct wlsfit *, const double *x);

/*
 * Standard error of x . beta, sqrt(x' cov x) over the active columns:
 * the uncertainty of the fitted mean, not of a single new observation
 * (add sigma^2 for that).
 */
double		 wls_predict_se(const struct wlsfit *, const double *x);

/*
 * Byte images for restarts.  *_image() writes *_image_size() bytes to
 * buf; *_from_image() returns a new object, or NULL when the len bytes
 * at buf are not exactly one valid image.
 */
size_t		 olsw_image_size(const struct olsw *);
void		 olsw_image(const struct olsw *, void *buf);
struct olsw	*olsw_from_image(const void *buf, size_t len);
size_t		 wls_image_size(const struct wls *);
void		 wls_image(const struct wls *, void *buf);
struct wls	*wls_from_image(const void *buf, size_t len);

#endif
