/*
 * db.h: sqlite for filter state.  Opening, executing and preparing either
 * succeed or end the program with "prog: file: sqlite's message", so a
 * filter's state code reads straight through.
 */
#ifndef CV_DB_H
#define CV_DB_H

#include <sqlite3.h>

/* Open (creating) path with WAL and a busy timeout. */
sqlite3		*db_open(const char *path);
/* Open an existing database to read only: a mistyped path is an error,
 * not a new empty file.  A WAL database in a folder this user cannot
 * write is read as immutable when it has no -wal file, else refused with
 * what to do. */
sqlite3		*db_open_readonly(const char *path);
void		 db_close(sqlite3 *);
/* Run SQL without parameters (schema, BEGIN, COMMIT). */
void		 db_exec(sqlite3 *, const char *sql);
sqlite3_stmt	*db_prepare(sqlite3 *, const char *sql);
/* Step a statement that returns no rows, then reset it. */
void		 db_step_done(sqlite3 *, sqlite3_stmt *);
/*
 * Step a query: 1 with a row, 0 at its end.  Anything else (busy,
 * corrupt, I/O) ends the program with sqlite's message: a damaged table
 * must not pass for a shorter one.
 */
int		 db_row(sqlite3_stmt *);
/* Whether the database has a table of that name (asked, not made: a
 * state may be open read-only, and one written before the table was
 * kept has none). */
int		 db_has_table(sqlite3 *, const char *name);

#endif
