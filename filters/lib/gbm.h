/*
 * gbm.h: the boosted trees, a learner of another family than the pooled
 * model's sums of effects: XGBoost (its C API, Debian's libxgboost-dev)
 * fitted by cv-train and evaluated by cv-predict.
 *
 * It models ln price with ln pooled_value as its base margin: the trees
 * learn what the pooled model leaves, from the features below, all of
 * which cv-features computed from earlier sales only.  The model's bytes
 * (XGBoost's JSON) are stored in the model store with these terms as its
 * feature list.
 */
#ifndef CV_GBM_H
#define CV_GBM_H

#include <stddef.h>

#include "lib/field.h"

#define GBM_NTERMS	12
extern const char *const gbm_terms[GBM_NTERMS];

struct view;

/* The Features fields a row is made of (lib/field.h). */
#define GBM_NFIELDS	12
extern const struct field gbm_fields[GBM_NFIELDS];

/*
 * A Features record's terms (NAN where missing or not finite, as
 * XGBoost takes it) and margin (ln pooled_value), pos[] being the
 * positions of gbm_fields; -1 if it has no pooled_value.
 */
int	gbm_row(const struct view *, const int *pos, float *x, float *margin);

struct gbm;

/*
 * Fit on n rows (x: n x GBM_NTERMS, row-major) to y = ln price; the
 * model's bytes into *bytes (malloc'd), their length into *len.  -1 with
 * XGBoost's message in err if it failed.
 */
int	 gbm_fit(const float *x, const float *y, const float *margin,
	    size_t n, unsigned char **bytes, size_t *len, char *err,
	    size_t errlen);
/* A model from its bytes; NULL with the message in err if damaged. */
struct gbm *gbm_load(const unsigned char *bytes, size_t len, char *err,
	    size_t errlen);
/* ln price of n rows into out; -1 with the message in err. */
int	 gbm_predict(struct gbm *, const float *x, const float *margin,
	    size_t n, double *out, char *err, size_t errlen);
void	 gbm_free(struct gbm *);

#endif
