/* cv-features: the state kept in a sqlite file across runs (-S). */
#include <err.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/db.h"
#include "features.h"

/* The options that give state its meaning, to refuse a mismatch. */
static char *
options_text(const struct opts *o)
{
	return easprintf("ewma %g window %d min-elasticity-n %d decay %g "
	    "min-comps %g vehicles %zu volume-source %s cohort-prior %g "
	    "region-prior %g pool-refit %zu", o->ewma_half_life, o->window,
	    o->min_elasticity_n, o->decay_half_life, o->min_comps,
	    o->max_vehicles, o->volume_source ? o->volume_source : "*",
	    o->cohort_prior, o->region_prior, o->pool_refit);
}

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS sources(pos INTEGER PRIMARY KEY, "
    "source TEXT);"
    "CREATE TABLE IF NOT EXISTS series(key TEXT PRIMARY KEY, source TEXT, "
    "segment TEXT, region TEXT, points BLOB);"
    "CREATE TABLE IF NOT EXISTS volumes(key TEXT PRIMARY KEY, points BLOB);"
    "CREATE TABLE IF NOT EXISTS decay(key TEXT PRIMARY KEY, image BLOB);"
    "CREATE TABLE IF NOT EXISTS vehicles(id TEXT PRIMARY KEY, price REAL, "
    "mpi REAL, observed_at INTEGER, seq INTEGER);"
    "CREATE TABLE IF NOT EXISTS offsets(key TEXT PRIMARY KEY, s REAL, "
    "w REAL, t REAL);"
    "CREATE TABLE IF NOT EXISTS last_sales(segment TEXT PRIMARY KEY, "
    "price REAL, mpi REAL);"
    "CREATE TABLE IF NOT EXISTS pending(seq INTEGER PRIMARY KEY, "
    "event BLOB);"
    "CREATE TABLE IF NOT EXISTS held(seq INTEGER PRIMARY KEY, "
    "at TEXT, event BLOB);";

void
load_state(struct state *st, const char *path)
{
	sqlite3 *db = db_open(path);

	db_exec(db, state_schema);
	load_state_db(st, db, path);
	db_close(db);
}

/* Records held for -l when the state was saved: held again, in order. */
static void
load_held(struct state *st, sqlite3 *db, const char *path)
{
	sqlite3_stmt *q;
	struct view v;
	const char *why;

	if (!db_has_table(db, "held"))
		return;		/* a state made before they were kept */
	q = db_prepare(db, "SELECT at, event FROM held ORDER BY seq");
	while (db_row(q)) {
		if (view_parse(&v, reader_walker(codec.event),
		    sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q,
		    1), &why) < 0)
			errx(1, "%s: held: %s", path, why);
		held_push(&st->held, &v, (const char *)sqlite3_column_text(q,
		    0));
	}
	sqlite3_finalize(q);
}

/* The state from db, open (cv-serve opens it read-only); path names it. */
void
load_state_db(struct state *st, sqlite3 *db, const char *path)
{
	sqlite3_stmt *q;
	char *opts = options_text(&st->o);
	const char *key;
	struct series *s;
	struct volumes *vs;
	struct decay *d;
	struct offset *o;
	struct last_sale *ls;
	const void *blob;
	int len;

	q = db_prepare(db, "SELECT key, value FROM meta");
	while (db_row(q)) {
		key = (const char *)sqlite3_column_text(q, 0);
		if (strcmp(key, "max_t") == 0)
			st->max_t = sqlite3_column_int64(q, 1);
		else if (strcmp(key, "vseq") == 0)
			st->vseq = (uint64_t)sqlite3_column_int64(q, 1);
		else if (strcmp(key, "options") == 0 && strcmp(opts,
		    (const char *)sqlite3_column_text(q, 1)) != 0)
			errx(1, "%s: state made with other options (%s), "
			    "not %s", path, sqlite3_column_text(q, 1), opts);
	}
	sqlite3_finalize(q);
	free(opts);
	q = db_prepare(db, "SELECT source FROM sources ORDER BY pos");
	while (db_row(q))
		note_source(st, (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT source, segment, region, points FROM "
	    "series ORDER BY key");
	while (db_row(q)) {
		s = get_series(st, (const char *)sqlite3_column_text(q, 0),
		    (const char *)sqlite3_column_text(q, 1),
		    (const char *)sqlite3_column_text(q, 2), 1);
		blob = sqlite3_column_blob(q, 3);
		len = sqlite3_column_bytes(q, 3);
		if (len < 0 || len % sizeof(struct point) ||
		    len / sizeof(struct point) > RING)
			errx(1, "%s: series %s: damaged", path, s->segment);
		memcpy(s->pts, blob, (size_t)len);
		s->npts = len / (int)sizeof(struct point);
		derive(s, &st->o);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT key, points FROM volumes");
	while (db_row(q)) {
		len = sqlite3_column_bytes(q, 1);
		if (len < 0 || len % sizeof(struct point) ||
		    len / sizeof(struct point) > RING)
			errx(1, "%s: volumes: damaged", path);
		vs = ecalloc(1, sizeof(*vs));
		memcpy(vs->pts, sqlite3_column_blob(q, 1), (size_t)len);
		vs->npts = len / (int)sizeof(struct point);
		map_put(st->volumes, (const char *)sqlite3_column_text(q, 0),
		    vs);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT key, image FROM decay");
	while (db_row(q)) {
		d = ecalloc(1, sizeof(*d));
		d->wls = wls_from_image(sqlite3_column_blob(q, 1),
		    (size_t)sqlite3_column_bytes(q, 1));
		if (d->wls == NULL)
			errx(1, "%s: decay %s: damaged", path,
			    sqlite3_column_text(q, 0));
		map_put(st->decay, (const char *)sqlite3_column_text(q, 0), d);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT id, price, mpi, observed_at, seq FROM "
	    "vehicles ORDER BY seq");
	while (db_row(q))
		vehicle_remember(st, NULL,
		    (const char *)sqlite3_column_text(q, 0),
		    sqlite3_column_double(q, 1), sqlite3_column_type(q, 2) ==
		    SQLITE_NULL ? NAN : sqlite3_column_double(q, 2),
		    sqlite3_column_int64(q, 3),
		    (uint64_t)sqlite3_column_int64(q, 4));
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT key, s, w, t FROM offsets");
	while (db_row(q)) {
		o = get_offset(st, (const char *)sqlite3_column_text(q, 0), 1);
		o->s = sqlite3_column_double(q, 1);
		o->w = sqlite3_column_double(q, 2);
		o->t = sqlite3_column_double(q, 3);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT segment, price, mpi FROM last_sales");
	while (db_row(q)) {
		ls = ecalloc(1, sizeof(*ls));
		ls->price = sqlite3_column_double(q, 1);
		ls->mpi = sqlite3_column_type(q, 2) == SQLITE_NULL ? NAN :
		    sqlite3_column_double(q, 2);
		map_put(st->last, (const char *)sqlite3_column_text(q, 0), ls);
	}
	sqlite3_finalize(q);
	if (st->pool != NULL)
		pool_load(st->pool, db, path);
	/* Updates that were waiting: served again, without output, from the
	 * state they were served from, they wait again. */
	q = db_prepare(db, "SELECT event FROM pending ORDER BY seq");
	while (db_row(q)) {
		struct item it = { "state", NULL };
		struct view v;
		const char *why;

		if (view_parse(&v, reader_walker(codec.event),
		    sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q,
		    0), &why) < 0)
			errx(1, "%s: pending: %s", path, why);
		if (v.branch == 0)
			defer(st, &v, NULL);
		else if (vehicle(st, &it, &v, NULL) < 0)
			errx(1, "%s: pending: a sighting refused", path);
	}
	sqlite3_finalize(q);
	load_held(st, db, path);
	positions_load(db, &st->at);
}

static void
save_points(sqlite3 *db, sqlite3_stmt *q, int col, const struct point *p,
    int n)
{
	(void)db;
	sqlite3_bind_blob(q, col, p, n * (int)sizeof(*p), SQLITE_TRANSIENT);
}

/* The held records in arrival order (seq), so that they are held again
 * in the same order. */
static int
by_seq(const void *a, const void *b)
{
	const struct held *x = *(const struct held *const *)a;
	const struct held *y = *(const struct held *const *)b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void
save_held(struct state *st, sqlite3 *db)
{
	const struct held **h = ecalloc(st->held.n + 1, sizeof(*h));
	sqlite3_stmt *q;
	size_t i;

	for (i = 0; i < st->held.n; i++)
		h[i] = &st->held.h[i];
	qsort(h, st->held.n, sizeof(*h), by_seq);
	q = db_prepare(db, "INSERT INTO held VALUES (?, ?, ?)");
	for (i = 0; i < st->held.n; i++) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)i);
		sqlite3_bind_text(q, 2, h[i]->where, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 3, h[i]->bytes, (int)h[i]->len,
		    SQLITE_STATIC);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	free(h);
}

/* The state and where it stands in the input topics (now; NULL for
 * files and pipes), in one transaction. */
void
save_state(struct state *st, const char *path, const struct positions *now)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	const char *key;
	void *val;
	struct series *s;
	struct vehicle *v;
	char *opts = options_text(&st->o), *img;
	size_t it, n;
	int i;

	db_exec(db, state_schema);
	db_exec(db, "BEGIN");
	db_exec(db, "DELETE FROM meta; DELETE FROM sources; DELETE FROM "
	    "series; DELETE FROM volumes; DELETE FROM decay; DELETE FROM "
	    "vehicles; DELETE FROM offsets; DELETE FROM last_sales; "
	    "DELETE FROM pending; DELETE FROM held");
	q = db_prepare(db, "INSERT INTO meta VALUES (?, ?)");
	sqlite3_bind_text(q, 1, "max_t", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, st->max_t);
	db_step_done(db, q);
	sqlite3_bind_text(q, 1, "vseq", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)st->vseq);
	db_step_done(db, q);
	sqlite3_bind_text(q, 1, "options", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, opts, -1, SQLITE_STATIC);
	db_step_done(db, q);
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO sources VALUES (?, ?)");
	for (i = 0; i < st->nseen; i++) {
		sqlite3_bind_int(q, 1, i);
		sqlite3_bind_text(q, 2, st->seen_sources[i], -1,
		    SQLITE_STATIC);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO series VALUES (?, ?, ?, ?, ?)");
	for (it = 0; map_next(st->series, &it, &key, &val); ) {
		s = val;
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, s->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, s->segment, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, s->region, -1, SQLITE_STATIC);
		save_points(db, q, 5, s->pts, s->npts);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO volumes VALUES (?, ?)");
	for (it = 0; map_next(st->volumes, &it, &key, &val); ) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		save_points(db, q, 2, ((struct volumes *)val)->pts,
		    ((struct volumes *)val)->npts);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO decay VALUES (?, ?)");
	for (it = 0; map_next(st->decay, &it, &key, &val); ) {
		n = wls_image_size(((struct decay *)val)->wls);
		img = emalloc(n);
		wls_image(((struct decay *)val)->wls, img);
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 2, img, (int)n, SQLITE_TRANSIENT);
		db_step_done(db, q);
		free(img);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO vehicles VALUES (?, ?, ?, ?, ?)");
	for (v = st->oldest; v != NULL; v = v->newer) {
		sqlite3_bind_text(q, 1, v->id, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 2, v->price);
		if (isnan(v->mpi))
			sqlite3_bind_null(q, 3);
		else
			sqlite3_bind_double(q, 3, v->mpi);
		sqlite3_bind_int64(q, 4, v->at);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)v->seq);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO offsets VALUES (?, ?, ?, ?)");
	for (it = 0; map_next(st->offsets, &it, &key, &val); ) {
		const struct offset *o = val;

		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 2, o->s);
		sqlite3_bind_double(q, 3, o->w);
		sqlite3_bind_double(q, 4, o->t);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO pending VALUES (?, ?)");
	for (it = 0; it < st->npend; it++) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)it);
		sqlite3_bind_blob(q, 2, st->pendbuf.p + st->pend[it].off,
		    (int)st->pend[it].len, SQLITE_STATIC);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO last_sales VALUES (?, ?, ?)");
	for (it = 0; map_next(st->last, &it, &key, &val); ) {
		const struct last_sale *ls = val;

		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 2, ls->price);
		if (isnan(ls->mpi))
			sqlite3_bind_null(q, 3);
		else
			sqlite3_bind_double(q, 3, ls->mpi);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	if (st->pool != NULL)
		pool_save(st->pool, db);
	save_held(st, db);
	positions_commit(db, now);
	free(opts);
}
