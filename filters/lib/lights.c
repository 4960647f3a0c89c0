/* lights.c: the light rules and their settings (see lights.h). */
#include <err.h>

#include "lib/lights.h"
#include "lib/util.h"

const char *const light_names[3] = { "GREEN", "YELLOW", "RED" };

struct light_rules light_rules = {
	.ltv_yellow = 0.80, .ltv_red = 0.90, .ltv_margin = 0.02,
	.drop_yellow = 0.05, .drop_red = 0.10, .drop_margin = 0.01,
	.watch_light = YELLOW, .grade_light = YELLOW,
	.thin_comps = 10, .thin_light = YELLOW,
};

const struct setting light_settings[] = {
	{ "ltv.yellow", &light_rules.ltv_yellow, 0, 100, "loan to value "
	    "above which a loan is at least YELLOW", 0 },
	{ "ltv.red", &light_rules.ltv_red, 0, 100, "loan to value above "
	    "which it is RED", 0 },
	{ "ltv.hysteresis", &light_rules.ltv_margin, 0, 100, "how far below "
	    "a threshold the ltv must fall before a loan above it comes "
	    "down", 0 },
	{ "drop.yellow", &light_rules.drop_yellow, 0, 1, "predicted fall of "
	    "the value in a month (1 - value_next / value) above which at "
	    "least YELLOW", 0 },
	{ "drop.red", &light_rules.drop_red, 0, 1, "predicted fall above "
	    "which RED", 0 },
	{ "drop.hysteresis", &light_rules.drop_margin, 0, 1, "the same "
	    "margin for the predicted fall", 0 },
	{ "watch.light", &light_rules.watch_light, 0, 2, "light at least, "
	    "for a vehicle on the watch list (0 GREEN, 1 YELLOW, 2 RED)", 1 },
	{ "grade.light", &light_rules.grade_light, 0, 2, "light at least, "
	    "for grade 3-3", 1 },
	{ "thin.comps", &light_rules.thin_comps, 0, 1e12, "effective "
	    "comparables below which a valuation is thin data", 0 },
	{ "thin.light", &light_rules.thin_light, 0, 2, "light at least, for "
	    "thin data or no value", 1 },
};
const int light_nsettings = (int)NELEM(light_settings);

void
light_check(void)
{
	const struct light_rules *r = &light_rules;

	if (r->ltv_yellow > r->ltv_red)
		errx(2, "%s: ltv.yellow %g is above ltv.red %g (%s)",
		    config_where(&r->ltv_yellow), r->ltv_yellow, r->ltv_red,
		    config_where(&r->ltv_red));
	if (r->drop_yellow > r->drop_red)
		errx(2, "%s: drop.yellow %g is above drop.red %g (%s)",
		    config_where(&r->drop_yellow), r->drop_yellow, r->drop_red,
		    config_where(&r->drop_red));
	/* An ltv is never below 0: a loan above would never come down. */
	if (r->ltv_margin >= r->ltv_yellow)
		errx(2, "%s: ltv.hysteresis %g is not below ltv.yellow %g "
		    "(%s): a loan above it would never come down",
		    config_where(&r->ltv_margin), r->ltv_margin, r->ltv_yellow,
		    config_where(&r->ltv_yellow));
}

int
light_level(double x, double yellow, double red, double margin, int was)
{
	if (x > red || (was >= RED && x > red - margin))
		return RED;
	if (x > yellow || (was >= YELLOW && x > yellow - margin))
		return YELLOW;
	return GREEN;
}
