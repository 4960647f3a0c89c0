/*
 * valid.h: what a field's value may be.  One rule per kind of field, the
 * kind known from the field's name (every record type extends the one
 * before it, so a name means one thing in all of them), shared by every
 * stage: a value that cannot mean anything (an infinite price, a negative
 * balance, a model year 99999, a key too long to keep) is rejected
 * wherever it enters, naming the field and why.
 *
 *	price, value, mpi, ...		a positive finite number
 *	loan_balance, mileage_km, ...	a finite number, 0 or more
 *	condition, interval		0 to 1
 *	model_year			1900 to the sighting's year + 1
 *	any other double		finite (null is "not known", NaN bad)
 *	text				at most VALID_MAXKEY bytes
 */
#ifndef CV_VALID_H
#define CV_VALID_H

#include <stdint.h>

#include "lib/field.h"
#include "lib/view.h"

#define VALID_MAXKEY	VIEW_MAXKEY

struct valid;

/*
 * The rules for the fields fields[0..n) (lib/field.h), found at pos[i]
 * in the views to check.  The arrays are copied (not the names).
 */
struct valid	*valid_new(const struct field *fields, const int *pos, int n);
void		 valid_free(struct valid *);

/*
 * The first field of v that breaks its rule: its index in fields, with
 * *why saying so ("price: -5 is not a positive number"; valid until the
 * next call), or -1.
 */
int		 valid_check(const struct valid *, const struct view *v,
		    const char **why);

/*
 * The rule for one number of the field called name (for values not in a
 * view, as cv-ingest's): 0, or -1 with *why as above.
 */
int		 valid_number(const char *name, double x, const char **why);
/* A model year seen at observed_ms (ms since 1970): 0, or -1 and *why. */
int		 valid_model_year(int64_t year, int64_t observed_ms,
		    const char **why);

#endif
