/*
 * cv-features: the pooled model in the state file (-S), as one image in
 * table pool: the levels with their names and counts, the effects, the
 * curve and the sales kept for refits, exactly (a restart refits as the
 * uninterrupted run would have).
 */
#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/db.h"
#include "pool.h"

#define POOL_FORMAT	2

struct reader_pos {
	const char	*p, *end;
	const char	*path;
};

static void
put(struct buf *b, const void *v, size_t n)
{
	if (n > 0)	/* an empty array may be NULL */
		buf_add(b, v, n);
}

static void
get(struct reader_pos *r, void *v, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		errx(1, "%s: pool: damaged (ends early)", r->path);
	if (n > 0)
		memcpy(v, r->p, n);
	r->p += n;
}

void
pool_save(const struct pool *p, sqlite3 *db)
{
	struct buf b = { 0 };
	sqlite3_stmt *q;
	int32_t fmt = POOL_FORMAT, dims[4] = { PK_COUNT, POOL_NGROUPS,
	    POOL_NCURVE, (int32_t)sizeof(struct pool_row) };
	uint64_t n;
	int k, l, g;
	uint32_t len;

	put(&b, &fmt, sizeof(fmt));
	put(&b, dims, sizeof(dims));
	for (k = 0; k < PK_COUNT; k++) {
		put(&b, &p->keys[k].n, sizeof(int));
		for (l = 0; l < p->keys[k].n; l++) {
			len = (uint32_t)strlen(p->keys[k].names[l]);
			put(&b, &len, sizeof(len));
			put(&b, p->keys[k].names[l], len);
		}
		put(&b, p->keys[k].count, (size_t)p->keys[k].n *
		    sizeof(double));
		put(&b, p->keys[k].last_t, (size_t)p->keys[k].n *
		    sizeof(double));
		put(&b, p->keys[k].last_row, (size_t)p->keys[k].n *
		    sizeof(int64_t));
	}
	for (g = 0; g < POOL_NGROUPS; g++) {
		n = (uint64_t)p->keys[pool_groups[g].key].n;
		put(&b, p->u[g], n * sizeof(double));
		put(&b, p->den[g], n * sizeof(double));
	}
	put(&b, p->prior, sizeof(p->prior));
	put(&b, p->beta, sizeof(p->beta));
	put(&b, &p->sigma, sizeof(p->sigma));
	put(&b, &p->noise, sizeof(p->noise));
	put(&b, &p->week_var, sizeof(p->week_var));
	put(&b, &p->sd_scale, sizeof(p->sd_scale));
	put(&b, p->x_lo, sizeof(p->x_lo));
	put(&b, p->x_hi, sizeof(p->x_hi));
	put(&b, &p->fit_t, sizeof(p->fit_t));
	put(&b, &p->fit_week, sizeof(p->fit_week));
	put(&b, &p->fitted, sizeof(p->fitted));
	n = p->since_fit;
	put(&b, &n, sizeof(n));
	n = p->next_fit;
	put(&b, &n, sizeof(n));
	put(&b, &p->nfits, sizeof(p->nfits));
	put(&b, &p->row_base, sizeof(p->row_base));
	n = p->nrows;
	put(&b, &n, sizeof(n));
	put(&b, p->rows, p->nrows * sizeof(*p->rows));
	db_exec(db, "CREATE TABLE IF NOT EXISTS pool(part TEXT PRIMARY KEY, "
	    "image BLOB); DELETE FROM pool");
	q = db_prepare(db, "INSERT INTO pool VALUES ('model', ?)");
	sqlite3_bind_blob64(q, 1, b.p ? b.p : "", b.len, SQLITE_STATIC);
	db_step_done(db, q);
	sqlite3_finalize(q);
	buf_free(&b);
}

void
pool_load(struct pool *p, sqlite3 *db, const char *path)
{
	struct reader_pos r = { NULL, NULL, path };
	sqlite3_stmt *q;
	int32_t fmt, dims[4];
	uint64_t n;
	uint32_t len;
	int k, l, g, nl;
	char *name;

	if (!db_has_table(db, "pool"))
		return;		/* a state from before the pool: none yet */
	q = db_prepare(db, "SELECT image FROM pool WHERE part = 'model'");
	if (!db_row(q)) {
		sqlite3_finalize(q);
		return;
	}
	r.p = sqlite3_column_blob(q, 0);
	r.end = r.p + sqlite3_column_bytes(q, 0);
	get(&r, &fmt, sizeof(fmt));
	get(&r, dims, sizeof(dims));
	if (fmt != POOL_FORMAT || dims[0] != PK_COUNT ||
	    dims[1] != POOL_NGROUPS || dims[2] != POOL_NCURVE ||
	    dims[3] != (int32_t)sizeof(struct pool_row))
		errx(1, "%s: pool: made by another version of cv-features "
		    "(format %d)", path, fmt);
	for (k = 0; k < PK_COUNT; k++) {
		get(&r, &nl, sizeof(nl));
		if (nl < 0 || nl > 100000000)
			errx(1, "%s: pool: damaged (levels)", path);
		for (l = 0; l < nl; l++) {
			get(&r, &len, sizeof(len));
			if ((size_t)(r.end - r.p) < len)
				errx(1, "%s: pool: damaged (ends early)", path);
			name = estrndup(r.p, len);
			r.p += len;
			pool_level_new(p, k, name);
			free(name);
		}
		get(&r, p->keys[k].count, (size_t)nl * sizeof(double));
		get(&r, p->keys[k].last_t, (size_t)nl * sizeof(double));
		get(&r, p->keys[k].last_row, (size_t)nl * sizeof(int64_t));
	}
	pool_grow(p);
	for (g = 0; g < POOL_NGROUPS; g++) {
		n = (uint64_t)p->keys[pool_groups[g].key].n;
		get(&r, p->u[g], n * sizeof(double));
		get(&r, p->den[g], n * sizeof(double));
	}
	get(&r, p->prior, sizeof(p->prior));
	get(&r, p->beta, sizeof(p->beta));
	get(&r, &p->sigma, sizeof(p->sigma));
	get(&r, &p->noise, sizeof(p->noise));
	get(&r, &p->week_var, sizeof(p->week_var));
	get(&r, &p->sd_scale, sizeof(p->sd_scale));
	get(&r, p->x_lo, sizeof(p->x_lo));
	get(&r, p->x_hi, sizeof(p->x_hi));
	get(&r, &p->fit_t, sizeof(p->fit_t));
	get(&r, &p->fit_week, sizeof(p->fit_week));
	get(&r, &p->fitted, sizeof(p->fitted));
	get(&r, &n, sizeof(n));
	p->since_fit = n;
	get(&r, &n, sizeof(n));
	p->next_fit = n;
	get(&r, &p->nfits, sizeof(p->nfits));
	get(&r, &p->row_base, sizeof(p->row_base));
	get(&r, &n, sizeof(n));
	if (n > (uint64_t)(r.end - r.p) / sizeof(*p->rows))
		errx(1, "%s: pool: damaged (rows)", path);
	p->nrows = p->caprows = n;
	p->rows = emalloc((n ? n : 1) * sizeof(*p->rows));
	get(&r, p->rows, n * sizeof(*p->rows));
	for (n = 0; n < p->nrows; n++)
		for (k = 0; k < PK_COUNT; k++)
			if (p->rows[n].lv[k] >= p->keys[k].n ||
			    p->rows[n].lv[k] < -1)
				errx(1, "%s: pool: damaged (a sale's level)",
				    path);
	if (r.p != r.end)
		errx(1, "%s: pool: damaged (bytes after the end)", path);
	sqlite3_finalize(q);
}
