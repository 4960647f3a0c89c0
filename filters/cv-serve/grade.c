/*
 * cv-serve: cv-grade's code as the filter runs it, its main renamed.
 * Each request is a vehicle of its own: its streaks start empty, as in
 * a cv-grade run over that one record.
 */
#define main	cv_grade_main
int	cv_grade_main(int, char **);
#include "cv-grade.c"
#undef main

#include "cv-serve/serve.h"

struct grader *
gstage_open(const char *config, const char *reference)
{
	struct grader *g = ecalloc(1, sizeof(*g));

	if (config != NULL)
		config_load(config, settings, NELEM(settings));
	check_settings();
	grader_setup(g, reference);
	return g;
}

void
gstage_close(struct grader *g)
{
	if (g == NULL)
		return;
	grader_free(g);
	free(g);
}

int
gstage_run(struct grader *g, const char *enc, size_t len, struct sink *out)
{
	struct view v;
	struct rec r;
	const char *why;
	int rc;

	if (view_parse(&v, reader_walker(g->in), enc, len, &why) < 0)
		errx(1, "request: valuation: %s", why);
	serve_rec(&r, enc, len);
	rc = grade_record(g, &r, &v, out);
	if (map_count(g->streaks) > 0) {
		map_free(g->streaks, free);
		g->streaks = map_new();
	}
	return rc;
}
