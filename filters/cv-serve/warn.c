/*
 * cv-serve: cv-warn's code as the filter runs it, its main renamed.
 * Each request is a loan of its own: no earlier light, no hysteresis
 * from one request to the next.
 */
#define main	cv_warn_main
int	cv_warn_main(int, char **);
#include "cv-warn.c"
#undef main

#include "cv-serve/serve.h"

/* The slots and message light_one() fills, kept with the warner. */
static struct slot sl[A_COUNT];
static const char *reasons[8];
static struct buf msg;

struct warner *
wstage_open(const char *config)
{
	struct warner *w = ecalloc(1, sizeof(*w));

	if (config != NULL)
		config_load(config, light_settings, light_nsettings);
	light_check();
	w->lights = map_new();
	warner_setup(w);
	return w;
}

void
wstage_close(struct warner *w)
{
	if (w == NULL)
		return;
	warner_free(w);
	free(w);
	buf_free(&msg);
}

int
wstage_run(struct warner *w, const char *enc, size_t len, struct sink *out)
{
	struct view v;
	struct rec r;
	const char *why;
	int rc;

	if (view_parse(&v, reader_walker(w->in), enc, len, &why) < 0)
		errx(1, "request: graded: %s", why);
	serve_rec(&r, enc, len);
	rc = warn_record(w, &r, &v, out, sl, reasons, &msg);
	if (map_count(w->lights) > 0) {
		map_free(w->lights, free);
		w->lights = map_new();
	}
	return rc;
}
