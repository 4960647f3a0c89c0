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
	    "above which a loan is at least YELLOW" },
	{ "ltv.red", &light_rules.ltv_red, 0, 100, "loan to value above "
	    "which it is RED" },
	{ "ltv.hysteresis", &light_rules.ltv_margin, 0, 100, "how far below "
	    "a threshold the ltv must fall before a loan above it comes "
	    "down" },
	{ "drop.yellow", &light_rules.drop_yellow, 0, 1, "predicted fall of "
	    "the value in a month (1 - value_next / value) above which at "
	    "least YELLOW" },
	{ "drop.red", &light_rules.drop_red, 0, 1, "predicted fall above "
	    "which RED" },
	{ "drop.hysteresis", &light_rules.drop_margin, 0, 1, "the same "
	    "margin for the predicted fall" },
	{ "watch.light", &light_rules.watch_light, 0, 2, "light at least, "
	    "for a vehicle on the watch list (0 GREEN, 1 YELLOW, 2 RED)" },
	{ "grade.light", &light_rules.grade_light, 0, 2, "light at least, "
	    "for grade 3-3" },
	{ "thin.comps", &light_rules.thin_comps, 0, 1e12, "effective "
	    "comparables below which a valuation is thin data" },
	{ "thin.light", &light_rules.thin_light, 0, 2, "light at least, for "
	    "thin data or no value" },
};
const int light_nsettings = (int)NELEM(light_settings);

void
light_check(void)
{
	const struct light_rules *r = &light_rules;

	if (r->ltv_yellow > r->ltv_red || r->drop_yellow > r->drop_red)
		errx(2, "settings: a yellow threshold above its red one");
	if (r->watch_light != (int)r->watch_light || r->grade_light !=
	    (int)r->grade_light || r->thin_light != (int)r->thin_light)
		errx(2, "settings: watch.light, grade.light and thin.light "
		    "are 0, 1 or 2");
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
