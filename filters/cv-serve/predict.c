/*
 * cv-serve: cv-predict's code as the filter runs it, its main renamed:
 * a request's features are checked by check_one() and valued by
 * value_checked() with the latest version of the model store, as
 * cv-predict -m does without -P (one record: no batch).
 */
#define main	cv_predict_main
int	cv_predict_main(int, char **);
#include "cv-predict.c"
#undef main

#include "cv-serve/serve.h"

struct predict *
pstage_open(const char *models)
{
	struct predict *p = ecalloc(1, sizeof(*p));

	p->kind = HEDONIC;
	p->interval = 0.9;
	predict_setup(p, models, 0);
	return p;
}

void
pstage_close(struct predict *p)
{
	if (p == NULL)
		return;
	predict_free(p);
	free(p);
}

int
pstage_version(const struct predict *p)
{
	return p->valuers[0].version;
}

int
pstage_run(struct predict *p, const char *enc, size_t len, struct sink *out)
{
	struct view v;
	struct rec r;
	const char *why;

	if (view_parse(&v, reader_walker(p->features), enc, len, &why) < 0)
		errx(1, "request: features: %s", why);
	serve_rec(&r, enc, len);
	if (check_one(p, &r, &v) < 0)
		return -1;
	value_checked(p, &v, out, NAN);
	return 0;
}
