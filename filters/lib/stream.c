/*
 * stream.c: sources and sinks over Avro container streams on files and
 * pipes, and over topics (kin.c, kout.c), with schema resolution.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/avrowalk.h"
#include "lib/evtime.h"
#include "lib/fingerprint.h"
#include "lib/kafka.h"
#include "lib/ocf.h"
#include "lib/resolve.h"
#include "lib/route.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/view.h"

#define STREAM_MAXFIELDS	128

static struct kstate kept;	/* stream_keep_state(), stream_resume() */
/* The partition the record being processed came from, -1 if not from a
 * topic: an index record read from partition p is written to p only. */
static int32_t from_partition = -1;

void
stream_keep_state(void (*reset)(void *), void *arg)
{
	kept.reset = reset;
	kept.reset_arg = arg;
}

void
stream_resume(const struct positions *at,
    void (*save)(void *, const struct positions *), void *arg)
{
	kept.at = at;
	kept.save = save;
	kept.save_arg = arg;
}

const char *
rec_where(const struct rec *r)
{
	static char where[512];

	if (r->partition >= 0)
		snprintf(where, sizeof(where), "%s[%d]@%lld", r->origin,
		    (int)r->partition, (long long)r->seqno);
	else
		snprintf(where, sizeof(where), "%s: record %lld", r->origin,
		    (long long)r->seqno);
	return where;
}

struct src {
	char		**paths;
	int		  npaths, cur;
	int		  fd;
	struct ocf_reader *ocf;
	int		  header_seq;
	avro_schema_t	  reader;	/* value schema */
	avro_schema_t	  writer;	/* of the current header */
	int		  reader_owned;
	char		 *text;		/* value schema's text */
	char		 *reader_name;	/* embedded schema asked for, or NULL */
	avro_value_iface_t *value_iface;
	avro_value_t	  value;
	avro_value_iface_t *resolver;	/* NULL when writer == reader */
	avro_value_t	  resolved;
	struct projection *proj;	/* when defaults fill reader fields */
	avro_value_iface_t *proj_iface;
	avro_value_t	  projected;
	avro_reader_t	  mem;
	int64_t		  left;		/* records left in the block */
	const char	 *block;	/* the current block */
	size_t		  blocklen, pos;
	struct walker	 *walker;	/* frames records of the writer */
	int		  by_fields;	/* it can give field offsets */
	int		  prefix;	/* > 0: the writer extends the reader,
					 * whose fields are its first prefix */
	unsigned	  off[STREAM_MAXFIELDS + 1];
	int		  lazy;
	/* --from/--until on files: the writer's time fields */
	int		  windowed;
	struct evtime	 *evt;
	/* a merge of several sources */
	struct src	**subs;
	struct rec	**heads;	/* NULL: that input has ended */
	int64_t		 *head_t;
	int		  nsubs, current;
	int64_t		(*time)(struct rec *);
	int64_t		  seqno;
	struct rec	  rec;
	/* a Kafka source (-t): one message is a one-record block */
	struct kin	 *kin;
	struct kmsg	  kmsg;
	const char	 *kschema;	/* writer schema of the current one */
	struct run_tally  before;	/* the tally before a replayed one */
};

/* A replayed record is done: it leaves no trace in the tally. */
static void
replay_done(struct src *s)
{
	if (!run_replaying)
		return;
	run_tally = s->before;
	run_tally.replayed++;
	run_replaying = 0;
}

struct src *
src_open(char *const *paths, int n, const char *reader_schema)
{
	static char *dash[] = { "-" };
	struct src *s = ecalloc(1, sizeof(*s));
	int i;

	kafka_check(n);
	if (n == 0) {
		paths = dash;
		n = 1;
	}
	s->paths = ecalloc((size_t)n, sizeof(*s->paths));
	for (i = 0; i < n; i++)
		s->paths[i] = estrdup(paths[i]);
	s->npaths = n;
	s->cur = -1;
	s->fd = -1;
	if (reader_schema != NULL) {
		s->reader = schema_get(reader_schema);
		s->reader_name = estrdup(reader_schema);
		s->text = estrdup(schema_text(reader_schema));
		s->value_iface = avro_generic_class_from_schema(s->reader);
		avro_generic_value_new(s->value_iface, &s->value);
	}
	s->mem = avro_reader_memory("", 0);
	s->rec.partition = -1;
	s->rec.timestamp_ms = -1;
	s->rec.owner = s;
	s->rec.off = s->off;
	s->rec.nfields = -1;
	if (kafka_input())
		s->kin = kin_open(kept.reset != NULL ? &kept : NULL);
	else
		s->windowed = kafka.from != INT64_MIN ||
		    kafka.until != INT64_MAX;
	return s;
}

static void
drop_resolver(struct src *s)
{
	if (s->resolver != NULL) {
		avro_value_decref(&s->resolved);
		avro_value_iface_decref(s->resolver);
		s->resolver = NULL;
	}
	if (s->proj != NULL) {
		avro_value_decref(&s->projected);
		avro_value_iface_decref(s->proj_iface);
		projection_free(s->proj);
		s->proj = NULL;
	}
}

static int use_schema(struct src *, const char *, const char *);

static int
use_header(struct src *s)
{
	return use_schema(s, ocf_schema_text(s->ocf), s->paths[s->cur]);
}

/*
 * The next Kafka message as a block of one record: 1, 0 at the end, -1
 * to stop.  A message of another writer schema sets that one up.
 */
static int
kafka_block(struct src *s)
{
	struct kmsg *m = &s->kmsg;
	int rc;

	for (;;) {
		if ((rc = kin_next(s->kin, m)) <= 0)
			return rc;
		if (s->kschema == NULL || strcmp(s->kschema, m->schema) != 0) {
			s->kschema = m->schema;
			if (use_schema(s, schema_text(m->schema), m->topic) < 0)
				return -1;
		}
		if (s->writer == NULL) {	/* rejected: an unreadable schema */
			kin_ack(s->kin, m->topic, m->partition, m->offset);
			continue;
		}
		s->block = m->body;
		s->blocklen = m->len;
		s->pos = 0;
		s->left = 1;
		return 1;
	}
}

static void
close_input(struct src *s)
{
	ocf_reader_close(s->ocf);
	s->ocf = NULL;
	if (s->fd > 0)
		close(s->fd);
	s->fd = -1;
}

/* Open the next input; -1 when there is none left. */
static int
open_next(struct src *s)
{
	const char *path;

	close_input(s);
	while (++s->cur < s->npaths) {
		path = s->paths[s->cur];
		if (strcmp(path, "-") == 0)
			s->fd = 0;
		else if ((s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			if (reject(path, 0, NULL, 0, NULL, "%s",
			    strerror(errno)) < 0)
				return -2;
			continue;
		}
		s->ocf = ocf_reader_open(s->fd, path);
		s->header_seq = 0;
		s->seqno = 0;
		return 0;
	}
	return -1;
}

static const char *
schema_label(avro_schema_t sc)
{
	return is_avro_named_type(sc) ? avro_schema_name(sc) :
	    avro_schema_type_name(sc);
}

/*
 * A resolver from the writer schema to target, or NULL with avro-c's
 * error.  avro-c 1.11 reads freed memory when one branch of a writer
 * union fails to resolve and another follows
 * (tests/fuzz/crashes/avroc-union-*), so each branch is tried on its own
 * first.
 */
/*
 * Resolve the writer to the reader; where avro-c refuses only because
 * the reader has defaulted fields the writer lacks, resolve to the
 * projection without them (resolve.h).  -1 with *msg set on failure.
 */
/*
 * avro-c 1.11 crashes resolving some writer unions as a whole unless each
 * branch was resolved on its own before (seen with valgrind; the branch
 * resolutions are cheap and thrown away).
 */
static avro_value_iface_t *
resolve_union(avro_schema_t writer, avro_schema_t target)
{
	avro_value_iface_t *r;
	size_t i;

	for (i = 0; is_avro_union(writer) &&
	    i < avro_schema_union_size(writer); i++) {
		r = avro_resolved_writer_new(avro_schema_union_branch(writer,
		    (int)i), target);
		if (r == NULL)
			return NULL;
		avro_value_iface_decref(r);
	}
	return avro_resolved_writer_new(writer, target);
}

static int
make_resolver(struct src *s, const char *text, char **msg)
{
	char why[512], *pwhy = NULL;
	int rc;

	rc = resolve_check(s->writer, s->reader, why, sizeof(why));
	if (rc == 1) {
		s->proj = projection_new(text, s->text, &pwhy);
		if (s->proj == NULL && pwhy != NULL) {
			snprintf(why, sizeof(why), "%s", pwhy);
			rc = -1;
		} else if (s->proj != NULL)
			rc = resolve_check(s->writer,
			    projection_schema(s->proj), why, sizeof(why)) ?
			    -1 : 2;
		free(pwhy);
	}
	/* avro-c is only asked about pairs that resolve. */
	if (rc == 0)
		s->resolver = resolve_union(s->writer, s->reader);
	else if (rc == 2)
		s->resolver = resolve_union(s->writer,
		    projection_schema(s->proj));
	if (s->resolver == NULL) {
		*msg = estrdup(rc < 0 || rc == 1 ? why : avro_strerror());
		projection_free(s->proj);
		s->proj = NULL;
		return -1;
	}
	if (s->proj != NULL) {
		s->proj_iface = avro_generic_class_from_schema(
		    projection_schema(s->proj));
		avro_generic_value_new(s->proj_iface, &s->projected);
	}
	return 0;
}

/*
 * The number of the reader's fields if the writer record begins with
 * them (same names, same types): a later stage's record, which extends
 * the reader's ("extends" in schemas/).  Its first fields' bytes are then
 * a record of the reader's schema as they are.  Else 0.
 */
static int
extends_reader(avro_schema_t writer, avro_schema_t reader)
{
	size_t nr, i;

	if (!is_avro_record(writer) || !is_avro_record(reader))
		return 0;
	nr = avro_schema_record_size(reader);
	if (nr == 0 || avro_schema_record_size(writer) <= nr ||
	    nr > STREAM_MAXFIELDS)
		return 0;
	for (i = 0; i < nr; i++)
		if (strcmp(avro_schema_record_field_name(writer, (int)i),
		    avro_schema_record_field_name(reader, (int)i)) != 0 ||
		    !avro_schema_equal(
		    avro_schema_record_field_get_by_index(writer, (int)i),
		    avro_schema_record_field_get_by_index(reader, (int)i)))
			return 0;
	return (int)nr;
}

/* A new writer schema (a header's, or a message's): parse it and set up
 * resolution to the reader; name says where it came from. */
static int
use_schema(struct src *s, const char *text, const char *name)
{
	char *canon, *why, *msg = NULL;
	int rc;

	if (s->writer != NULL)
		avro_schema_decref(s->writer);
	s->writer = NULL;
	drop_resolver(s);
	walker_free(s->walker);
	s->walker = NULL;
	/* Our own parser checks the schema first: avro-c leaks on some
	 * schemas it refuses, and its messages name less. */
	if ((canon = schema_canonical(text, strlen(text), &why)) == NULL) {
		rc = reject(name, 0, NULL, 0, NULL, "header schema: %s", why);
		free(why);
		return rc;
	}
	free(canon);
	if (avro_schema_from_json_length(text, strlen(text), &s->writer)) {
		s->writer = NULL;
		return reject(name, 0, NULL, 0, NULL, "header schema: %s",
		    avro_strerror());
	}
	s->walker = walker_new(s->writer);
	if (s->windowed) {
		evtime_free(s->evt);
		if ((s->evt = evtime_new(s->writer)) == NULL)
			errx(1, "%s: --from/--until: its records have no "
			    "observed_at, published_at or period", name);
	}
	s->by_fields = walker_is_record(s->walker, STREAM_MAXFIELDS);
	s->rec.nfields = -1;
	s->prefix = 0;
	if (walker_recursive(s->walker)) {
		avro_schema_decref(s->writer);
		s->writer = NULL;
		return reject(name, 0, NULL, 0, NULL, "header schema: "
		    "recursive types are not supported");
	}
	if (s->reader == NULL) {
		s->reader = avro_schema_incref(s->writer);
		s->reader_owned = 1;
		s->text = estrdup(text);
		s->value_iface = avro_generic_class_from_schema(s->reader);
		avro_generic_value_new(s->value_iface, &s->value);
	}
	if (avro_schema_equal(s->writer, s->reader))
		return 0;
	if (s->by_fields && (s->prefix = extends_reader(s->writer,
	    s->reader)) > 0)
		return 0;
	if (make_resolver(s, text, &msg) < 0) {
		rc = reject(name, 0, NULL, 0, NULL, "writer schema %s "
		    "does not resolve to %s: %s", schema_label(s->writer),
		    s->reader_name ? s->reader_name : schema_label(s->reader),
		    msg);
		free(msg);
		avro_schema_decref(s->writer);
		s->writer = NULL;
		return rc;
	}
	avro_resolved_writer_new_value(s->resolver, &s->resolved);
	avro_resolved_writer_set_dest(&s->resolved, s->proj ? &s->projected :
	    &s->value);
	return 0;
}

struct src *
src_open_merged(char *const *paths, int n, const char *reader_schema,
    int64_t (*time)(struct rec *))
{
	struct src *m;
	int i;

	if (n <= 1)
		return src_open(paths, n, reader_schema);
	m = ecalloc(1, sizeof(*m));
	m->subs = ecalloc((size_t)n, sizeof(*m->subs));
	m->heads = ecalloc((size_t)n, sizeof(*m->heads));
	m->head_t = ecalloc((size_t)n, sizeof(*m->head_t));
	m->nsubs = n;
	m->time = time;
	m->current = -1;
	m->fd = -1;
	for (i = 0; i < n; i++)
		m->subs[i] = src_open(paths + i, 1, reader_schema);
	return m;
}

/* Fill input i's head; -1 when the policy says stop. */
static int
merge_fill(struct src *m, int i)
{
	int rc = src_next(m->subs[i], &m->heads[i]);

	if (rc <= 0)
		m->heads[i] = NULL;
	else
		m->head_t[i] = m->time(m->heads[i]);
	return rc < 0 ? -1 : 0;
}

static int
merge_next(struct src *m, struct rec **out)
{
	int i, best = -1;

	if (m->current == -1) {
		for (i = 0; i < m->nsubs; i++)
			if (merge_fill(m, i) < 0)
				return -1;
	} else if (merge_fill(m, m->current) < 0)
		return -1;
	for (i = 0; i < m->nsubs; i++)
		if (m->heads[i] != NULL && (best < 0 ||
		    m->head_t[i] < m->head_t[best]))
			best = i;
	m->current = best < 0 ? -2 : best;
	if (best < 0)
		return 0;
	*out = m->heads[best];
	return 1;
}

/* Whether the record just framed (nf fields) is outside the window. */
static int
outside(const struct src *s, int nf)
{
	struct view v;
	int64_t t;

	if (nf < 0 || nf > VIEW_MAXFIELDS)
		return 0;
	v.p = s->rec.raw;
	v.branch = s->rec.branch;
	v.nfields = nf;
	memcpy(v.off, s->off, (size_t)(nf + 1) * sizeof(*v.off));
	t = evtime_of(s->evt, &v);
	return t != INT64_MIN && (t < kafka.from || t >= kafka.until);
}

int
src_next(struct src *s, struct rec **out)
{
	const char *data, *why;
	size_t len;
	int64_t count, lost;
	long span;
	int rc, nf;

	if (s->subs != NULL)
		return s->current == -2 ? 0 : merge_next(s, out);
	for (;;) {
		replay_done(s);
		if (run_halted)	/* e.g. a record that could not be
					 * decoded (src_value()) */
			return -1;
		if (run_stop)
			return 0;
		if (s->left > 0 && s->writer != NULL) {
			if (s->kin != NULL && s->kmsg.replayed) {
				s->before = run_tally;
				run_replaying = 1;
			}
			s->seqno++;
			s->left--;
			run_tally.read++;
			s->rec.seqno = s->seqno;
			if (s->kin == NULL)
				s->rec.origin = s->paths[s->cur];
			else {
				s->rec.origin = s->kmsg.topic;
				s->rec.partition = s->kmsg.partition;
				s->rec.seqno = s->kmsg.offset;
				s->rec.key = s->kmsg.key;
				s->rec.keylen = s->kmsg.keylen;
				s->rec.timestamp_ms = s->kmsg.timestamp;
				from_partition = s->kmsg.partition;
			}
			if (s->by_fields) {
				s->rec.nfields = walker_fields(s->walker,
				    s->block + s->pos, s->blocklen - s->pos,
				    &s->rec.branch, s->off, STREAM_MAXFIELDS,
				    &why);
				span = s->rec.nfields < 0 ? -1 :
				    (long)s->off[s->rec.nfields];
			} else
				span = walker_span(s->walker, s->block + s->pos,
				    s->blocklen - s->pos, &why);
			if (span < 0 && s->kin != NULL) {
				/* A message is one record: it alone is bad. */
				if (reject(rec_where(&s->rec), 1, NULL, 0, NULL,
				    "%s", why) < 0)
					return -1;
				kin_ack(s->kin, s->rec.origin, s->rec.partition,
				    s->rec.seqno);
				continue;
			}
			if (span < 0) {
				/* The rest of the block cannot be framed. */
				run_tally.read += s->left;
				lost = s->left + 1;
				s->left = 0;
				if (reject(rec_where(&s->rec), lost, NULL, 0,
				    NULL, "%s; %lld record(s) of block %lld "
				    "lost", why, (long long)lost,
				    (long long)ocf_block_no(s->ocf)) < 0)
					return -1;
				continue;
			}
			s->rec.undecodable = 0;
			s->rec.raw = s->block + s->pos;
			s->rec.rawlen = (size_t)span;
			nf = s->rec.nfields;
			if (s->prefix > 0) {
				/* Only the reader's fields are the record. */
				s->rec.nfields = s->prefix;
				s->rec.rawlen = s->off[s->prefix];
			}
			s->rec.same_schema = s->resolver == NULL;
			s->rec.value = NULL;
			s->pos += (size_t)span;
			if (s->kin != NULL && s->pos != s->blocklen) {
				if (reject(rec_where(&s->rec), 1, NULL, 0, NULL,
				    "%zu bytes after the record",
				    s->blocklen - s->pos) < 0)
					return -1;
				kin_ack(s->kin, s->rec.origin, s->rec.partition,
				    s->rec.seqno);
				continue;
			}
			if (s->left == 0 && s->pos != s->blocklen &&
			    reject(rec_where(&s->rec), 0, NULL, 0, NULL,
			    "block %lld: %zu bytes after its last record",
			    (long long)ocf_block_no(s->ocf),
			    s->blocklen - s->pos) < 0)
				return -1;
			/* Outside --from/--until: not read, as a topic's
			 * messages there are not. */
			if (s->evt != NULL && outside(s, nf)) {
				run_tally.read--;
				continue;
			}
			*out = &s->rec;
			if (s->lazy || src_value(s, &s->rec) != NULL)
				return 1;
			continue;
		}
		if (s->kin != NULL) {
			if ((rc = kafka_block(s)) <= 0)
				return rc;
			continue;
		}
		if (s->ocf == NULL) {
			rc = open_next(s);
			if (rc == -2)
				return -1;
			if (rc < 0)
				return 0;
		}
		rc = ocf_next_block(s->ocf, &data, &len, &count);
		if (rc == 0) {
			/* A header with no blocks still tells the schema. */
			if (ocf_header_seq(s->ocf) != s->header_seq) {
				s->header_seq = ocf_header_seq(s->ocf);
				if (use_header(s) < 0)
					return -1;
			}
			rc = open_next(s);
			if (rc == -2)
				return -1;
			if (rc < 0)
				return 0;
			continue;
		}
		if (rc < 0) {
			lost = ocf_lost(s->ocf);
			if (lost > 0)
				run_tally.read += lost;
			if (reject(s->paths[s->cur], lost > 0 ? lost : 0, NULL,
			    0, NULL, "%s", ocf_error(s->ocf)) < 0)
				return -1;
			continue;
		}
		if (ocf_header_seq(s->ocf) != s->header_seq) {
			s->header_seq = ocf_header_seq(s->ocf);
			if (use_header(s) < 0)
				return -1;
		}
		if (s->writer == NULL) {
			/* Unusable header: its records cannot be read. */
			run_tally.read += count;
			if (reject(s->paths[s->cur], count, NULL, 0, NULL,
			    "block %lld: %lld record(s) under an unusable "
			    "schema", (long long)ocf_block_no(s->ocf),
			    (long long)count) < 0)
				return -1;
			continue;
		}
		s->block = data;
		s->blocklen = len;
		s->pos = 0;
		s->left = count;
	}
}

void
src_lazy(struct src *s)
{
	int i;

	s->lazy = 1;
	for (i = 0; i < s->nsubs; i++)
		src_lazy(s->subs[i]);
}

avro_value_t *
rec_value(struct rec *r)
{
	return src_value(r->owner, r);
}

avro_value_t *
src_value(struct src *s, struct rec *r)
{
	if (r->value != NULL)
		return r->value;
	if (r->undecodable)
		return NULL;
	s = r->owner;		/* a merge's records are its inputs' */
	avro_reader_memory_set_source(s->mem, r->raw, (int64_t)r->rawlen);
	avro_value_reset(&s->value);
	if (s->proj != NULL)
		avro_value_reset(&s->projected);
	if (avro_value_read(s->mem, s->resolver ? &s->resolved :
	    &s->value) == 0 && (s->proj == NULL ||
	    projection_fill(s->proj, &s->value, &s->projected) == 0))
		return r->value = &s->value;
	r->undecodable = 1;
	/* Under the fail policy, reject() sets run_halted: the next
	 * src_next() says stop. */
	reject(rec_where(r), 1, NULL, 0, NULL, "cannot decode: %s",
	    avro_strerror());
	return NULL;
}

void
src_ack(struct src *s, struct rec *r)
{
	(void)s;
	s = r->owner;		/* a merge's records are its inputs' */
	if (s->kin != NULL)
		kin_ack(s->kin, r->origin, r->partition, r->seqno);
}

avro_schema_t
src_schema(struct src *s)
{
	if (s->subs != NULL)
		return src_schema(s->subs[0]);
	return s->reader;
}

const char *
src_schema_text(struct src *s)
{
	if (s->subs != NULL)
		return src_schema_text(s->subs[0]);
	return s->text;
}

void
src_close(struct src *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsubs; i++)
		src_close(s->subs[i]);
	free(s->subs);
	free(s->heads);
	free(s->head_t);
	replay_done(s);
	close_input(s);
	kin_close(s->kin);
	drop_resolver(s);
	walker_free(s->walker);
	evtime_free(s->evt);
	if (s->value_iface != NULL) {
		avro_value_decref(&s->value);
		avro_value_iface_decref(s->value_iface);
	}
	if (s->writer != NULL)
		avro_schema_decref(s->writer);
	if (s->reader_owned)
		avro_schema_decref(s->reader);
	if (s->mem != NULL)
		avro_reader_free(s->mem);
	for (i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->text);
	free(s->reader_name);
	free(s);
}

struct sink {
	char		*path;
	int		 fd;
	struct ocf_writer *ocf;
	struct kout	*kout;		/* -T: a topic instead */
	struct router	*router;	/* its records' keys and times */
	struct buf	 enc;		/* a value encoded for it */
	avro_writer_t	 mw;
	int		 memory;	/* sink_open_memory(): records in enc */
};

struct sink *
sink_open_memory(void)
{
	struct sink *k = ecalloc(1, sizeof(*k));

	k->path = estrdup("memory");
	k->memory = 1;
	return k;
}

const char *
sink_memory(struct sink *k, size_t *len)
{
	*len = k->enc.len;
	return k->enc.p;
}

void
sink_memory_clear(struct sink *k)
{
	buf_clear(&k->enc);
}

struct sink *
sink_open(const char *path, const char *schema_text)
{
	struct sink *k = ecalloc(1, sizeof(*k));

	if (kafka_output()) {
		if (path != NULL)
			errx(2, "-T: write a topic or a file, not both");
		k->path = estrdup(kafka.out_topic);
		k->kout = kout_open(schema_text);
		k->router = route_new(kout_schema(k->kout));
		k->mw = avro_writer_memory("", 0);
		return k;
	}
	if (path == NULL || strcmp(path, "-") == 0) {
		k->path = estrdup("stdout");
		k->fd = 1;
	} else {
		k->path = estrdup(path);
		k->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0666);
		if (k->fd < 0)
			err(1, "%s", path);
	}
	k->ocf = ocf_writer_open(k->fd, k->path, schema_text);
	return k;
}

static void
to_topic_routed(struct sink *k, const void *p, size_t n,
    const struct route *r)
{
	kout_put(k->kout, p, n, r->key, r->keylen, r->time_ms,
	    !r->everywhere ? KOUT_BY_KEY : from_partition >= 0 ?
	    from_partition : KOUT_EVERY);
}

/* To the topic: keyed and timed by the record's type (lib/route.h),
 * unless the filter gave a key. */
static void
to_topic(struct sink *k, const void *p, size_t n, const void *key,
    size_t keylen)
{
	struct route r;

	route_of(k->router, p, n, &r);
	if (key != NULL) {
		r.key = key;
		r.keylen = keylen;
	}
	to_topic_routed(k, p, n, &r);
}

void
sink_put(struct sink *k, avro_value_t *v, const void *key, size_t keylen)
{
	if (run_replaying)
		return;
	if (k->kout != NULL) {
		buf_clear(&k->enc);
		if (enc_value(&k->enc, k->mw, v) < 0)
			errx(1, "%s: cannot encode: %s", k->path,
			    avro_strerror());
		to_topic(k, k->enc.p, k->enc.len, key, keylen);
		run_tally.written++;
		return;
	}
	if (ocf_write_value(k->ocf, v) < 0) {
		if (errno == EINVAL)
			errx(1, "%s: cannot encode: %s", k->path,
			    avro_strerror());
		err(1, "%s", k->path);
	}
	run_tally.written++;
}

void
sink_put_raw(struct sink *k, const void *p, size_t n, const void *key,
    size_t keylen)
{
	if (run_replaying)
		return;
	if (k->memory) {
		buf_add(&k->enc, p, n);
		run_tally.written++;
		return;
	}
	if (k->kout != NULL) {
		to_topic(k, p, n, key, keylen);
		run_tally.written++;
		return;
	}
	if (ocf_write_raw(k->ocf, p, n, 1) < 0)
		err(1, "%s", k->path);
	run_tally.written++;
}

void
sink_put_rec(struct sink *k, const struct rec *r)
{
	struct view v;
	struct route rt;

	if (run_replaying || k->kout == NULL || view_of_rec(&v, r) < 0) {
		sink_put_raw(k, r->raw, r->rawlen, NULL, 0);
		return;
	}
	/* The fields the source found while checking it: no second walk. */
	route_of_view(k->router, &v, &rt);
	to_topic_routed(k, r->raw, r->rawlen, &rt);
	run_tally.written++;
}

void
sink_close(struct sink *k)
{
	int64_t lost;

	if (k == NULL)
		return;
	if (k->memory) {
		buf_free(&k->enc);
		free(k->path);
		free(k);
		return;
	}
	if (k->kout != NULL) {
		route_free(k->router);
		if ((lost = kout_close(k->kout)) > 0) {
			warnx("%s: %lld records not delivered", k->path,
			    (long long)lost);
			run_fail();
		}
		avro_writer_free(k->mw);
		buf_free(&k->enc);
		free(k->path);
		free(k);
		return;
	}
	/* An input that failed leaves no stream (not even its header). */
	if (ocf_writer_close(k->ocf, !run_failed()) < 0)
		err(1, "%s", k->path);
	if (k->fd > 1 && close(k->fd) < 0)
		err(1, "%s", k->path);
	free(k->path);
	free(k);
}

