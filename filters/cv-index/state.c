/*
 * cv-index: the -S state file.  What a later run needs to go on as if
 * the input had not stopped: each series' level, its variance and the
 * sales of its last published and its open period, the trim segments'
 * ids, the open period, and (over topics) where the state stands in
 * them, all rewritten in one sqlite transaction.  The settings that
 * shape the series are kept with them: a state read with others would
 * chain a month onto a week, or a region onto the market.
 */
#include <err.h>
#include <stdio.h>
#include <string.h>

#include "lib/db.h"
#include "index.h"

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS index_meta(key TEXT PRIMARY KEY, "
    "value TEXT);"
    "CREATE TABLE IF NOT EXISTS index_group(name TEXT PRIMARY KEY, "
    "id INTEGER);"
    "CREATE TABLE IF NOT EXISTS index_series(id INTEGER PRIMARY KEY, "
    "segment TEXT, region TEXT, based INTEGER, lnlevel REAL, "
    "var_closed REAL, s2_prev REAL);"
    "CREATE TABLE IF NOT EXISTS index_sale(series INTEGER, open INTEGER, "
    "y REAL, age REAL, x0 REAL, x1 REAL, x2 REAL, x3 REAL, x4 REAL, "
    "grp INTEGER, c REAL);";

/* The settings a state's series depend on, as text. */
static void
settings(const struct indexer *ix, char *buf, size_t len)
{
	snprintf(buf, len, "levels=%d%d%d%d regions=%d weekly=%d price=%s",
	    ix->levels[L_MARKET], ix->levels[L_MAKE], ix->levels[L_MODEL],
	    ix->levels[L_TRIM], ix->regions, ix->weekly, ix->price);
}

static void
load_sales(sqlite3 *db, struct series **by_id, int64_t nseries)
{
	sqlite3_stmt *q = db_prepare(db, "SELECT series, open, y, age, x0, "
	    "x1, x2, x3, x4, grp, c FROM index_sale ORDER BY rowid");
	struct sale x;
	int64_t id;
	int k;

	while (db_row(q)) {
		id = sqlite3_column_int64(q, 0);
		if (id < 0 || id >= nseries)
			errx(1, "%s: index_sale: series %lld is not in "
			    "index_series", sqlite3_db_filename(db, "main"),
			    (long long)id);
		x.y = sqlite3_column_double(q, 2);
		x.age = sqlite3_column_double(q, 3);
		for (k = 0; k < NX; k++)
			x.x[k] = sqlite3_column_double(q, 4 + k);
		x.grp = sqlite3_column_int(q, 9);
		x.c = sqlite3_column_double(q, 10);
		add_sale(sqlite3_column_int(q, 1) ? &by_id[id]->cur :
		    &by_id[id]->prev, &x);
	}
	sqlite3_finalize(q);
}

void
index_state_load(struct indexer *ix, const char *path)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	struct series *s, **by_id = NULL;
	char want[256];
	const char *key, *val;
	int64_t n = 0;

	db_exec(db, state_schema);
	settings(ix, want, sizeof(want));
	q = db_prepare(db, "SELECT key, value FROM index_meta");
	while (db_row(q)) {
		key = (const char *)sqlite3_column_text(q, 0);
		val = (const char *)sqlite3_column_text(q, 1);
		if (val == NULL)
			continue;
		if (strcmp(key, "settings") == 0 && strcmp(val, want) != 0)
			errx(2, "%s: the state was made with %s; this run "
			    "has %s", path, val, want);
		if (strcmp(key, "open") == 0)
			ix->open = (int32_t)sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT name, id FROM index_group");
	while (db_row(q)) {
		map_put(ix->groups, (const char *)sqlite3_column_text(q, 0),
		    (void *)(intptr_t)(sqlite3_column_int(q, 1) + 1));
		ix->ngroups++;
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT id, segment, region, based, lnlevel, "
	    "var_closed, s2_prev FROM index_series ORDER BY id");
	while (db_row(q)) {
		if (sqlite3_column_int64(q, 0) != n)
			errx(1, "%s: index_series: ids are not 0, 1, 2, ...",
			    path);
		s = series_for(ix, (const char *)sqlite3_column_text(q, 1),
		    (const char *)sqlite3_column_text(q, 2));
		s->based = sqlite3_column_int(q, 3);
		s->lnlevel = sqlite3_column_double(q, 4);
		s->var_closed = sqlite3_column_double(q, 5);
		s->s2_prev = sqlite3_column_double(q, 6);
		by_id = erealloc(by_id, (size_t)(n + 1) * sizeof(*by_id));
		by_id[n++] = s;
	}
	sqlite3_finalize(q);
	load_sales(db, by_id, n);
	free(by_id);
	positions_load(db, &ix->at);
	db_close(db);
}

static void
save_sales(sqlite3 *db, sqlite3_stmt *q, size_t id, int open,
    const struct sales *ss)
{
	size_t i;
	int k;

	for (i = 0; i < ss->n; i++) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
		sqlite3_bind_int(q, 2, open);
		sqlite3_bind_double(q, 3, ss->s[i].y);
		sqlite3_bind_double(q, 4, ss->s[i].age);
		for (k = 0; k < NX; k++)
			sqlite3_bind_double(q, 5 + k, ss->s[i].x[k]);
		sqlite3_bind_int(q, 10, ss->s[i].grp);
		sqlite3_bind_double(q, 11, ss->s[i].c);
		db_step_done(db, q);
	}
}

/* The whole state and where it stands in the topics (now; NULL for files
 * and pipes), in one transaction. */
void
index_state_save(struct indexer *ix, const char *path,
    const struct positions *now)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	const char *key;
	void *val;
	char have[256];
	size_t i, it;

	db_exec(db, state_schema);
	db_exec(db, "BEGIN");
	db_exec(db, "DELETE FROM index_meta; DELETE FROM index_group; "
	    "DELETE FROM index_series; DELETE FROM index_sale");
	settings(ix, have, sizeof(have));
	q = db_prepare(db, "INSERT INTO index_meta VALUES (?, ?)");
	sqlite3_bind_text(q, 1, "settings", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, have, -1, SQLITE_STATIC);
	db_step_done(db, q);
	if (ix->open != INT32_MIN) {
		sqlite3_bind_text(q, 1, "open", -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, ix->open);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO index_group VALUES (?, ?)");
	for (it = 0; map_next(ix->groups, &it, &key, &val); ) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, (int)(intptr_t)val - 1);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO index_series VALUES (?, ?, ?, ?, ?, "
	    "?, ?)");
	for (i = 0; i < ix->nall; i++) {
		const struct series *s = ix->all[i];

		sqlite3_bind_int64(q, 1, (sqlite3_int64)i);
		sqlite3_bind_text(q, 2, s->segment, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, s->region, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 4, s->based);
		sqlite3_bind_double(q, 5, s->lnlevel);
		sqlite3_bind_double(q, 6, s->var_closed);
		sqlite3_bind_double(q, 7, s->s2_prev);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO index_sale VALUES (?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?)");
	for (i = 0; i < ix->nall; i++) {
		save_sales(db, q, i, 0, &ix->all[i]->prev);
		save_sales(db, q, i, 1, &ix->all[i]->cur);
	}
	sqlite3_finalize(q);
	positions_commit(db, now);
}
