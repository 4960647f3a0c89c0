/*
 * cv-serve: cv-features' code as the filter runs it, its main renamed:
 * a request is served its features by process(), as a record of the
 * filter's input is.  The state is read from the file read-only and only
 * ever held in memory.
 */
#include <sqlite3.h>

#include "lib/db.h"

#define main	cv_features_main
int	cv_features_main(int, char **);
#include "cv-features/main.c"
#undef main

#include "cv-serve/serve.h"

void
serve_rec(struct rec *r, const char *raw, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->origin = "request";
	r->partition = -1;
	r->seqno = 1;
	r->raw = raw;
	r->rawlen = len;
	r->same_schema = 1;
	r->nfields = -1;
	/* rec_value() is then NULL: there is no source to decode with. */
	r->undecodable = 1;
}

void
fstage_init(void)
{
	gsl_set_error_handler_off();
	codec_init();
}

void
fstage_cleanup(void)
{
	codec_free();
}

struct state *
fstage_open(const char *path)
{
	struct state *st = ecalloc(1, sizeof(*st));
	sqlite3 *db;

	/* cv-features' defaults: the state says if it was made otherwise. */
	st->o.ewma_half_life = 3;
	st->o.window = 24;
	st->o.min_elasticity_n = 12;
	st->o.decay_half_life = 180;
	st->o.min_comps = 20;
	st->o.max_vehicles = 1000000;
	st->o.cohort_prior = 3;
	st->o.region_prior = 20;
	st->o.pool_refit = POOL_REFIT;
	state_init(st);
	if (path != NULL) {
		db = db_open_readonly(path);
		load_state_db(st, db, path);
		db_close(db);
	}
	/* What waits is learned before any later record (requests come
	 * after the state's latest event): once, here. */
	if (st->npend > 0)
		learn_pending(st);
	return st;
}

void
fstage_close(struct state *st)
{
	if (st == NULL)
		return;
	free_state(st);
	free(st);
}

int64_t
fstage_time(const struct state *st)
{
	return st->max_t;
}

int64_t
fstage_sales_time(struct state *st, const char *segment, const char *region,
    const char *level)
{
	struct lookup *lk;
	double t;
	int i;

	if (level == NULL || strlen(segment) > MAX_SEGMENT ||
	    strlen(region) >= 64)
		return INT64_MIN;
	lk = find_index(st, segment, region);
	for (i = 0; i < lk->nl; i++)
		if (strcmp(lk->lv[i].name, level) == 0 && lk->dk[i] != NULL) {
			t = wls_last(lk->dk[i]->wls);
			return isfinite(t) ? (int64_t)(t * MS_PER_DAY) :
			    INT64_MIN;
		}
	return INT64_MIN;
}

int
fstage_knows(const struct state *st, const char *key)
{
	return map_get(st->decay, key) != NULL;
}

/*
 * Serving a sighting ages its cohort's and region's offsets to its time
 * (forgetting, in place), which in a filter's input only ever moves
 * forward.  Requests come at any time after the state's: each is served
 * from the offsets as they were loaded, so it is answered as a run of
 * cv-features over the state and that one record would answer it.
 */
struct kept {
	struct offset	*o, was;
};

static void
keep_offsets(struct state *st, const struct view *v, struct kept *k)
{
	char segment[MAX_SEGMENT + 2], region[64];
	struct lookup *lk;
	int year = (int)view_long(v, codec.vx[V_YEAR]);

	k[0].o = k[1].o = NULL;
	if (view_string(v, codec.vx[V_REGION], region, sizeof(region)) ==
	    NULL || view_string(v, codec.vx[V_SEGMENT], segment,
	    sizeof(segment)) == NULL || *segment == '\0' ||
	    strlen(segment) > MAX_SEGMENT)
		return;
	lk = find_index(st, segment, region);
	if ((k[0].o = cohort_offset(st, lk, segment, year, 0)) != NULL)
		k[0].was = *k[0].o;
	if ((k[1].o = region_offset(st, lk, region, 0)) != NULL)
		k[1].was = *k[1].o;
}

int
fstage_run(struct state *st, const char *enc, size_t len, struct sink *out)
{
	struct view v;
	struct item it = { "request", NULL };
	struct kept k[2];
	const char *why;
	int rc, i;

	if (view_parse(&v, reader_walker(codec.event), enc, len, &why) < 0)
		errx(1, "request: encoded vehicle: %s", why);
	if (v.branch != 1)
		errx(1, "request: not a VehicleObs");
	keep_offsets(st, &v, k);
	rc = process(st, &it, &v, out);
	for (i = 0; i < 2; i++)
		if (k[i].o != NULL)
			*k[i].o = k[i].was;
	return rc < 0 ? -1 : 0;
}
