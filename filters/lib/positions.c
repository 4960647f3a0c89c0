/* positions.c: a state's input positions in its sqlite file. */
#include <stdlib.h>

#include "lib/db.h"
#include "lib/positions.h"
#include "lib/util.h"

static void
positions_schema(sqlite3 *db)
{
	db_exec(db, "CREATE TABLE IF NOT EXISTS input_positions("
	    "topic TEXT NOT NULL, partition INTEGER NOT NULL, "
	    "next INTEGER NOT NULL, PRIMARY KEY(topic, partition))");
}

void
positions_commit(sqlite3 *db, const struct positions *ps)
{
	sqlite3_stmt *q;
	int i;

	positions_schema(db);
	db_exec(db, "DELETE FROM input_positions");
	q = db_prepare(db, "INSERT INTO input_positions VALUES (?, ?, ?)");
	for (i = 0; ps != NULL && i < ps->n; i++) {
		sqlite3_bind_text(q, 1, ps->p[i].topic, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, ps->p[i].partition);
		sqlite3_bind_int64(q, 3, ps->p[i].next);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	db_exec(db, "COMMIT");
	db_close(db);
}

void
positions_load(sqlite3 *db, struct positions *ps)
{
	sqlite3_stmt *q;

	if (!db_has_table(db, "input_positions"))
		return;
	q = db_prepare(db, "SELECT topic, partition, next FROM "
	    "input_positions ORDER BY topic, partition");
	while (db_row(q))
		positions_add(ps, (const char *)sqlite3_column_text(q, 0),
		    sqlite3_column_int(q, 1), sqlite3_column_int64(q, 2));
	sqlite3_finalize(q);
}

void
positions_add(struct positions *ps, const char *topic, int32_t p,
    int64_t next)
{
	ps->p = erealloc(ps->p, (size_t)(ps->n + 1) * sizeof(*ps->p));
	ps->p[ps->n].topic = estrdup(topic);
	ps->p[ps->n].partition = p;
	ps->p[ps->n++].next = next;
}

void
positions_free(struct positions *ps)
{
	int i;

	for (i = 0; i < ps->n; i++)
		free(ps->p[i].topic);
	free(ps->p);
	ps->p = NULL;
	ps->n = 0;
}
