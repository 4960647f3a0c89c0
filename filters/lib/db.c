/* db.c: sqlite helpers that end the program on failure (see db.h). */
#include <ctype.h>
#include <err.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/db.h"
#include "lib/util.h"

/* Say why path did not open, close what sqlite allocated and exit 1. */
static void __attribute__((noreturn))
open_failed(sqlite3 *db, const char *path)
{
	warnx("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_close(db);
	exit(1);
}

sqlite3 *
db_open(const char *path)
{
	sqlite3 *db;
	int rc, tries;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		open_failed(db, path);
	sqlite3_busy_timeout(db, 10000);
	/* Switching a new database to WAL takes it whole, and sqlite does
	 * not wait for that on the busy timeout: two processes starting on
	 * one new file would see "database is locked".  Wait here instead. */
	for (tries = 0; (rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL",
	    NULL, NULL, NULL)) == SQLITE_BUSY && tries < 1000; tries++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (rc != SQLITE_OK)
		open_failed(db, path);
	return db;
}

/* path as a URI file name that reads it immutable (see below). */
static char *
immutable_uri(const char *path)
{
	struct buf b = { 0 };
	const char *p;

	buf_add(&b, "file:", 5);
	for (p = path; *p; p++)
		if (isalnum((unsigned char)*p) || strchr("/._-~", *p))
			buf_addc(&b, *p);
		else
			buf_addf(&b, "%%%02X", (unsigned char)*p);
	buf_addf(&b, "?immutable=1");
	return b.p;
}

sqlite3 *
db_open_readonly(const char *path)
{
	sqlite3 *db;
	struct stat st;
	char *wal, *uri;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		open_failed(db, path);
	sqlite3_busy_timeout(db, 10000);
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL,
	    NULL, NULL);
	if (rc != SQLITE_READONLY && rc != SQLITE_CANTOPEN)
		return db;
	/*
	 * A WAL database in a folder this user cannot write: sqlite cannot
	 * make the -shm file it reads through.  With no -wal file, the
	 * database file holds every committed change, and nobody can add
	 * one without writing the folder: read it as immutable.
	 */
	sqlite3_close(db);
	wal = easprintf("%s-wal", path);
	if (stat(wal, &st) == 0 && st.st_size > 0)
		errx(1, "%s: a WAL database in a folder this user cannot "
		    "write, with changes in %s: sqlite must make its -shm "
		    "file there to read them (checkpoint it as its owner: "
		    "sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE)')", path, wal,
		    path);
	free(wal);
	uri = immutable_uri(path);
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	    NULL);
	free(uri);
	if (rc != SQLITE_OK)
		open_failed(db, path);
	return db;
}

void
db_close(sqlite3 *db)
{
	if (db != NULL && sqlite3_close(db) != SQLITE_OK)
		errx(1, "%s: %s", sqlite3_db_filename(db, "main"),
		    sqlite3_errmsg(db));
}

void
db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		errx(1, "%s: %s", sqlite3_db_filename(db, "main"),
		    msg ? msg : sqlite3_errmsg(db));
}

sqlite3_stmt *
db_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		errx(1, "%s: %s", sqlite3_db_filename(db, "main"),
		    sqlite3_errmsg(db));
	return st;
}

void
db_step_done(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		errx(1, "%s: %s", sqlite3_db_filename(db, "main"),
		    sqlite3_errmsg(db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int
db_row(sqlite3_stmt *q)
{
	sqlite3 *db = sqlite3_db_handle(q);

	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		return 1;
	case SQLITE_DONE:
		return 0;
	default:
		errx(1, "%s: %s", sqlite3_db_filename(db, "main"),
		    sqlite3_errmsg(db));
	}
}

int
db_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q = db_prepare(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name = ?");
	int there;

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	there = db_row(q) && sqlite3_column_int(q, 0) > 0;
	sqlite3_finalize(q);
	return there;
}
