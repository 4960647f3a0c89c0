/*
 * lights.h: the rules that light a loan GREEN, YELLOW or RED, shared by
 * cv-warn (which lights each snapshot) and cv-stress (which lights the
 * book again under market scenarios): the settings pipelines/warn.conf
 * documents, and the level of one criterion against its two thresholds.
 */
#ifndef CV_LIGHTS_H
#define CV_LIGHTS_H

#include "lib/config.h"

enum light { GREEN, YELLOW, RED };
extern const char *const light_names[3];

struct light_rules {
	double	ltv_yellow, ltv_red, ltv_margin;
	double	drop_yellow, drop_red, drop_margin;
	double	watch_light, grade_light;
	double	thin_comps, thin_light;
};
/* The settings in force: the defaults until config_*() set them. */
extern struct light_rules light_rules;
extern const struct setting light_settings[];
extern const int light_nsettings;

/*
 * Exit 2 if the settings cannot go together (a yellow threshold above its
 * red one, an ltv.hysteresis that would keep a loan up for good), naming
 * where each was set.  config_*() checks each alone.
 */
void	light_check(void);

/*
 * The level (GREEN, YELLOW, RED) of x against two thresholds: above red
 * RED, above yellow YELLOW; a loan already at a level (was) keeps it while
 * x is above its threshold less the margin.  was GREEN: no hysteresis.
 */
int	light_level(double x, double yellow, double red, double margin,
	    int was);

#endif
