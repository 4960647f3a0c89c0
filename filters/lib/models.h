/*
 * models.h: the valuation model store (sqlite) and the terms of each
 * model kind, shared by cv-train, which writes versions, and cv-predict,
 * which reads them.
 *
 * A version is what one cv-train run wrote: several models, each a kind
 * (hedonic, calibration, blend, gbm, seed) and a class ("*", or a decay level for
 * calibration), with named terms, coefficients, their covariance and the
 * fit's statistics.  Versions are numbered 1, 2, ... and never changed.
 */
#ifndef CV_MODELS_H
#define CV_MODELS_H

#include <stdint.h>

#include <sqlite3.h>

#define MODEL_MAXTERMS	24

/* Bytes of a class name, with its NUL. */
#define MODEL_CLASS_LEN 32

struct model {
	char	 kind[16];
	char	 class[MODEL_CLASS_LEN];
	char	 method[16];		/* ols, huber, ... */
	int	 nterms;
	char	 terms[MODEL_MAXTERMS][24];
	double	 coef[MODEL_MAXTERMS];
	double	 cov[MODEL_MAXTERMS * MODEL_MAXTERMS];	/* row-major */
	int64_t	 n;
	double	 r2, rmse, mdape;
	/* A learner's own encoding (gbm: XGBoost's JSON), else NULL;
	 * freed by version_free. */
	unsigned char *bytes;
	size_t	 nbytes;
};

struct version {
	int		 version;
	int64_t		 trained_at;		/* unix ms */
	int64_t		 data_from, data_to;	/* observed_at, ms */
	int64_t		 rows;
	char		*input;
	int		 nmodels;
	struct model	*models;
};

/* Open (creating) a store to write, or an existing one to read only;
 * exits with a message naming path on error. */
sqlite3		*models_open(const char *path);
sqlite3		*models_open_readonly(const char *path);
/*
 * Load version v (0: the latest that has a model of this kind) into
 * *out; -1 if the store has no such version.  models_load_all: every
 * version with a model of this kind, oldest first, into *out (freed with
 * versions_free); returns their number.
 */
int		 models_load(sqlite3 *, int v, const char *kind,
		    struct version *out);
int		 models_load_all(sqlite3 *, const char *kind,
		    struct version **out);
void		 version_free(struct version *);
void		 versions_free(struct version *, int n);
/* Write ver as the next version (ver->version is set); one transaction. */
void		 models_save(sqlite3 *, struct version *ver);
/* The model of a kind and class in a version, or NULL. */
const struct model *version_model(const struct version *, const char *kind,
		    const char *class);

/*
 * The hedonic model's global adjustment: ln(price / base) as a sum of
 * these terms (hinges in condition, age and mileage, which the
 * segments' straight lines miss), base being the features' fitted price
 * moved by the cohort and region offsets.
 */
#define HEDONIC_NTERMS	20
extern const char *const hedonic_terms[HEDONIC_NTERMS];
/* The terms' values; condition and km may be NAN (missing). */
void		 hedonic_x(double *x, double condition, double age_months,
		    double km);

/* The seed model: price = a V + b MPI + c H + d lambda + e. */
#define SEED_NTERMS	5
extern const char *const seed_terms[SEED_NTERMS];

/*
 * The calibration class of a pooled value: "pooled" and the density of
 * its model (earlier sales: 0, 1-4, 5-19, 20+), since a model never seen
 * is valued far less surely than one seen a hundred times.
 */
void	 pooled_class(char *, size_t, double model_n);
void		 seed_x(double *x, double value, double mpi, double condition,
		    double elasticity);

/* Check that a stored model has exactly these terms; exits if not. */
void		 model_check_terms(const struct model *, int version,
		    const char *const *terms, int n);

#endif
