/* valid.c: one rule per kind of field (see valid.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeparse.h"
#include "lib/util.h"
#include "lib/valid.h"

enum kind {
	K_ANY,		/* ints and longs not below, booleans */
	K_FINITE,	/* a double of no other kind */
	K_POSITIVE,
	K_NONNEG,
	K_UNIT,
	K_MODEL_YEAR,
	K_TEXT
};

/* The kinds by field name; a double not here is K_FINITE. */
static const struct {
	const char	*name;
	enum kind	 kind;
} kinds[] = {
	{ "age_months", K_NONNEG },
	{ "cohort_n", K_NONNEG },
	{ "comps_n", K_NONNEG },
	{ "condition", K_UNIT },
	{ "condition_coef_se", K_NONNEG },
	{ "days_supply", K_NONNEG },
	{ "decay_n", K_NONNEG },
	{ "decay_rate_se", K_NONNEG },
	{ "decay_sigma", K_NONNEG },
	{ "elasticity_n", K_NONNEG },
	{ "elasticity_se", K_NONNEG },
	{ "ewma", K_POSITIVE },
	{ "index_value", K_POSITIVE },
	{ "interval", K_UNIT },
	{ "loan_balance", K_NONNEG },
	{ "ltv", K_NONNEG },
	{ "mileage_km", K_NONNEG },
	{ "mileage_slope_se", K_NONNEG },
	{ "model_year", K_MODEL_YEAR },
	{ "mpi", K_POSITIVE },
	{ "naive_value", K_POSITIVE },
	{ "prev_mpi", K_POSITIVE },
	{ "prev_value", K_POSITIVE },
	{ "price", K_POSITIVE },
	{ "price_level", K_POSITIVE },
	{ "price_level_lse", K_NONNEG },
	{ "reference_value", K_POSITIVE },
	{ "region_n", K_NONNEG },
	{ "segment_last_mpi", K_POSITIVE },
	{ "segment_last_price", K_POSITIVE },
	{ "tier3_streak", K_NONNEG },
	{ "value", K_POSITIVE },
	{ "value_hi", K_POSITIVE },
	{ "value_lo", K_POSITIVE },
	{ "value_next", K_POSITIVE },
	{ "volatility", K_NONNEG },
	{ "volume", K_POSITIVE },
};

/* A field to check, and how. */
struct rule {
	const char	*name;
	int		 type, pos;
	enum kind	 kind;
};

struct valid {
	struct rule	*f;
	int		 n;
	int		 observed;	/* index of observed_at, or -1 */
};

static char why_buf[512];

static enum kind
kind_of(const char *name, int type)
{
	size_t i;

	if (type == 's' || type == 'S')
		return K_TEXT;
	for (i = 0; i < NELEM(kinds); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return kinds[i].kind;
	return type == 'd' || type == 'D' ? K_FINITE : K_ANY;
}

struct valid *
valid_new(const struct field *fields, const int *pos, int n)
{
	struct valid *v = ecalloc(1, sizeof(*v));
	int i;

	v->f = ecalloc((size_t)n, sizeof(*v->f));
	v->n = n;
	v->observed = -1;
	for (i = 0; i < n; i++) {
		v->f[i].name = fields[i].name;
		v->f[i].type = fields[i].type;
		v->f[i].pos = pos[i];
		v->f[i].kind = kind_of(fields[i].name, fields[i].type);
		if (strcmp(fields[i].name, "observed_at") == 0 &&
		    fields[i].type == 'l')
			v->observed = i;
	}
	return v;
}

void
valid_free(struct valid *v)
{
	if (v == NULL)
		return;
	free(v->f);
	free(v);
}

static int
fail(const char *name, const char *what, double x)
{
	if (isnan(x))
		snprintf(why_buf, sizeof(why_buf), "%s: %s", name, what);
	else
		snprintf(why_buf, sizeof(why_buf), "%s: %.17g is not %s", name,
		    x, what);
	return -1;
}

/* The rule of kind k for x (not NaN). */
static int
check_kind(const char *name, enum kind k, double x)
{
	if (k == K_POSITIVE && !(x > 0 && isfinite(x)))
		return fail(name, "a positive number", x);
	if (k == K_NONNEG && !(x >= 0 && isfinite(x)))
		return fail(name, "a number of 0 or more", x);
	if (k == K_UNIT && !(x >= 0 && x <= 1))
		return fail(name, "a number from 0 to 1", x);
	if (!isfinite(x))
		return fail(name, "a finite number", x);
	return 0;
}

int
valid_number(const char *name, double x, const char **why)
{
	*why = why_buf;
	if (isnan(x))
		return fail(name, "NaN", NAN);
	return check_kind(name, kind_of(name, 'd'), x);
}

int
valid_model_year(int64_t year, int64_t observed_ms, const char **why)
{
	int y = 2200;
	unsigned m, d;

	*why = why_buf;
	if (observed_ms != INT64_MIN) {
		civil_from_days((int32_t)(observed_ms / 86400000 -
		    (observed_ms % 86400000 < 0)), &y, &m, &d);
		y++;
	}
	if (year < 1900 || year > y) {
		snprintf(why_buf, sizeof(why_buf), "model_year: %lld is not "
		    "a year from 1900 to %d", (long long)year, y);
		return -1;
	}
	return 0;
}

int
valid_check(const struct valid *v, const struct view *vw, const char **why)
{
	const struct rule *f;
	double x;
	int i;

	*why = why_buf;
	for (i = 0; i < v->n; i++) {
		f = &v->f[i];
		switch (f->type) {
		case 'D':
			if (view_is_null(vw, f->pos))
				continue;
			if (view_opt_nan(vw, f->pos))
				return fail(f->name, "NaN", NAN), i;
			x = view_opt_double(vw, f->pos);
			break;
		case 'd':
			x = view_double(vw, f->pos);
			if (isnan(x))
				return fail(f->name, "NaN", NAN), i;
			break;
		case 's':
		case 'S':
			if (view_text_len(vw, f->pos, f->type == 'S') >
			    VALID_MAXKEY) {
				snprintf(why_buf, sizeof(why_buf), "%s: longer "
				    "than %d bytes", f->name, VALID_MAXKEY);
				return i;
			}
			continue;
		case 'i':
		case 'l':
			if (f->kind == K_MODEL_YEAR) {
				if (valid_model_year(view_long(vw, f->pos),
				    v->observed < 0 ? INT64_MIN :
				    view_long(vw, v->f[v->observed].pos),
				    why) < 0)
					return i;
				continue;
			}
			if (f->kind != K_NONNEG)
				continue;
			x = (double)view_long(vw, f->pos);
			break;
		default:
			continue;
		}
		if (check_kind(f->name, f->kind, x) < 0)
			return i;
	}
	return -1;
}
