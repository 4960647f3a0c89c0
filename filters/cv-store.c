/*
 * cv-store: keep a record stream in a sqlite table.  Reads Avro container
 * streams of any schema and inserts one row per record: rec_key, a 64-bit
 * hash of the record's encoding, rec_time, its time, then the columns
 * cv-cat -f csv prints.  A record already in the table (the same key and
 * time) is not stored again, so storing the same input twice, or after a
 * crash, or overlapping inputs, adds every record once.
 *
 *	cv-sim | cv-features | cv-store -d sim.db
 *	sqlite3 sim.db 'SELECT segment, count(*) FROM features GROUP BY 1'
 */
#include <ctype.h>
#include <err.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/db.h"
#include "lib/fingerprint.h"
#include "lib/flat.h"
#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/stream.h"

#define BATCH	10000	/* rows per transaction */
#define KEY	"rec_key"
#define TIME	"rec_time"
#define NEXTRA	2	/* columns before the record's own */

/* A Kafka partition's last record, to acknowledge after its commit. */
struct ack {
	struct rec	 rec;		/* origin: our copy of the topic */
	int		 done;
};

struct store {
	sqlite3		*db;
	char		*table;
	struct flat	*flat;
	size_t		*times;		/* the date and timestamp columns */
	size_t		 ntimes;
	sqlite3_stmt	*put, *begin, *commit;
	long long	 batch, pending;	/* rows in the open transaction */
	struct src	*src;
	struct ack	*acks;		/* one per Kafka partition seen */
	size_t		 nacks;
	avro_writer_t	 enc;		/* re-encoding, see record_key() */
	char		*encbuf;
	size_t		 encsize;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-store [-v] [-B batch] [-e on-error] "
	    "[-n table] -d file [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -B, --batch N      rows per transaction (%d)\n"
	    "  -d, --db FILE      the sqlite database, made if missing\n"
	    "  -e, --on-error X   fail (default), skip, or a file for "
	    "rejects\n"
	    "  -n, --table NAME   the table (default: the schema's name, in "
	    "lower case)\n"
	    "  -v, --verbose      counts and rate on stderr\n"
	    "  -h, --help         this help\n", BATCH);
	kafka_help(stdout);
}

/* End the program with "prog: db: message", or sqlite's if fmt is NULL. */
static void PRINTF(2, 3) __attribute__((noreturn))
die(struct store *st, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (fmt != NULL && vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/* The file as db.h names it, so every message after the open agrees. */
	errx(1, "%s: %s", sqlite3_db_filename(st->db, "main"),
	    msg ? msg : sqlite3_errmsg(st->db));
}

/* name as an SQL identifier: in double quotes, inner ones doubled. */
static void
add_ident(struct buf *b, const char *name)
{
	buf_addc(b, '"');
	for (; *name; name++) {
		if (*name == '"')
			buf_addc(b, '"');
		buf_addc(b, *name);
	}
	buf_addc(b, '"');
}

static const char *
sql_type(enum flat_type t)
{
	return t == FLAT_INTEGER ? "INTEGER" : t == FLAT_REAL ? "REAL" :
	    "TEXT";
}

/*
 * The default table: the record's name in lower case; for a schema that
 * is not a record (Event, a union of records), the name of the embedded
 * schema it is, if any.  NULL when there is no name to take.
 */
static char *
default_table(struct src *src)
{
	avro_schema_t s = src_schema(src);
	const char *text = src_schema_text(src), *name = NULL, **names;
	uint64_t fp, want;
	char *t, *p, *why;

	if (is_avro_record(s))
		name = avro_schema_name(s);
	else if (schema_fingerprint(text, strlen(text), &want, &why) == 0) {
		for (names = schema_names(); *names != NULL; names++) {
			t = (char *)schema_text(*names);
			if (schema_fingerprint(t, strlen(t), &fp, &why) < 0)
				free(why);
			else if (fp == want) {
				name = *names;
				break;
			}
		}
	} else
		free(why);
	if (name == NULL)
		return NULL;
	if ((p = strrchr(name, '.')) != NULL)
		name = p + 1;
	t = estrdup(name);
	for (p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return t;
}

/* Column i of the table: the key, the time, then the record's columns. */
static const char *
column_name(struct store *st, size_t i)
{
	return i == 0 ? KEY : i == 1 ? TIME : flat_colname(st->flat,
	    i - NEXTRA);
}

static const char *
column_type(struct store *st, size_t i)
{
	return i < NEXTRA ? "INTEGER" : sql_type(flat_valtype(st->flat,
	    i - NEXTRA));
}

/*
 * An existing table must have the columns this stream would make it
 * with, in order and of the same types: rows of another schema would
 * hash differently, so storing them beside these could not be
 * idempotent.  Returns 0 if the table is missing, 1 if it fits; any
 * difference ends the program naming the first differing column.
 */
static int
check_table(struct store *st)
{
	sqlite3_stmt *q;
	const char *name, *type, *want, *wtype;
	size_t i = 0, n = flat_ncols(st->flat) + NEXTRA;
	int rc;

	q = db_prepare(st->db, "SELECT name, type FROM pragma_table_info(?)");
	sqlite3_bind_text(q, 1, st->table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(q, 0);
		type = (const char *)sqlite3_column_text(q, 1);
		if (i == n)
			die(st, "table %s: column %zu \"%s\" is not in the "
			    "stream", st->table, i + 1, name);
		want = column_name(st, i);
		wtype = column_type(st, i);
		if (strcmp(name, want) != 0 || strcasecmp(type ? type : "",
		    wtype) != 0)
			die(st, "table %s: column %zu is \"%s\" %s, the "
			    "stream's is \"%s\" %s", st->table, i + 1, name,
			    type ? type : "", want, wtype);
		i++;
	}
	if (rc != SQLITE_DONE)
		die(st, NULL);
	sqlite3_finalize(q);
	if (i > 0 && i < n)
		die(st, "table %s: no column %zu \"%s\" %s", st->table, i + 1,
		    column_name(st, i), column_type(st, i));
	return i > 0;
}

/* Make the table if missing, check it if not, and prepare the insert. */
static void
start_table(struct store *st, struct src *src, const char *table)
{
	struct buf sql = { 0 };
	const char *why;
	char *index;
	size_t i, n;

	if ((st->flat = flat_new(src_schema_text(src), &why)) == NULL)
		errx(1, "writer schema: %s", why);
	n = flat_ncols(st->flat);
	for (i = 0; i < NEXTRA; i++)
		if (flat_column(st->flat, column_name(st, i)) >= 0)
			errx(1, "writer schema: a column is called %s, as "
			    "one of cv-store's own is", column_name(st, i));
	st->times = ecalloc(n + 1, sizeof(*st->times));
	for (i = 0; i < n; i++)
		if (flat_coltime(st->flat, i) != FLAT_NOT_TIME)
			st->times[st->ntimes++] = i;
	if (table != NULL)
		st->table = estrdup(table);
	else if ((st->table = default_table(src)) == NULL)
		errx(1, "writer schema: neither a record nor a cvpipe "
		    "schema: name the table with -n");
	if (!check_table(st)) {
		buf_add(&sql, "CREATE TABLE IF NOT EXISTS ", 27);
		add_ident(&sql, st->table);
		for (i = 0; i < n + NEXTRA; i++) {
			buf_add(&sql, i ? ", " : "(", i ? 2 : 1);
			add_ident(&sql, column_name(st, i));
			buf_addf(&sql, " %s", column_type(st, i));
		}
		buf_add(&sql, ")", 2);
		db_exec(st->db, sql.p);
		buf_clear(&sql);
	}
	/*
	 * Also for a table made by hand: the index is what makes reruns
	 * safe.  Time first: a stream in time order then adds at the end of
	 * the index instead of all over it, and each transaction writes a
	 * few of its pages, not most of them.
	 */
	index = easprintf("%s_" KEY, st->table);
	buf_add(&sql, "CREATE UNIQUE INDEX IF NOT EXISTS ", 34);
	add_ident(&sql, index);
	free(index);
	buf_add(&sql, " ON ", 4);
	add_ident(&sql, st->table);
	buf_add(&sql, "(" TIME ", " KEY ")", strlen(TIME KEY) + 4);
	db_exec(st->db, sql.p);
	buf_clear(&sql);
	buf_add(&sql, "INSERT OR IGNORE INTO ", 22);
	add_ident(&sql, st->table);
	buf_add(&sql, " VALUES (?, ?", 13);
	for (i = 0; i < n; i++)
		buf_add(&sql, ", ?", 3);
	buf_add(&sql, ")", 2);
	st->put = db_prepare(st->db, sql.p);
	buf_free(&sql);
}

static void
step(struct store *st, sqlite3_stmt *q)
{
	if (sqlite3_step(q) != SQLITE_DONE)
		die(st, NULL);
	sqlite3_reset(q);
}

/*
 * Done with r once its transaction is committed.  Files need nothing; a
 * Kafka message's offset is stored only after its row is in the table, so
 * a crash repeats messages (which the key absorbs) rather than losing
 * them.  Offsets grow within a partition: its last record stands for all.
 */
static void
ack_later(struct store *st, struct rec *r)
{
	size_t i;

	if (r->partition < 0) {
		src_ack(st->src, r);
		return;
	}
	for (i = 0; i < st->nacks; i++)
		if (st->acks[i].rec.partition == r->partition &&
		    strcmp(st->acks[i].rec.origin, r->origin) == 0)
			break;
	if (i == st->nacks) {
		st->acks = erealloc(st->acks, (i + 1) * sizeof(*st->acks));
		memset(&st->acks[i], 0, sizeof(st->acks[i]));
		st->acks[i].rec.origin = estrdup(r->origin);
		st->acks[i].rec.partition = r->partition;
		st->nacks++;
	}
	st->acks[i].rec.owner = r->owner;
	st->acks[i].rec.seqno = r->seqno;
	st->acks[i].done = 0;
}

/* Commit the open transaction, then acknowledge what it holds. */
static void
commit(struct store *st)
{
	size_t i;

	if (st->pending == 0)
		return;
	step(st, st->commit);
	st->pending = 0;
	for (i = 0; i < st->nacks; i++)
		if (!st->acks[i].done) {
			src_ack(st->src, &st->acks[i].rec);
			st->acks[i].done = 1;
		}
}

/*
 * The record's key: CRC-64-AVRO of its encoding in the stream's schema.
 * A later input written in another schema was resolved to this one, so
 * its record is encoded again first: the same record, the same key.
 */
static sqlite3_int64
record_key(struct store *st, struct rec *r)
{
	size_t size;

	if (r->same_schema)
		return (sqlite3_int64)crc64_avro(r->raw, r->rawlen);
	avro_value_sizeof(r->value, &size);
	if (size > st->encsize) {
		st->encsize = size;
		st->encbuf = erealloc(st->encbuf, size);
		if (st->enc != NULL)
			avro_writer_free(st->enc);
		st->enc = NULL;
	}
	if (st->enc == NULL)
		st->enc = avro_writer_memory(st->encbuf,
		    (int64_t)st->encsize);
	avro_writer_reset(st->enc);
	if (avro_value_write(st->enc, r->value) != 0)
		errx(1, "%s: cannot encode: %s", rec_where(r),
		    avro_strerror());
	return (sqlite3_int64)crc64_avro(st->encbuf,
	    (size_t)avro_writer_tell(st->enc));
}

/*
 * The record's time: its first date or timestamp that is not null, in
 * milliseconds since 1970 (a date at midnight UTC); 0 if it has none.
 */
static int64_t
record_time(struct store *st, const struct flat_val *v)
{
	const struct flat_val *c;
	size_t i;

	for (i = 0; i < st->ntimes; i++) {
		c = &v[st->times[i]];
		if (c->null)
			continue;
		switch (flat_coltime(st->flat, st->times[i])) {
		case FLAT_DATE:
			return c->i * 86400000;
		case FLAT_MICROS:
			return c->i / 1000 - (c->i % 1000 < 0);
		default:
			return c->i;
		}
	}
	return 0;
}

/* Input is about to wait: what came so far becomes visible. */
static void
commit_idle(void *arg)
{
	commit(arg);
}

/* Insert one record: written if new, absorbed if it is there. */
static void
store_record(struct store *st, struct rec *r)
{
	const struct flat_val *v = flat_values(st->flat, r->value);
	sqlite3_stmt *q = st->put;
	size_t i, n = flat_ncols(st->flat);
	int k;

	if (st->pending == 0)
		step(st, st->begin);
	sqlite3_bind_int64(q, 1, record_key(st, r));
	sqlite3_bind_int64(q, 2, record_time(st, v));
	for (i = 0; i < n; i++) {
		k = (int)i + NEXTRA + 1;
		if (v[i].null)
			sqlite3_bind_null(q, k);
		else if (v[i].type == FLAT_INTEGER)
			sqlite3_bind_int64(q, k, v[i].i);
		else if (v[i].type == FLAT_REAL)
			sqlite3_bind_double(q, k, v[i].d);
		else
			sqlite3_bind_text(q, k, v[i].s, (int)v[i].len,
			    SQLITE_STATIC);
	}
	step(st, q);
	if (sqlite3_changes(st->db) > 0)
		run_tally.written++;
	else
		run_tally.absorbed++;
	ack_later(st, r);
	if (++st->pending == st->batch)
		commit(st);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "batch",	required_argument, NULL, 'B' },
		{ "db",		required_argument, NULL, 'd' },
		{ "on-error",	required_argument, NULL, 'e' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "table",	required_argument, NULL, 'n' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct store st = { 0 };
	struct rec *r;
	const char *table = NULL, *dbpath = NULL;
	long long n;
	size_t i;
	int c, rc, verbose = 0, started = 0, status;
	double t0 = now_seconds();

	st.batch = BATCH;
	while ((c = getopt_long(argc, argv, "B:d:e:hn:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'B':
			if (parse_long(optarg, &n) < 0 || n < 1) {
				warnx("-B: %s: not a positive number", optarg);
				usage(stderr);
				return 2;
			}
			st.batch = n;
			break;
		case 'd':
			dbpath = optarg;
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'n':
			if (*optarg == '\0') {
				warnx("-n: empty table name");
				usage(stderr);
				return 2;
			}
			table = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (kafka_output()) {
		warnx("-T: cv-store writes a database, not a topic");
		usage(stderr);
		return 2;
	}
	if (dbpath == NULL) {
		warnx("-d: no database named");
		usage(stderr);
		return 2;
	}
	run_init();
	/* Before any input: a database that cannot be made stops the run. */
	st.db = db_open(dbpath);
	/*
	 * A power cut may lose the last transactions but never corrupts the
	 * file, and storing the input again puts back what was lost.
	 */
	db_exec(st.db, "PRAGMA synchronous=NORMAL");
	/* IMMEDIATE: wait for another writer here, not fail mid-batch. */
	st.begin = db_prepare(st.db, "BEGIN IMMEDIATE");
	st.commit = db_prepare(st.db, "COMMIT");
	run_on_idle(commit_idle, &st);
	st.src = src_open(argv + optind, argc - optind, NULL);
	while ((rc = src_next(st.src, &r)) > 0) {
		if (!started) {
			start_table(&st, st.src, table);
			started = 1;
		}
		store_record(&st, r);
	}
	/* A stream with a header and no records still makes its table. */
	if (!started && src_schema_text(st.src) != NULL)
		start_table(&st, st.src, table);
	/* What was read before a stop or a failure is kept. */
	commit(&st);
	sqlite3_finalize(st.put);
	sqlite3_finalize(st.begin);
	sqlite3_finalize(st.commit);
	db_close(st.db);
	src_close(st.src);
	for (i = 0; i < st.nacks; i++)
		free((char *)st.acks[i].rec.origin);
	free(st.acks);
	flat_free(st.flat);
	free(st.times);
	free(st.table);
	if (st.enc != NULL)
		avro_writer_free(st.enc);
	free(st.encbuf);
	schema_cleanup();
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", run_tally.read / (now_seconds() - t0));
	return rc < 0 ? 1 : status;
}
