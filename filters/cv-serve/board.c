/*
 * cv-serve: the dashboard's data, read from the sqlite file the pipeline
 * leaves (make run: out/cvpipe.db): cv-warn's records stored by cv-store
 * (table warning), the index and the CPI (idx, cpi), cv-quality's table
 * (quality) and cv-stress's scenarios (stress).  Each request opens the
 * file read-only, so a new run's file is seen at once and nothing a
 * request sends can change it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/util.h"
#include "cv-serve/serve.h"

static const char *dbpath;

/* Each loan's last snapshot (the book as it stands). */
#define LAST "(SELECT w.* FROM warning w JOIN (SELECT loan_id, " \
	"max(observed_at) AS t FROM warning GROUP BY loan_id) l " \
	"ON w.loan_id = l.loan_id AND w.observed_at = l.t)"
#define ISO(c) "replace(datetime(" c " / 1000, 'unixepoch'), ' ', 'T') " \
	"|| 'Z'"
#define SEVERITY "CASE light WHEN 'RED' THEN 0 WHEN 'YELLOW' THEN 1 " \
	"ELSE 2 END"
#define LOAN_COLS "loan_id, vehicle_id, segment, region, model_year, " \
	"mileage_km, " ISO("observed_at") " AS observed_at, loan_balance, " \
	"value, value_lo, value_hi, value_next, ltv, light, reasons, " \
	"grade, score, watchlist, message"

void
board_init(const char *db)
{
	dbpath = db;
}

/* Columns that hold JSON text (cv-store writes arrays so). */
static int
json_column(const char *name)
{
	return strcmp(name, "reasons") == 0;
}

/* Set while reading a table sqlite3 .import made, every column text. */
static _Thread_local int numeric_text;

static json_t *
column_json(sqlite3_stmt *q, int i)
{
	const char *t;
	char *end;
	json_t *j;
	double d;

	switch (sqlite3_column_type(q, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(q, i));
	case SQLITE_FLOAT:
		d = sqlite3_column_double(q, i);
		return isfinite(d) ? json_real(d) : json_null();
	case SQLITE_NULL:
		return json_null();
	default:
		t = (const char *)sqlite3_column_text(q, i);
		if (json_column(sqlite3_column_name(q, i)) &&
		    (j = json_loads(t, 0, NULL)) != NULL)
			return j;
		/* A scenario is a name ("-0.10" too), not a number. */
		if (numeric_text && *t != '\0' &&
		    strcmp(sqlite3_column_name(q, i), "scenario") != 0) {
			d = strtod(t, &end);
			if (*end == '\0' && isfinite(d))
				return json_real(d);
		}
		return json_stringn(t, (size_t)sqlite3_column_bytes(q, i));
	}
}

/*
 * Run sql with the text parameters (NULL: SQL null) into an array of
 * objects; NULL with *err if sqlite says no.
 */
static json_t *
rows(sqlite3 *db, const char *sql, json_t **err, int n, ...)
{
	sqlite3_stmt *q;
	json_t *a, *o;
	va_list ap;
	const char *s;
	int i, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		*err = json_error(NULL, "%s: %s", dbpath, sqlite3_errmsg(db));
		return NULL;
	}
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		s = va_arg(ap, const char *);
		if (s == NULL)
			sqlite3_bind_null(q, i + 1);
		else
			sqlite3_bind_text(q, i + 1, s, -1, SQLITE_TRANSIENT);
	}
	va_end(ap);
	a = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		o = json_object();
		for (i = 0; i < sqlite3_column_count(q); i++)
			json_object_set_new(o, sqlite3_column_name(q, i),
			    column_json(q, i));
		json_array_append_new(a, o);
	}
	if (rc != SQLITE_DONE) {
		*err = json_error(NULL, "%s: %s", dbpath, sqlite3_errmsg(db));
		json_decref(a);
		a = NULL;
	}
	sqlite3_finalize(q);
	return a;
}

/* One number from sql; -1 with *err. */
static long long
count(sqlite3 *db, const char *sql, json_t **err, const char *p1,
    const char *p2)
{
	json_t *a = rows(db, sql, err, 2, p1, p2);
	long long n;

	if (a == NULL)
		return -1;
	n = json_integer_value(json_object_iter_value(json_object_iter(
	    json_array_get(a, 0))));
	json_decref(a);
	return n;
}

static int
table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *q;
	int yes;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE "
	    "type = 'table' AND name = ?", -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return yes;
}

/* A page of items: {"total", "limit", "offset", "items"}. */
static json_t *
page(json_t *items, long long total, long limit, long offset)
{
	return json_pack("{sI,si,si,so}", "total", (json_int_t)total,
	    "limit", (int)limit, "offset", (int)offset, "items", items);
}

#define CHECK(x) do { if ((x) == NULL) goto fail; } while (0)

static int
loans(sqlite3 *db, const char *light, const char *grade, long limit,
    long offset, int watch, json_t **out)
{
	char sql[2048], lim[64];
	const char *where = watch ? "watchlist = 1" :
	    "(?1 IS NULL OR light = ?1) AND (?2 IS NULL OR grade = ?2)";
	json_t *items, *err = NULL;
	long long total;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", LAST,
	    where);
	if ((total = count(db, sql, &err, light, grade)) < 0)
		goto fail;
	snprintf(lim, sizeof(lim), "LIMIT %ld OFFSET %ld", limit, offset);
	snprintf(sql, sizeof(sql), "SELECT " LOAN_COLS " FROM %s WHERE %s "
	    "ORDER BY " SEVERITY ", ltv DESC, loan_id %s", LAST, where, lim);
	CHECK(items = rows(db, sql, &err, 2, light, grade));
	*out = page(items, total, limit, offset);
	return 200;
fail:
	*out = err;
	return 503;
}

static int
loan(sqlite3 *db, const char *id, long limit, long offset, json_t **out)
{
	char sql[1024];
	json_t *items, *err = NULL;
	long long total;

	if ((total = count(db, "SELECT count(*) FROM warning WHERE loan_id = "
	    "?", &err, id, NULL)) < 0)
		goto fail;
	if (total == 0) {
		*out = json_error("id", "loan %s: not in the book", id);
		return 404;
	}
	snprintf(sql, sizeof(sql), "SELECT " LOAN_COLS ", prev_light FROM "
	    "warning WHERE loan_id = ? ORDER BY observed_at LIMIT %ld OFFSET "
	    "%ld", limit, offset);
	CHECK(items = rows(db, sql, &err, 1, id));
	*out = page(items, total, limit, offset);
	json_object_set_new(*out, "loan_id", json_string(id));
	return 200;
fail:
	*out = err;
	return 503;
}

/* Loans per light and grade, on the watch list, and lights by month. */
static int
summary(sqlite3 *db, json_t **out)
{
	json_t *lights, *grades, *months, *err = NULL, *total;

	CHECK(total = rows(db, "SELECT count(*) AS loans, sum(loan_balance) "
	    "AS balance, sum(value) AS value, sum(watchlist) AS watchlist, "
	    ISO("max(observed_at)") " AS as_of FROM " LAST, &err, 0));
	CHECK(lights = rows(db, "SELECT light, count(*) AS loans, "
	    "avg(ltv) AS mean_ltv FROM " LAST " GROUP BY light ORDER BY "
	    SEVERITY, &err, 0));
	CHECK(grades = rows(db, "SELECT grade, count(*) AS loans, "
	    "sum(watchlist) AS watchlist FROM " LAST " GROUP BY grade "
	    "ORDER BY grade", &err, 0));
	CHECK(months = rows(db, "SELECT substr(date(observed_at / 1000, "
	    "'unixepoch'), 1, 7) AS month, sum(light = 'GREEN') AS GREEN, "
	    "sum(light = 'YELLOW') AS YELLOW, sum(light = 'RED') AS RED FROM "
	    "warning WHERE loan_id IS NOT NULL GROUP BY month ORDER BY month",
	    &err, 0));
	*out = json_pack("{so,so,so,so}", "book", json_array_get(total, 0),
	    "lights", lights, "grades", grades, "months", months);
	json_incref(json_array_get(total, 0));
	json_decref(total);
	return 200;
fail:
	*out = err;
	return 503;
}

static int
index_series(sqlite3 *db, const char *segment, json_t **out)
{
	json_t *idx, *cpi, *err = NULL;

	CHECK(idx = rows(db, "SELECT date(period * 86400, 'unixepoch') AS "
	    "period, value, value_se, value_n, volume FROM idx WHERE segment "
	    "= ? AND region = '*' ORDER BY period", &err, 1, segment));
	if (table_exists(db, "cpi"))
		CHECK(cpi = rows(db, "SELECT date(\"IndexObs.period\" * 86400, "
		    "'unixepoch') AS period, \"IndexObs.value\" AS value FROM "
		    "cpi WHERE \"IndexObs.period\" >= (SELECT min(period) - 366 "
		    "FROM idx) AND \"IndexObs.period\" <= (SELECT max(period) "
		    "FROM idx) ORDER BY \"IndexObs.period\"", &err, 0));
	else
		cpi = json_array();
	*out = json_pack("{ss,so,so}", "segment", segment, "index", idx,
	    "cpi", cpi);
	return 200;
fail:
	*out = err;
	return 503;
}

static int
table_page(sqlite3 *db, const char *sql, const char *countsql, long limit,
    long offset, json_t **out)
{
	char q[1024];
	json_t *items, *err = NULL;
	long long total;

	if ((total = count(db, countsql, &err, NULL, NULL)) < 0)
		goto fail;
	snprintf(q, sizeof(q), "%s LIMIT %ld OFFSET %ld", sql, limit, offset);
	CHECK(items = rows(db, q, &err, 0));
	*out = page(items, total, limit, offset);
	return 200;
fail:
	*out = err;
	return 503;
}

int
board_request(const char *path, const char *light, const char *grade,
    long limit, long offset, const char *segment, json_t **out)
{
	static const struct {
		const char *prefix, *table;
	} needs[] = {
		{ "/v1/loans", "warning" }, { "/v1/watchlist", "warning" },
		{ "/v1/summary", "warning" }, { "/v1/index", "idx" },
		{ "/v1/quality", "quality" }, { "/v1/stress", "stress" },
	};
	sqlite3 *db = NULL;
	size_t i;
	int status;

	if (dbpath == NULL) {
		*out = json_error(NULL, "no database: start cv-serve with -d "
		    "out/cvpipe.db");
		return 503;
	}
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		*out = json_error(NULL, "%s: %s", dbpath, db ?
		    sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return 503;
	}
	sqlite3_busy_timeout(db, 2000);
	for (i = 0; i < NELEM(needs); i++)
		if (strncmp(path, needs[i].prefix, strlen(needs[i].prefix)) ==
		    0 && !table_exists(db, needs[i].table)) {
			*out = json_error(NULL, "%s: no table %s (make run "
			    "makes it)", dbpath, needs[i].table);
			sqlite3_close(db);
			return 503;
		}
	if (strcmp(path, "/v1/loans") == 0)
		status = loans(db, light, grade, limit, offset, 0, out);
	else if (strncmp(path, "/v1/loans/", 10) == 0)
		status = loan(db, path + 10, limit, offset, out);
	else if (strcmp(path, "/v1/watchlist") == 0)
		status = loans(db, NULL, NULL, limit, offset, 1, out);
	else if (strcmp(path, "/v1/summary") == 0)
		status = summary(db, out);
	else if (strcmp(path, "/v1/index") == 0)
		status = index_series(db, segment ? segment : "*", out);
	else if (strcmp(path, "/v1/quality") == 0)
		status = table_page(db, "SELECT rank, source, flag, why, read, "
		    "rejected, top_reason, duplicates, late, stale_days, missing, "
		    "median_dev, median_abs_dev, priced FROM quality WHERE run = "
		    "(SELECT max(run) FROM quality) ORDER BY rank", "SELECT "
		    "count(*) FROM quality WHERE run = (SELECT max(run) FROM "
		    "quality)", limit, offset, out);
	else if (strcmp(path, "/v1/stress") == 0) {
		numeric_text = 1;
		status = table_page(db, "SELECT * FROM stress ORDER BY rowid",
		    "SELECT count(*) FROM stress", limit, offset, out);
		numeric_text = 0;
	}
	else {
		*out = json_error(NULL, "%s: no such resource", path);
		status = 404;
	}
	sqlite3_close(db);
	return status;
}
