/* kafka.c: topics as record sources and sinks (see kafka.h). */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "lib/avrowalk.h"
#include "lib/fingerprint.h"
#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/view.h"

struct kafka_conf kafka = { .from = INT64_MIN, .until = INT64_MAX };
int32_t kafka_from_partition = -1;

/* Deliveries, over the process: failures make the exit status 1. */
static int64_t delivered, undelivered;
/* The producer, if any: the consumer flushes it before storing offsets. */
static rd_kafka_t *producer;

/* glibc's name of the program, as err(3) prints it. */
extern char *program_invocation_short_name;

static void
add_topics(const char *list)
{
	char *copy = estrdup(list), *p, *save = NULL;

	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		kafka.topics = erealloc(kafka.topics,
		    ((size_t)kafka.ntopics + 1) * sizeof(*kafka.topics));
		kafka.topics[kafka.ntopics++] = estrdup(p);
	}
	free(copy);
}

static void
add_prop(const char *kv)
{
	if (strchr(kv, '=') == NULL)
		errx(2, "-X %s: not key=value", kv);
	kafka.props = erealloc(kafka.props, ((size_t)kafka.nprops + 1) *
	    sizeof(*kafka.props));
	kafka.props[kafka.nprops++] = estrdup(kv);
}

/* Properties from a file, one key=value a line (# comments), as kcat. */
static void
add_prop_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *s, *e;
	size_t cap = 0;
	long n = 0;

	if (fp == NULL)
		err(2, "-F %s", path);
	while (getline(&line, &cap, fp) != -1) {
		n++;
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' ||
		    e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if (strchr(s, '=') == NULL)
			errx(2, "%s:%ld: not key=value", path, n);
		add_prop(s);
	}
	free(line);
	fclose(fp);
}

static int64_t
time_arg(const char *opt, const char *s)
{
	int64_t ms;
	const char *why;

	if (time_parse(s, NULL, &ms, &why) < 0)
		errx(2, "%s %s: %s", opt, s, why);
	return ms;
}

int
kafka_option(int c, const char *arg)
{
	switch (c) {
	case 'b':
		free(kafka.brokers);
		kafka.brokers = estrdup(arg);
		return 1;
	case 'E':
		kafka.exit_at_end = 1;
		return 1;
	case 'F':
		add_prop_file(arg);
		return 1;
	case 'G':
		free(kafka.group);
		kafka.group = estrdup(arg);
		return 1;
	case 't':
		add_topics(arg);
		return 1;
	case 'T':
		free(kafka.out_topic);
		kafka.out_topic = estrdup(arg);
		return 1;
	case 'X':
		add_prop(arg);
		return 1;
	case KAFKA_OPT_FROM:
		kafka.from = time_arg("--from", arg);
		return 1;
	case KAFKA_OPT_UNTIL:
		kafka.until = time_arg("--until", arg);
		return 1;
	}
	return 0;
}

void
kafka_help(FILE *fp)
{
	fprintf(fp,
	    "Kafka (see README, Kafka):\n"
	    "  -b, --brokers LIST    bootstrap brokers (host:port,...)\n"
	    "  -t, --topic T[,T]     read these topics instead of files\n"
	    "  -T, --output-topic T  write this topic instead of a file\n"
	    "  -G, --group G         consumer group (cvpipe.PROGRAM)\n"
	    "  -X, --property K=V    a librdkafka property, passed through\n"
	    "  -F, --kafka-config F  librdkafka properties, one K=V a line\n"
	    "  -E, --exit-at-end     stop at the end of every partition\n"
	    "      --from TIME       start at the first message of TIME\n"
	    "      --until TIME      stop before the messages of TIME\n");
}

int
kafka_input(void)
{
	return kafka.ntopics > 0;
}

int
kafka_output(void)
{
	return kafka.out_topic != NULL;
}

void
kafka_check(int nfiles)
{
	if ((kafka_input() || kafka_output()) && (kafka.brokers == NULL ||
	    *kafka.brokers == '\0'))
		errx(2, "-t and -T need brokers (-b)");
	if (kafka_input() && nfiles > 0)
		errx(2, "-t: read topics or files, not both");
	if (!kafka_input() && (kafka.exit_at_end ||
	    kafka.from != INT64_MIN || kafka.until != INT64_MAX))
		errx(2, "-E, --from and --until apply to topics (-t)");
}

/* A configuration with the brokers and the pass-through properties. */
static rd_kafka_conf_t *
new_conf(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512], *k;
	int i;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", kafka.brokers, err,
	    sizeof(err)) != RD_KAFKA_CONF_OK)
		errx(2, "-b: %s", err);
	for (i = 0; i < kafka.nprops; i++) {
		k = estrdup(kafka.props[i]);
		*strchr(k, '=') = '\0';
		if (rd_kafka_conf_set(conf, k, k + strlen(k) + 1, err,
		    sizeof(err)) != RD_KAFKA_CONF_OK)
			errx(2, "-X %s: %s", kafka.props[i], err);
		free(k);
	}
	return conf;
}

static void
set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[512];

	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK)
		errx(2, "%s=%s: %s", k, v, err);
}

/* A property the user set with -X or -F? */
static int
user_set(const char *k)
{
	size_t n = strlen(k);
	int i;

	for (i = 0; i < kafka.nprops; i++)
		if (strncmp(kafka.props[i], k, n) == 0 &&
		    kafka.props[i][n] == '=')
			return 1;
	return 0;
}

/* The embedded schemas by fingerprint, found once. */
static struct known {
	uint64_t	 fp;
	const char	*name;
} known[64];
static int nknown = -1;

static void
find_schemas(void)
{
	const char **names = schema_names();
	const char *text;
	char *why;
	int i;

	if (nknown >= 0)
		return;
	nknown = 0;
	for (i = 0; names[i] != NULL && nknown < (int)NELEM(known); i++) {
		text = schema_text(names[i]);
		if (schema_fingerprint(text, strlen(text), &known[nknown].fp,
		    &why) < 0) {
			warnx("schema %s: %s", names[i], why);
			free(why);
			continue;
		}
		known[nknown++].name = names[i];
	}
}

static const char *
schema_by_fp(uint64_t fp)
{
	int i;

	find_schemas();
	for (i = 0; i < nknown; i++)
		if (known[i].fp == fp)
			return known[i].name;
	return NULL;
}

/*
 * Consumer.  Offsets are stored by hand (enable.auto.offset.store off)
 * and committed by librdkafka's timer and on revoke and close; they are
 * stored only at a checkpoint, after the producer (if any) has delivered
 * everything produced so far, and never after a failed delivery.
 */
struct kin {
	rd_kafka_t			*rk;
	rd_kafka_message_t		*msg;	/* the one handed out */
	rd_kafka_topic_partition_list_t	*acked;	/* next offsets to store */
	rd_kafka_topic_partition_list_t	*assigned;
	int				*at_end;	/* per assigned */
	double				 last_checkpoint;
	int				 scan_from;	/* -1: lookup failed */
};

/* Store the acknowledged offsets once the outputs are delivered. */
static void
checkpoint(struct kin *in)
{
	rd_kafka_resp_err_t e;

	stream_idle();		/* outputs to files and pipes */
	if (producer != NULL) {
		e = rd_kafka_flush(producer, 60 * 1000);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
			warnx("kafka: flush: %s", rd_kafka_err2str(e));
	}
	in->last_checkpoint = now_seconds();
	if (undelivered > 0 || in->acked->cnt == 0)
		return;
	e = rd_kafka_offsets_store(in->rk, in->acked);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    e != RD_KAFKA_RESP_ERR__STATE)
		warnx("kafka: storing offsets: %s", rd_kafka_err2str(e));
	rd_kafka_topic_partition_list_destroy(in->acked);
	in->acked = rd_kafka_topic_partition_list_new(8);
}

static int
assigned_index(struct kin *in, const char *topic, int32_t p)
{
	int i;

	for (i = 0; in->assigned && i < in->assigned->cnt; i++)
		if (in->assigned->elems[i].partition == p &&
		    strcmp(in->assigned->elems[i].topic, topic) == 0)
			return i;
	return -1;
}

/* Start each partition at --from: by timestamp where the broker can say,
 * else from the beginning, skipping earlier messages (a scan). */
static void
seek_from(struct kin *in, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_resp_err_t e;
	int i;

	for (i = 0; i < parts->cnt; i++)
		parts->elems[i].offset = kafka.from;
	e = rd_kafka_offsets_for_times(in->rk, parts, 10 * 1000);
	for (i = 0; i < parts->cnt; i++)
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR || parts->elems[i].err ||
		    parts->elems[i].offset < 0) {
			parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
			in->scan_from = 1;
		}
}

static void
rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kin *in = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (kafka.from != INT64_MIN)
			seek_from(in, parts);
		if (in->assigned)
			rd_kafka_topic_partition_list_destroy(in->assigned);
		in->assigned = rd_kafka_topic_partition_list_copy(parts);
		free(in->at_end);
		in->at_end = ecalloc((size_t)parts->cnt + 1, sizeof(int));
		rd_kafka_assign(rk, parts);
	} else {
		/* Before the partitions go: what is done is committed. */
		checkpoint(in);
		if (rd_kafka_assignment_lost(rk) == 0)
			rd_kafka_commit(rk, NULL, 0);
		if (in->assigned)
			rd_kafka_topic_partition_list_destroy(in->assigned);
		in->assigned = NULL;
		rd_kafka_assign(rk, NULL);
	}
}

struct kin *
kin_open(void)
{
	struct kin *in = ecalloc(1, sizeof(*in));
	rd_kafka_conf_t *conf = new_conf();
	char err[512], group[256];
	int i;

	snprintf(group, sizeof(group), "cvpipe.%s",
	    program_invocation_short_name);
	set(conf, "group.id", kafka.group ? kafka.group : group);
	set(conf, "enable.auto.offset.store", "false");
	if (!user_set("auto.offset.reset"))
		set(conf, "auto.offset.reset", "earliest");
	if (kafka.exit_at_end)
		set(conf, "enable.partition.eof", "true");
	rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	rd_kafka_conf_set_opaque(conf, in);
	if ((in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err,
	    sizeof(err))) == NULL)
		errx(1, "kafka: %s", err);
	rd_kafka_poll_set_consumer(in->rk);
	{
		rd_kafka_topic_partition_list_t *t =
		    rd_kafka_topic_partition_list_new(kafka.ntopics);
		rd_kafka_resp_err_t e;

		for (i = 0; i < kafka.ntopics; i++)
			rd_kafka_topic_partition_list_add(t, kafka.topics[i],
			    RD_KAFKA_PARTITION_UA);
		if ((e = rd_kafka_subscribe(in->rk, t)) != 0)
			errx(1, "kafka: subscribe: %s", rd_kafka_err2str(e));
		rd_kafka_topic_partition_list_destroy(t);
	}
	in->acked = rd_kafka_topic_partition_list_new(8);
	in->last_checkpoint = now_seconds();
	return in;
}

/* Every assigned partition at its end (or past --until)? */
static int
all_at_end(struct kin *in)
{
	int i;

	if (in->assigned == NULL || in->assigned->cnt == 0)
		return 0;
	for (i = 0; i < in->assigned->cnt; i++)
		if (!in->at_end[i])
			return 0;
	return 1;
}

static void
mark_end(struct kin *in, const char *topic, int32_t p)
{
	int i = assigned_index(in, topic, p);

	if (i >= 0)
		in->at_end[i] = 1;
}

void
kin_ack(struct kin *in, const char *topic, int32_t p, int64_t offset)
{
	rd_kafka_topic_partition_t *t;

	t = rd_kafka_topic_partition_list_find(in->acked, topic, p);
	if (t == NULL)
		t = rd_kafka_topic_partition_list_add(in->acked, topic, p);
	if (offset + 1 > t->offset)
		t->offset = offset + 1;
}

/* A message's framing: 0 and *m filled, or -1 with *why. */
static int
unframe(const rd_kafka_message_t *msg, struct kmsg *m, const char **why)
{
	const unsigned char *p = msg->payload;
	uint64_t fp = 0;
	int i;

	if (msg->len < 10 || p[0] != 0xc3 || p[1] != 0x01) {
		*why = "not Avro single-object encoding (C3 01, "
		    "fingerprint, body)";
		return -1;
	}
	for (i = 0; i < 8; i++)
		fp |= (uint64_t)p[2 + i] << (8 * i);
	if ((m->schema = schema_by_fp(fp)) == NULL) {
		*why = "writer schema fingerprint not among schemas/";
		return -1;
	}
	m->body = (const char *)p + 10;
	m->len = msg->len - 10;
	return 0;
}

int
kin_next(struct kin *in, struct kmsg *m)
{
	rd_kafka_message_t *msg;
	rd_kafka_timestamp_type_t tt;
	const char *why;
	char where[300];

	if (in->msg != NULL) {
		rd_kafka_message_destroy(in->msg);
		in->msg = NULL;
	}
	for (;;) {
		if (stream_stop)
			return 0;
		if (now_seconds() - in->last_checkpoint > 1)
			checkpoint(in);
		if ((msg = rd_kafka_consumer_poll(in->rk, 0)) == NULL) {
			/* About to wait: downstream gets what we have. */
			stream_idle();
			if (kafka.exit_at_end && all_at_end(in))
				return 0;
			if ((msg = rd_kafka_consumer_poll(in->rk, 100)) ==
			    NULL)
				continue;
		}
		if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			mark_end(in, rd_kafka_topic_name(msg->rkt),
			    msg->partition);
			rd_kafka_message_destroy(msg);
			if (kafka.exit_at_end && all_at_end(in))
				return 0;
			continue;
		}
		if (msg->err) {
			warnx("kafka: %s%s%s", msg->rkt ?
			    rd_kafka_topic_name(msg->rkt) : "", msg->rkt ?
			    ": " : "", rd_kafka_message_errstr(msg));
			if (msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
			    msg->err ==
			    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
			    msg->err == RD_KAFKA_RESP_ERR__FATAL) {
				rd_kafka_message_destroy(msg);
				return -1;
			}
			rd_kafka_message_destroy(msg);
			continue;
		}
		m->topic = rd_kafka_topic_name(msg->rkt);
		m->partition = msg->partition;
		m->offset = msg->offset;
		m->timestamp = rd_kafka_message_timestamp(msg, &tt);
		m->key = msg->key;
		m->keylen = msg->key_len;
		if (m->timestamp >= kafka.until) {
			/* This partition's window is over. */
			rd_kafka_topic_partition_list_t *t =
			    rd_kafka_topic_partition_list_new(1);

			rd_kafka_topic_partition_list_add(t, m->topic,
			    m->partition);
			rd_kafka_pause_partitions(in->rk, t);
			rd_kafka_topic_partition_list_destroy(t);
			mark_end(in, m->topic, m->partition);
			rd_kafka_message_destroy(msg);
			if (all_at_end(in))
				return 0;
			continue;
		}
		if (in->scan_from && m->timestamp < kafka.from) {
			kin_ack(in, m->topic, m->partition, m->offset);
			rd_kafka_message_destroy(msg);
			continue;
		}
		if (unframe(msg, m, &why) < 0) {
			snprintf(where, sizeof(where), "%s[%d]@%lld", m->topic,
			    (int)m->partition, (long long)m->offset);
			tally.read++;
			kin_ack(in, m->topic, m->partition, m->offset);
			rd_kafka_message_destroy(msg);
			if (reject(where, 1, NULL, 0, NULL, "%s", why) < 0)
				return -1;
			continue;
		}
		in->msg = msg;
		return 1;
	}
}

void
kin_close(struct kin *in)
{
	if (in == NULL)
		return;
	if (in->msg != NULL)
		rd_kafka_message_destroy(in->msg);
	checkpoint(in);
	rd_kafka_commit(in->rk, NULL, 0);
	rd_kafka_consumer_close(in->rk);
	rd_kafka_destroy(in->rk);
	rd_kafka_topic_partition_list_destroy(in->acked);
	if (in->assigned)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	free(in->at_end);
	free(in);
}

/*
 * Producer.  Idempotent, so retries neither duplicate nor reorder; the
 * key is the record's segment, the timestamp its event time.
 */
struct kout {
	rd_kafka_t	*rk;
	rd_kafka_topic_t *rkt;
	const char	*schema;	/* embedded name */
	unsigned char	 head[10];	/* C3 01 fingerprint */
	struct walker	*walker;
	struct buf	 msg;
	int		 npart;		/* the topic's partitions */
	/* fields used for the key and timestamp, per union branch */
	int		 segment[8], observed[8], published[8];	/* key: */
	int		 period[8];
	int		 is_index[8];
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (msg->err) {
		if (undelivered++ < 5)
			warnx("kafka: delivery to %s[%d] failed: %s",
			    rd_kafka_topic_name(msg->rkt), (int)msg->partition,
			    rd_kafka_err2str(msg->err));
	} else
		delivered++;
}

static int
field_index(avro_schema_t rec, const char *name)
{
	return avro_schema_record_field_get_index(rec, name);
}

struct kout *
kout_open(const char *schema_text)
{
	struct kout *k = ecalloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = new_conf();
	const struct rd_kafka_metadata *md;
	avro_schema_t sc, b;
	uint64_t fp;
	char err[512], *why;
	int i, n;

	if (schema_fingerprint(schema_text, strlen(schema_text), &fp,
	    &why) < 0)
		errx(1, "kafka: output schema: %s", why);
	if ((k->schema = schema_by_fp(fp)) == NULL)
		errx(1, "kafka: output schema is not among schemas/");
	k->head[0] = 0xc3;
	k->head[1] = 0x01;
	for (i = 0; i < 8; i++)
		k->head[2 + i] = (unsigned char)(fp >> (8 * i));
	if (!user_set("enable.idempotence"))
		set(conf, "enable.idempotence", "true");
	if (!user_set("linger.ms"))
		set(conf, "linger.ms", "5");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err,
	    sizeof(err))) == NULL)
		errx(1, "kafka: %s", err);
	k->rkt = rd_kafka_topic_new(k->rk, kafka.out_topic, NULL);
	if (rd_kafka_metadata(k->rk, 0, k->rkt, &md, 10 * 1000) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 ||
	    md->topics[0].err)
		errx(1, "kafka: %s: no such topic, or no broker answered",
		    kafka.out_topic);
	k->npart = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	/* Where the key and the time are, in each kind of record. */
	sc = schema_get(k->schema);
	k->walker = walker_new(sc);
	n = is_avro_union(sc) ? (int)avro_schema_union_size(sc) : 1;
	for (i = 0; i < n && i < 8; i++) {
		b = is_avro_union(sc) ? avro_schema_union_branch(sc, i) : sc;
		k->is_index[i] = strcmp(avro_schema_name(b), "IndexObs") == 0;
		/*
		 * Events go to cv-features, whose state is per segment;
		 * records after it to stages whose state is per vehicle or
		 * loan, and a segment's thousands of records would crowd
		 * one partition.
		 */
		k->segment[i] = field_index(b, is_avro_union(sc) ? "segment" :
		    "vehicle_id");
		if (k->segment[i] < 0)
			k->segment[i] = field_index(b, "segment");
		k->observed[i] = field_index(b, "observed_at");
		k->published[i] = field_index(b, "published_at");
		k->period[i] = field_index(b, "period");
	}
	producer = k->rk;
	return k;
}

static void
produce(struct kout *k, int32_t partition, const char *key, size_t keylen,
    int64_t ts)
{
	rd_kafka_resp_err_t e;

	for (;;) {
		e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt),
		    RD_KAFKA_V_PARTITION(partition),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_VALUE(k->msg.p, k->msg.len),
		    RD_KAFKA_V_KEY(key, keylen),
		    RD_KAFKA_V_TIMESTAMP(ts),
		    RD_KAFKA_V_HEADER("schema", k->schema, -1),
		    RD_KAFKA_V_END);
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(k->rk, 100);
	}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (undelivered++ < 5)
			warnx("kafka: %s: %s", kafka.out_topic,
			    rd_kafka_err2str(e));
	}
	rd_kafka_poll(k->rk, 0);
}

void
kout_put(struct kout *k, const void *body, size_t len)
{
	struct view v;
	const char *why, *key = NULL;
	char seg[256];
	int64_t ts = 0, t;
	int b, i;

	buf_clear(&k->msg);
	buf_add(&k->msg, k->head, sizeof(k->head));
	buf_add(&k->msg, body, len);
	if (view_parse(&v, k->walker, body, len, &why) == 0) {
		b = v.branch < 0 ? 0 : v.branch;
		if (b < 8 && k->segment[b] >= 0)
			key = view_string(&v, k->segment[b], seg, sizeof(seg));
		if (b < 8 && k->observed[b] >= 0)
			ts = view_long(&v, k->observed[b]);
		else if (b < 8 && k->published[b] >= 0 &&
		    (t = view_opt_long(&v, k->published[b])) != INT64_MIN)
			ts = t;
		else if (b < 8 && k->period[b] >= 0)	/* days */
			ts = view_long(&v, k->period[b]) * 86400000;
		if (b < 8 && k->is_index[b] && kafka_from_partition >= 0) {
			/* Read from a partition, which had its own copy: the
			 * copy goes to the same one, not to every one again. */
			produce(k, kafka_from_partition % k->npart, key,
			    key ? strlen(key) : 0, ts);
			return;
		}
		if (b < 8 && k->is_index[b]) {
			/* The market goes to every partition. */
			for (i = 0; i < k->npart; i++)
				produce(k, i, key, key ? strlen(key) : 0, ts);
			return;
		}
	}
	produce(k, RD_KAFKA_PARTITION_UA, key, key ? strlen(key) : 0, ts);
}

int64_t
kout_close(struct kout *k)
{
	int64_t left;

	if (k == NULL)
		return 0;
	rd_kafka_flush(k->rk, 60 * 1000);
	left = rd_kafka_outq_len(k->rk);
	if (left > 0)
		warnx("kafka: %lld messages not delivered in 60 s",
		    (long long)left);
	rd_kafka_topic_destroy(k->rkt);
	rd_kafka_destroy(k->rk);
	if (producer == k->rk)
		producer = NULL;
	walker_free(k->walker);
	buf_free(&k->msg);
	free(k);
	return undelivered + left;
}
