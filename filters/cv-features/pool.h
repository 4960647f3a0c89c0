/*
 * cv-features: the pooled valuation model.  ln(price / index) of every
 * sale learned is a smooth curve in age, mileage and condition plus
 * crossed random effects: make, model, trim, the VIN's first 8 characters
 * and with its model-year character, the model year alone and within
 * make, model and trim, body, transmission, seller and its kind, region,
 * colour, interior and the week of sale, and per make and model slopes
 * of age and mileage.  Each effect is shrunk towards 0 (its parent's
 * value, since the effects add up: a model is its make moved by what its
 * own sales say) with a strength per group, so a model with 3 sales is
 * its make plus a third or so of its own deviation (partial pooling).
 *
 * The fit minimises the Huber loss (threshold POOL_DELTA in ln units:
 * the error judged is a median) weighted by recency (half-life
 * POOL_HALF_LIFE days) plus the ridge penalties, by backfitting (block
 * Gauss-Seidel, each group's levels in closed form) warm-started from the
 * previous fit.  It is refitted when enough new sales have been learned,
 * from the sales learned so far only: what it serves a sale never knew
 * of that sale or any later one.
 */
#ifndef CV_POOL_H
#define CV_POOL_H

#include <stdint.h>

#include "lib/map.h"
#include "lib/util.h"

/* What identifies a vehicle to the pool, each a level's key or NULL. */
enum {
	PK_MAKE, PK_MODEL, PK_TRIM, PK_VIN8, PK_SQUISH, PK_YEAR,
	PK_MAKE_YEAR, PK_MODEL_YEAR, PK_TRIM_YEAR, PK_BODY, PK_TRANSMISSION,
	PK_SELLER, PK_SELLER_KIND, PK_REGION, PK_COLOUR, PK_INTERIOR,
	PK_WEEK, PK_COUNT
};

/* Covariates an effect multiplies: 1 (a level), or a slope's. */
enum { PZ_ONE, PZ_AGE, PZ_KM, PZ_COND };

struct pool_group {
	const char	*name;
	int		 key;		/* PK_* */
	int		 z;		/* PZ_* */
	double		 prior;		/* ridge strength, in weighted sales */
};

#define POOL_NGROUPS	25
extern const struct pool_group pool_groups[POOL_NGROUPS];

#define POOL_NCURVE	12	/* terms of the curve, see curve_x() */

struct pool_vehicle {
	const char	*key[PK_COUNT];
	double		 t_days;
	double		 age_years;
	double		 km;		/* NAN if unknown */
	double		 cond;		/* NAN if unknown */
};

struct pool_pred {
	double	lny;		/* ln(price / index) */
	double	sd;		/* of a sale's ln price about it */
	double	lny_next;	/* a month on */
	double	weight[3];	/* of make, model, trim: n / (n + prior) */
	double	model_n;	/* sales of the model learned, ever */
	double	stale_days;	/* since the last sale of its model, else
				 * make, else any */
	/* Comparable sales: the latest of its trim and model year, else
	 * model and model year, each adjusted to this vehicle by the
	 * model (its residual now); NAN without any. */
	double	comps_lny, comps_spread;
	int	comps_n;
};

#define POOL_COMPS	8	/* comparable sales, at most */

/* One sale kept for refits. */
struct pool_row {
	double	 y, t_days;
	float	 z[4];		/* PZ_*: 1, age/10, km/1e5, condition */
	float	 x[POOL_NCURVE];
	int32_t	 lv[PK_COUNT];	/* level of each key, -1 if none */
	int64_t	 prev_comp;	/* the sale before of its comps level, by
				 * number (see pool.row_base); -1 none */
	int32_t	 comps_key;	/* PK_TRIM_YEAR or PK_MODEL_YEAR; -1 */
	float	 zres;		/* (y - value served) / sd served; NAN */
};

/* The levels of one key. */
struct pool_key {
	struct map	*index;		/* key text -> level + 1 */
	char		**names;
	double		 *count;	/* sales ever */
	double		 *last_t;	/* days, of the latest */
	int64_t		 *last_row;	/* number of its latest sale, -1 */
	int		  n, cap;
};

struct pool {
	struct pool_key	 keys[PK_COUNT];
	double		*u[POOL_NGROUPS];	/* effects, by level */
	double		*den[POOL_NGROUPS];	/* weighted sum z^2 */
	int		 ucap[POOL_NGROUPS];	/* levels u, den hold */
	double		 prior[POOL_NGROUPS];
	double		 beta[POOL_NCURVE];
	double		 sigma;		/* residual scale of the fit */
	double		 noise;		/* a new sale's, see dof_correction() */
	double		 week_var;
	double		 sd_scale;	/* what the served errors say sd is off
					 * by, see pool_fit() */
	double		 x_lo[POOL_NCURVE], x_hi[POOL_NCURVE];	/* seen */
	double		 fit_t;		/* days: latest sale in the fit */
	int		 fit_week;	/* its week's level, -1 if none */
	int		 fitted;
	struct pool_row	*rows;
	size_t		 nrows, caprows;
	int64_t		 row_base;	/* number of rows[0]: sales pruned */
	size_t		 since_fit;	/* rows learned after the last fit */
	size_t		 next_fit;	/* refit once since_fit reaches this */
	size_t		 refit;		/* sales between refits, at least */
	int64_t		 nfits;
	double		 fit_seconds;
};

struct pool *pool_new(size_t refit);
void	 pool_free(struct pool *);
/* 0 and the prediction, or -1 before the first fit. */
int	 pool_predict(const struct pool *, const struct pool_vehicle *,
	    struct pool_pred *);
/* Learn a sale: y = ln(price / index); lny and sd what was served for
 * it (NAN if nothing), which the served errors' scale is learned from. */
void	 pool_add(struct pool *, const struct pool_vehicle *, double y,
	    double lny, double sd);
/* Refit if enough was learned since the last fit (after an instant). */
void	 pool_tick(struct pool *);
void	 pool_fit(struct pool *);

/* poolstore.c: the pool in the state file */
struct sqlite3;
void	 pool_save(const struct pool *, struct sqlite3 *);
void	 pool_load(struct pool *, struct sqlite3 *, const char *path);

/* pool.c, for poolfit.c and poolstore.c */
void	 pool_curve_x(float *, double, double, double);
void	 pool_grow(struct pool *);
int	 pool_level_new(struct pool *, int, const char *);

#define POOL_HALF_LIFE	60.0	/* days */
#define POOL_DELTA	0.05	/* Huber threshold, ln units */
#define POOL_MAX_ROWS	100000
#define POOL_REFIT	250	/* sales between refits, at least */
#define POOL_FIRST_FIT	100	/* sales before the first fit: fewer say
				 * nothing of a market but their own */
#define POOL_REFIT_SHARE 0.05	/* and this share of the rows kept */
#define POOL_PRUNE_HALF_LIVES 10	/* rows older are dropped */

#endif
