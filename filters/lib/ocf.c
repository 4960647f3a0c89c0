/*
 * ocf.c: Avro object container framing (see ocf.h).  The format is the
 * Avro specification's "Object Container Files": magic Obj\1, a metadata
 * map, a 16-byte sync marker, then blocks of (count, size, records, sync).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/ocf.h"
#include "lib/run.h"
#include "lib/util.h"

#define MAGIC		"Obj\1"
#define SYNC_LEN	16
#define MAX_META	(16 << 20)
#define MAX_BLOCK	(256 << 20)
#define BLOCK_FILL	(64 << 10)

enum rstate { R_START, R_BLOCKS, R_FIND_SYNC, R_FIND_MAGIC, R_DEAD };

struct ocf_reader {
	int		 fd;
	char		*name;
	char		*buf;
	size_t		 pos, end, cap;
	int		 eof;
	enum rstate	 state;
	char		 sync[SYNC_LEN];
	char		*schema;
	int		 header_seq;
	int64_t		 block_no, lost;
	char		 err[256];
};

struct ocf_writer {
	int		 fd;
	char		*name;
	char		 sync[SYNC_LEN];
	struct buf	 head;		/* the header, until it is written */
	int		 started;	/* the header is out */
	struct buf	 block;
	int64_t		 count;
	avro_writer_t	 mw;
	int		 failed;
	struct ocf_writer *next;
};

static struct ocf_writer *writers;

static void
set_err(struct ocf_reader *r, const char *fmt, ...) PRINTF(2, 3);

static void
set_err(struct ocf_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

struct ocf_reader *
ocf_reader_open(int fd, const char *name)
{
	struct ocf_reader *r = ecalloc(1, sizeof(*r));

	r->fd = fd;
	r->name = estrdup(name);
	r->cap = 1 << 16;
	r->buf = emalloc(r->cap);
	r->state = R_START;
	return r;
}

void
ocf_reader_close(struct ocf_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->name);
	free(r->schema);
	free(r);
}

/*
 * Make at least n bytes available at r->buf + r->pos, unless input ends
 * first.  Returns the bytes available.  Before blocking on an empty pipe
 * the process's writers are flushed, so an idle chain passes each record
 * on at once.
 */
static size_t
fill(struct ocf_reader *r, size_t n)
{
	ssize_t got;

	while (r->end - r->pos < n && !r->eof) {
		if (r->pos > 0 && r->pos == r->end)
			r->pos = r->end = 0;
		if (r->cap - r->pos < n) {
			memmove(r->buf, r->buf + r->pos, r->end - r->pos);
			r->end -= r->pos;
			r->pos = 0;
			while (r->cap < n)
				r->cap *= 2;
			r->buf = erealloc(r->buf, r->cap);
		}
		if (r->end == r->cap) {
			memmove(r->buf, r->buf + r->pos, r->end - r->pos);
			r->end -= r->pos;
			r->pos = 0;
		}
		if (!run_wait_input(r->fd)) {
			r->eof = 1;	/* a stop signal */
			break;
		}
		got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			set_err(r, "read: %s", strerror(errno));
			r->eof = 1;
			return r->end - r->pos;
		}
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
	return r->end - r->pos;
}

/* Decode a zig-zag varint; -1 if input ends or it runs too long. */
static int
get_long(struct ocf_reader *r, int64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	size_t avail = fill(r, 10);
	unsigned char c;

	do {
		if (avail == 0 || shift > 63)
			return -1;
		c = (unsigned char)r->buf[r->pos++];
		avail--;
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	return 0;
}

size_t
ocf_put_long(char *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	while (z > 0x7f) {
		p[n++] = (char)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	p[n++] = (char)z;
	return n;
}

/* Read a length-prefixed byte string of at most max bytes. */
static char *
get_bytes(struct ocf_reader *r, size_t max, size_t *len)
{
	int64_t n;
	char *s;

	if (get_long(r, &n) < 0 || n < 0 || (uint64_t)n > max)
		return NULL;
	if (fill(r, (size_t)n) < (size_t)n)
		return NULL;
	s = estrndup(r->buf + r->pos, (size_t)n);
	r->pos += (size_t)n;
	*len = (size_t)n;
	return s;
}

static int
read_header(struct ocf_reader *r)
{
	int64_t count, skip;
	char *key, *val;
	size_t klen, vlen;
	char *schema = NULL;
	int ok = 1;

	r->pos += 4;
	for (;;) {
		if (get_long(r, &count) < 0) {
			set_err(r, "header: truncated");
			goto bad;
		}
		if (count == 0)
			break;
		if (count < 0) {
			if (count < -MAX_META) {
				set_err(r, "header: bad metadata count");
				goto bad;
			}
			count = -count;
			if (get_long(r, &skip) < 0) {
				set_err(r, "header: truncated");
				goto bad;
			}
		}
		while (count-- > 0) {
			key = get_bytes(r, MAX_META, &klen);
			val = key ? get_bytes(r, MAX_META, &vlen) : NULL;
			if (val == NULL) {
				free(key);
				set_err(r, "header: truncated or oversized "
				    "metadata");
				goto bad;
			}
			if (strcmp(key, "avro.schema") == 0) {
				free(schema);
				schema = val;
				val = NULL;
			} else if (strcmp(key, "avro.codec") == 0 &&
			    strcmp(val, "null") != 0) {
				set_err(r, "header: codec %.40s: not "
				    "supported (write with codec null)", val);
				ok = 0;
			}
			free(key);
			free(val);
		}
	}
	if (fill(r, SYNC_LEN) < SYNC_LEN) {
		set_err(r, "header: truncated");
		goto bad;
	}
	memcpy(r->sync, r->buf + r->pos, SYNC_LEN);
	r->pos += SYNC_LEN;
	if (!ok)
		goto bad;
	if (schema == NULL) {
		set_err(r, "header: no avro.schema");
		goto bad;
	}
	free(r->schema);
	r->schema = schema;
	r->header_seq++;
	r->state = R_BLOCKS;
	return 0;
bad:
	free(schema);
	r->state = R_FIND_MAGIC;
	return -1;
}

/* Skip forward to just past needle; 0 if found, -1 at end of input. */
static int
seek_past(struct ocf_reader *r, const char *needle, size_t n, int keep)
{
	const char *hit;
	size_t avail;

	for (;;) {
		avail = fill(r, n);
		if (avail < n)
			break;
		hit = memmem(r->buf + r->pos, avail, needle, n);
		if (hit != NULL) {
			r->pos = (size_t)(hit - r->buf) + (keep ? 0 : n);
			return 0;
		}
		r->pos = r->end - (n - 1);
		if (r->eof)
			break;
		fill(r, r->end - r->pos + 4096);
	}
	r->pos = r->end;
	return -1;
}

/*
 * After a damaged block: skip to just past the next sync marker (state
 * R_BLOCKS) or to the next container header (R_FIND_MAGIC sees it at
 * once), whichever is first; -1 at the end of input.
 */
static int
seek_sync_or_magic(struct ocf_reader *r)
{
	const char *sync, *magic, *base;
	size_t avail;

	for (;;) {
		avail = fill(r, SYNC_LEN);
		if (avail < 4)
			break;
		base = r->buf + r->pos;
		sync = avail >= SYNC_LEN ? memmem(base, avail, r->sync,
		    SYNC_LEN) : NULL;
		magic = memmem(base, avail, MAGIC, 4);
		if (magic != NULL && (sync == NULL || magic < sync)) {
			r->pos = (size_t)(magic - r->buf);
			r->state = R_FIND_MAGIC;
			return 0;
		}
		if (sync != NULL) {
			r->pos = (size_t)(sync - r->buf) + SYNC_LEN;
			r->state = R_BLOCKS;
			return 0;
		}
		r->pos = r->end - (SYNC_LEN - 1);
		if (r->eof)
			break;
		fill(r, r->end - r->pos + 4096);
	}
	r->pos = r->end;
	return -1;
}

int
ocf_next_block(struct ocf_reader *r, const char **data, size_t *len,
    int64_t *count)
{
	int64_t n, size;
	size_t avail;

	r->lost = -1;
	r->err[0] = '\0';
	for (;;) {
		switch (r->state) {
		case R_DEAD:
			return 0;
		case R_FIND_SYNC:
			/* The next intact block, or the next file's header,
			 * whichever comes first. */
			if (seek_sync_or_magic(r) < 0)
				return 0;
			continue;
		case R_FIND_MAGIC:
			if (seek_past(r, MAGIC, 4, 1) < 0)
				return 0;
			if (read_header(r) < 0)
				return -1;
			continue;
		case R_START:
			avail = fill(r, 4);
			if (avail == 0) {
				r->state = R_DEAD;
				return r->err[0] ? -1 : 0;
			}
			if (avail < 4 || memcmp(r->buf + r->pos, MAGIC, 4)) {
				set_err(r, "not an Avro container stream "
				    "(bad magic)");
				r->state = R_FIND_MAGIC;
				return -1;
			}
			if (read_header(r) < 0)
				return -1;
			continue;
		case R_BLOCKS:
			break;
		}
		avail = fill(r, 4);
		if (avail == 0)
			return r->err[0] ? (r->state = R_DEAD, -1) : 0;
		if (avail >= 4 && memcmp(r->buf + r->pos, MAGIC, 4) == 0) {
			if (read_header(r) < 0)
				return -1;
			continue;
		}
		r->block_no++;
		if (get_long(r, &n) < 0 || get_long(r, &size) < 0) {
			set_err(r, "block %lld: truncated header",
			    (long long)r->block_no);
			r->state = R_DEAD;
			return -1;
		}
		/* A record takes at least a byte in any schema with fields:
		 * a larger count is corrupt and would overflow the tallies. */
		if (n < 0 || size < 0 || size > MAX_BLOCK || n > size) {
			set_err(r, "block %lld: bad count %lld or size %lld",
			    (long long)r->block_no, (long long)n,
			    (long long)size);
			r->state = R_FIND_SYNC;
			return -1;
		}
		if (fill(r, (size_t)size + SYNC_LEN) < (size_t)size +
		    SYNC_LEN) {
			/* A stop signal ends input cleanly, not as damage. */
			if (run_stop)
				return 0;
			set_err(r, "block %lld: truncated (%zu of %lld "
			    "bytes)", (long long)r->block_no, r->end - r->pos,
			    (long long)size + SYNC_LEN);
			r->lost = n;
			r->pos = r->end;
			r->state = R_DEAD;
			return -1;
		}
		if (memcmp(r->buf + r->pos + size, r->sync, SYNC_LEN) != 0) {
			set_err(r, "block %lld: sync marker mismatch",
			    (long long)r->block_no);
			r->lost = n;
			r->state = R_FIND_SYNC;
			return -1;
		}
		*data = r->buf + r->pos;
		*len = (size_t)size;
		*count = n;
		r->pos += (size_t)size + SYNC_LEN;
		return 1;
	}
}

const char *
ocf_error(const struct ocf_reader *r)
{
	return r->err;
}

int64_t
ocf_lost(const struct ocf_reader *r)
{
	return r->lost;
}

const char *
ocf_schema_text(const struct ocf_reader *r)
{
	return r->schema;
}

int
ocf_header_seq(const struct ocf_reader *r)
{
	return r->header_seq;
}

int64_t
ocf_block_no(const struct ocf_reader *r)
{
	return r->block_no;
}

static int
write_all(int fd, struct iovec *iov, int n)
{
	ssize_t w;

	while (n > 0) {
		w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * The sync marker is derived from the schema text rather than drawn at
 * random, so the same input gives byte-identical output (golden tests,
 * restart equivalence).  Nothing relies on it being unpredictable.
 */
static void
make_sync(char *sync, const char *text)
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p; p++) {
		h1 = (h1 ^ *p) * 0x100000001b3ULL;
		h2 = (h2 ^ *p) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
	}
	memcpy(sync, &h1, 8);
	memcpy(sync + 8, &h2, 8);
}

static void flush_all(void *);

struct ocf_writer *
ocf_writer_open(int fd, const char *name, const char *schema_text)
{
	static const char codec_key[] = "avro.codec", schema_key[] =
	    "avro.schema";
	struct ocf_writer *w = ecalloc(1, sizeof(*w));
	struct buf *h = &w->head;
	char num[10];
	size_t slen = strlen(schema_text);

	static int hooked;

	if (!hooked++)
		run_on_flush(flush_all, NULL);
	w->fd = fd;
	w->name = estrdup(name);
	make_sync(w->sync, schema_text);
	buf_add(h, MAGIC, 4);
	buf_add(h, num, ocf_put_long(num, 2));
	buf_add(h, num, ocf_put_long(num, sizeof(codec_key) - 1));
	buf_add(h, codec_key, sizeof(codec_key) - 1);
	buf_add(h, num, ocf_put_long(num, 4));
	buf_add(h, "null", 4);
	buf_add(h, num, ocf_put_long(num, sizeof(schema_key) - 1));
	buf_add(h, schema_key, sizeof(schema_key) - 1);
	buf_add(h, num, ocf_put_long(num, (int64_t)slen));
	buf_add(h, schema_text, slen);
	buf_add(h, num, ocf_put_long(num, 0));
	buf_add(h, w->sync, SYNC_LEN);
	/* Written with the first block, or by close: nothing goes out
	 * before a record does (a failed run writes nothing). */
	buf_reserve(&w->block, BLOCK_FILL + 4096);
	w->mw = avro_writer_memory(w->block.p, (int64_t)w->block.cap);
	w->next = writers;
	writers = w;
	return w;
}

int
ocf_flush(struct ocf_writer *w)
{
	struct iovec iov[4], *v = iov;
	char head[20];

	if (w->count == 0 || w->failed)
		return w->failed ? -1 : 0;
	if (!w->started) {
		v->iov_base = w->head.p;
		v++->iov_len = w->head.len;
	}
	v->iov_base = head;
	v->iov_len = ocf_put_long(head, w->count);
	v->iov_len += ocf_put_long(head + v->iov_len, (int64_t)w->block.len);
	v++;
	v->iov_base = w->block.p;
	v++->iov_len = w->block.len;
	v->iov_base = w->sync;
	v++->iov_len = SYNC_LEN;
	w->count = 0;
	w->block.len = 0;
	if (write_all(w->fd, iov, (int)(v - iov)) < 0) {
		w->failed = errno;
		return -1;
	}
	w->started = 1;
	return 0;
}

int
ocf_write_value(struct ocf_writer *w, avro_value_t *v)
{
	int rc;

	for (;;) {
		avro_writer_memory_set_dest(w->mw, w->block.p + w->block.len,
		    (int64_t)(w->block.cap - w->block.len));
		rc = avro_value_write(w->mw, v);
		if (rc == 0)
			break;
		/* Only a full buffer is worth growing for. */
		if (rc != ENOSPC) {
			errno = EINVAL;
			return -1;
		}
		if (w->block.len > 0) {
			if (ocf_flush(w) < 0)
				return -1;
			continue;
		}
		if (w->block.cap > MAX_BLOCK) {
			w->failed = EFBIG;
			errno = EFBIG;
			return -1;
		}
		buf_reserve(&w->block, w->block.cap * 2);
	}
	w->block.len += (size_t)avro_writer_tell(w->mw);
	w->count++;
	if (w->block.len >= BLOCK_FILL)
		return ocf_flush(w);
	return w->failed ? -1 : 0;
}

int
ocf_write_raw(struct ocf_writer *w, const void *p, size_t n, int64_t count)
{
	buf_add(&w->block, p, n);
	w->count += count;
	if (w->block.len >= BLOCK_FILL)
		return ocf_flush(w);
	return w->failed ? -1 : 0;
}

int
ocf_writer_close(struct ocf_writer *w, int empty_stream)
{
	struct ocf_writer **pp;
	struct iovec iov;
	int rc;

	if (w == NULL)
		return 0;
	rc = ocf_flush(w);
	if (rc == 0 && !w->started && empty_stream) {
		iov.iov_base = w->head.p;
		iov.iov_len = w->head.len;
		if ((rc = write_all(w->fd, &iov, 1)) < 0)
			w->failed = errno;
	}
	if (w->failed)
		errno = w->failed;
	for (pp = &writers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	avro_writer_free(w->mw);
	buf_free(&w->block);
	buf_free(&w->head);
	free(w->name);
	free(w);
	return rc < 0 ? -1 : 0;
}

/* Every open writer's block, before a reader waits (run_idle()). */
static void
flush_all(void *unused)
{
	struct ocf_writer *w;

	(void)unused;
	for (w = writers; w != NULL; w = w->next)
		ocf_flush(w);
}
