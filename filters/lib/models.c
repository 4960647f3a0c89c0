/* models.c: the valuation model store and the models' terms. */
#include <err.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/db.h"
#include "lib/models.h"
#include "lib/util.h"

const char *const hedonic_terms[HEDONIC_NTERMS] = {
	"const",
	"cond>0.2", "cond>0.3", "cond>0.4", "cond>0.5", "cond>0.6",
	"cond>0.7", "cond>0.8", "cond>0.9", "cond_missing",
	"age>1y", "age>2y", "age>3y", "age>5y", "age>7y", "age>10y",
	"km>50k", "km>100k", "km>150k", "km>200k",
};

/* Knots: condition on 0..1; age in months; mileage in km. */
static const double cond_knots[8] = { .2, .3, .4, .5, .6, .7, .8, .9 };
static const double age_knots[6] = { 12, 24, 36, 60, 84, 120 };
static const double km_knots[4] = { 5e4, 1e5, 1.5e5, 2e5 };

void
hedonic_x(double *x, double condition, double age_months, double km)
{
	int i, k = 0;

	x[k++] = 1;
	for (i = 0; i < 8; i++)
		x[k++] = isnan(condition) ? 0 : fmax(condition - cond_knots[i],
		    0);
	x[k++] = isnan(condition);
	for (i = 0; i < 6; i++)		/* per year past the knot */
		x[k++] = fmax(age_months - age_knots[i], 0) / 12;
	for (i = 0; i < 4; i++)		/* per 10,000 km past the knot */
		x[k++] = isnan(km) ? 0 : fmax(km - km_knots[i], 0) / 1e4;
}

const char *const seed_terms[SEED_NTERMS] = {
	"const", "value", "mpi", "condition", "elasticity"
};

void
seed_x(double *x, double value, double mpi, double condition,
    double elasticity)
{
	x[0] = 1;
	x[1] = value;
	x[2] = mpi;
	x[3] = condition;
	x[4] = elasticity;
}

void
model_check_terms(const struct model *m, int version,
    const char *const *terms, int n)
{
	int i;

	if (m->nterms != n)
		errx(1, "model store version %d: %s model has %d terms, this "
		    "build's has %d; retrain with this cv-train", version,
		    m->kind, m->nterms, n);
	for (i = 0; i < n; i++)
		if (strcmp(m->terms[i], terms[i]) != 0)
			errx(1, "model store version %d: %s term %d is %s, "
			    "this build's is %s; retrain with this cv-train",
			    version, m->kind, i + 1, m->terms[i], terms[i]);
}

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS versions(version INTEGER PRIMARY KEY, "
    "trained_at INTEGER NOT NULL, data_from INTEGER, data_to INTEGER, "
    "rows INTEGER NOT NULL, input TEXT);"
    "CREATE TABLE IF NOT EXISTS models(version INTEGER NOT NULL "
    "REFERENCES versions, kind TEXT NOT NULL, class TEXT NOT NULL, "
    "method TEXT NOT NULL, terms TEXT NOT NULL, coef TEXT NOT NULL, "
    "cov TEXT NOT NULL, n INTEGER NOT NULL, r2 REAL, rmse REAL, "
    "mdape REAL, PRIMARY KEY (version, kind, class));"
    /* A learner's own bytes beside its row (gbm: XGBoost's JSON). */
    "CREATE TABLE IF NOT EXISTS model_bytes(version INTEGER NOT NULL, "
    "kind TEXT NOT NULL, class TEXT NOT NULL, bytes BLOB NOT NULL, "
    "PRIMARY KEY (version, kind, class), FOREIGN KEY (version, kind, "
    "class) REFERENCES models);";

sqlite3 *
models_open(const char *path)
{
	sqlite3 *db = db_open(path);

	db_exec(db, store_schema);
	return db;
}

sqlite3 *
models_open_readonly(const char *path)
{
	sqlite3 *db = db_open_readonly(path);
	sqlite3_stmt *q;

	/* A file that is no store: say so, not "no such table". */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM versions, models LIMIT 1",
	    -1, &q, NULL) != SQLITE_OK) {
		warnx("%s: not a model store (%s)", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		exit(1);
	}
	sqlite3_finalize(q);
	return db;
}

/* A JSON array of numbers or strings into dst; -1 if it is not one. */
static int
json_numbers(const char *text, double *dst, int max)
{
	json_t *a = json_loads(text, 0, NULL), *x;
	size_t i;
	int n = -1;

	if (a != NULL && json_is_array(a) &&
	    json_array_size(a) <= (size_t)max) {
		n = (int)json_array_size(a);
		json_array_foreach(a, i, x) {
			if (json_is_number(x))
				dst[i] = json_number_value(x);
			else if (json_is_null(x))
				dst[i] = NAN;
			else
				n = -1;
		}
	}
	json_decref(a);
	return n;
}

static int
json_terms(const char *text, struct model *m)
{
	json_t *a = json_loads(text, 0, NULL), *x;
	size_t i;
	int n = -1;

	if (a != NULL && json_is_array(a) &&
	    json_array_size(a) <= MODEL_MAXTERMS) {
		n = (int)json_array_size(a);
		json_array_foreach(a, i, x) {
			if (!json_is_string(x) || json_string_length(x) >=
			    sizeof(m->terms[0]))
				n = -1;
			else
				strcpy(m->terms[i], json_string_value(x));
		}
	}
	json_decref(a);
	return n;
}

static const char *
col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *s = sqlite3_column_text(q, i);

	return s ? (const char *)s : "";
}

/* The bytes of the version's models that have them; a store written
 * before there were any has no such table and no such models. */
static void
load_bytes(sqlite3 *db, struct version *ver)
{
	sqlite3_stmt *q;
	struct model *m;
	const void *b;
	int i, n;

	if (sqlite3_prepare_v2(db, "SELECT bytes FROM model_bytes WHERE "
	    "version = ? AND kind = ? AND class = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return;
	for (i = 0; i < ver->nmodels; i++) {
		m = &ver->models[i];
		sqlite3_reset(q);
		sqlite3_bind_int(q, 1, ver->version);
		sqlite3_bind_text(q, 2, m->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, m->class, -1, SQLITE_STATIC);
		if (!db_row(q))
			continue;
		b = sqlite3_column_blob(q, 0);
		n = sqlite3_column_bytes(q, 0);
		m->bytes = emalloc(n > 0 ? (size_t)n : 1);
		if (n > 0)
			memcpy(m->bytes, b, (size_t)n);
		m->nbytes = (size_t)n;
	}
	sqlite3_finalize(q);
}

static void
load_models(sqlite3 *db, struct version *ver)
{
	sqlite3_stmt *q = db_prepare(db, "SELECT kind, class, method, terms, "
	    "coef, cov, n, r2, rmse, mdape FROM models WHERE version = ? "
	    "ORDER BY kind, class");
	struct model *m;
	int nc;

	sqlite3_bind_int(q, 1, ver->version);
	while (db_row(q)) {
		ver->models = erealloc(ver->models,
		    ((size_t)ver->nmodels + 1) * sizeof(*ver->models));
		m = &ver->models[ver->nmodels++];
		memset(m, 0, sizeof(*m));
		snprintf(m->kind, sizeof(m->kind), "%s", col_text(q, 0));
		snprintf(m->class, sizeof(m->class), "%s", col_text(q, 1));
		snprintf(m->method, sizeof(m->method), "%s", col_text(q, 2));
		m->nterms = json_terms(col_text(q, 3), m);
		if (m->nterms < 0 ||
		    json_numbers(col_text(q, 4), m->coef, MODEL_MAXTERMS) !=
		    m->nterms ||
		    (nc = json_numbers(col_text(q, 5), m->cov,
		    MODEL_MAXTERMS * MODEL_MAXTERMS)) != m->nterms * m->nterms)
			errx(1, "model store: version %d, %s %s: damaged "
			    "terms, coefficients or covariance", ver->version,
			    m->kind, m->class);
		(void)nc;
		m->n = sqlite3_column_int64(q, 6);
		m->r2 = sqlite3_column_double(q, 7);
		m->rmse = sqlite3_column_double(q, 8);
		m->mdape = sqlite3_column_double(q, 9);
	}
	sqlite3_finalize(q);
	load_bytes(db, ver);
}

static void
version_row(sqlite3_stmt *q, struct version *ver)
{
	memset(ver, 0, sizeof(*ver));
	ver->version = sqlite3_column_int(q, 0);
	ver->trained_at = sqlite3_column_int64(q, 1);
	ver->data_from = sqlite3_column_int64(q, 2);
	ver->data_to = sqlite3_column_int64(q, 3);
	ver->rows = sqlite3_column_int64(q, 4);
	ver->input = estrdup(col_text(q, 5));
}

#define VERSION_COLS "SELECT version, trained_at, data_from, data_to, " \
	"rows, input FROM versions "
#define HAS_KIND "version IN (SELECT version FROM models WHERE kind = ?) "

int
models_load(sqlite3 *db, int v, const char *kind, struct version *out)
{
	sqlite3_stmt *q = db_prepare(db, v > 0 ?
	    VERSION_COLS "WHERE version = ?" :
	    VERSION_COLS "WHERE " HAS_KIND "ORDER BY version DESC LIMIT 1");
	int found = 0;

	if (v > 0)
		sqlite3_bind_int(q, 1, v);
	else
		sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
	if (db_row(q)) {
		version_row(q, out);
		found = 1;
	}
	sqlite3_finalize(q);
	if (!found)
		return -1;
	load_models(db, out);
	return 0;
}

int
models_load_all(sqlite3 *db, const char *kind, struct version **out)
{
	sqlite3_stmt *q = db_prepare(db, VERSION_COLS "WHERE " HAS_KIND
	    "ORDER BY version");
	int n = 0, i;

	sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
	*out = NULL;
	while (db_row(q)) {
		*out = erealloc(*out, ((size_t)n + 1) * sizeof(**out));
		version_row(q, &(*out)[n++]);
	}
	sqlite3_finalize(q);
	for (i = 0; i < n; i++)
		load_models(db, &(*out)[i]);
	return n;
}

void
version_free(struct version *ver)
{
	int i;

	for (i = 0; i < ver->nmodels; i++)
		free(ver->models[i].bytes);
	free(ver->input);
	free(ver->models);
}

void
versions_free(struct version *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		version_free(&v[i]);
	free(v);
}

const struct model *
version_model(const struct version *ver, const char *kind, const char *class)
{
	int i;

	for (i = 0; i < ver->nmodels; i++)
		if (strcmp(ver->models[i].kind, kind) == 0 &&
		    strcmp(ver->models[i].class, class) == 0)
			return &ver->models[i];
	return NULL;
}

/* Numbers as a JSON array text (caller frees); non-finite as null. */
static char *
numbers_json(const double *x, int n)
{
	json_t *a = json_array();
	char *s;
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, isfinite(x[i]) ? json_real(x[i]) :
		    json_null());
	s = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(a);
	if (s == NULL)
		errx(1, "model store: cannot write JSON");
	return s;
}

void
models_save(sqlite3 *db, struct version *ver)
{
	sqlite3_stmt *q;
	const struct model *m;
	json_t *terms;
	char *t, *c, *v;
	int i, k;

	db_exec(db, "BEGIN IMMEDIATE");
	q = db_prepare(db, "SELECT coalesce(max(version), 0) + 1 FROM "
	    "versions");
	if (!db_row(q))
		errx(1, "model store: no next version");
	ver->version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int(q, 1, ver->version);
	sqlite3_bind_int64(q, 2, ver->trained_at);
	sqlite3_bind_int64(q, 3, ver->data_from);
	sqlite3_bind_int64(q, 4, ver->data_to);
	sqlite3_bind_int64(q, 5, ver->rows);
	sqlite3_bind_text(q, 6, ver->input ? ver->input : "", -1,
	    SQLITE_STATIC);
	db_step_done(db, q);
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?)");
	for (i = 0; i < ver->nmodels; i++) {
		m = &ver->models[i];
		terms = json_array();
		for (k = 0; k < m->nterms; k++)
			json_array_append_new(terms, json_string(m->terms[k]));
		t = json_dumps(terms, JSON_COMPACT);
		json_decref(terms);
		c = numbers_json(m->coef, m->nterms);
		v = numbers_json(m->cov, m->nterms * m->nterms);
		if (t == NULL)
			errx(1, "model store: cannot write JSON");
		sqlite3_bind_int(q, 1, ver->version);
		sqlite3_bind_text(q, 2, m->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, m->class, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, m->method, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, t, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 6, c, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 7, v, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 8, m->n);
		sqlite3_bind_double(q, 9, m->r2);
		sqlite3_bind_double(q, 10, m->rmse);
		sqlite3_bind_double(q, 11, m->mdape);
		db_step_done(db, q);
		free(t);
		free(c);
		free(v);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO model_bytes VALUES (?, ?, ?, ?)");
	for (i = 0; i < ver->nmodels; i++) {
		m = &ver->models[i];
		if (m->bytes == NULL)
			continue;
		sqlite3_reset(q);
		sqlite3_bind_int(q, 1, ver->version);
		sqlite3_bind_text(q, 2, m->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, m->class, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 4, m->bytes, (int)m->nbytes,
		    SQLITE_STATIC);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	db_exec(db, "COMMIT");
}

void
pooled_class(char *buf, size_t len, double model_n)
{
	snprintf(buf, len, "pooled %s", model_n < 1 ? "0" : model_n < 5 ?
	    "1-4" : model_n < 20 ? "5-19" : "20+");
}
