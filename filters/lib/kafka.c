/* kafka.c: topics as record sources and sinks (see kafka.h). */
#include <sys/file.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "lib/avrowalk.h"
#include "lib/fingerprint.h"
#include "lib/framing.h"
#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/view.h"

struct kafka_conf kafka = { .from = INT64_MIN, .until = INT64_MAX,
	.idle = 2, .checkpoint = 1 };
int32_t kafka_from_partition = -1;

/*
 * Deliveries, over the process: failures make the exit status 1.  Every
 * message librdkafka took (produced) comes back delivered, undelivered,
 * or withdrawn with a transaction aborted on purpose; refused: those it
 * did not take (counted in undelivered too).
 */
static int64_t delivered, undelivered, produced, refused, withdrawn;
/* The producer, if any: the consumer flushes it before storing offsets
 * (with --eos: sends them in its transaction). */
static rd_kafka_t *producer;
static int64_t txn_msgs;	/* produced in the open transaction */
/* The consumer, if any: with --eos the producer's close commits the
 * last transaction with its offsets. */
static struct kin *consumer;

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
	case KAFKA_OPT_FRAMING:
		if (strcmp(arg, "confluent") == 0)
			kafka.confluent = 1;
		else if (strcmp(arg, "single-object") == 0)
			kafka.confluent = 0;
		else
			errx(2, "--framing %s: single-object or confluent", arg);
		return 1;
	case KAFKA_OPT_SCHEMA_IDS: {
		char *why;

		if (framing_load_ids(arg, &why) < 0)
			errx(2, "%s", why);
		kafka.schema_ids = arg;
		return 1;
	}
	case KAFKA_OPT_EOS:
		kafka.eos = 1;
		return 1;
	case KAFKA_OPT_CHECKPOINT:
		if (parse_double(arg, &kafka.checkpoint) < 0 ||
		    !(kafka.checkpoint >= 0.01 && kafka.checkpoint <= 3600))
			errx(2, "--checkpoint %s: not a number of seconds from "
			    "0.01 to 3600", arg);
		return 1;
	case KAFKA_OPT_IDLE:
		if (parse_double(arg, &kafka.idle) < 0 ||
		    !(kafka.idle >= 0 && kafka.idle <= 86400))
			errx(2, "--idle %s: not a number of seconds from 0 to "
			    "86400", arg);
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
	    "      --until TIME      stop before the messages of TIME\n"
	    "      --idle S          wait at most S seconds (2) for a\n"
	    "                        partition with nothing, then merge\n"
	    "                        without it\n"
	    "      --framing F       write single-object (default) or\n"
	    "                        confluent messages\n"
	    "      --schema-ids FILE Confluent schema ids, \"ID NAME\" a line\n"
	    "      --eos             exactly once: outputs and input offsets\n"
	    "                        in one transaction (-t and -T)\n"
	    "      --checkpoint S    commit offsets (the transaction, a state\n"
	    "                        file) every S seconds (1)\n");
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
	if (kafka.confluent && kafka.schema_ids == NULL)
		errx(2, "--framing confluent needs --schema-ids");
	if (kafka.eos && (!kafka_input() || !kafka_output()))
		errx(2, "--eos: reads topics and writes one (-t and -T)");
	if (!kafka_input() && kafka.exit_at_end)
		errx(2, "-E applies to topics (-t)");
	if (kafka.from != INT64_MIN && kafka.until != INT64_MAX &&
	    kafka.from >= kafka.until)
		errx(2, "--from is not before --until");
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

/*
 * Consumer.  Offsets are committed by hand, one synchronous commit at a
 * checkpoint (every --checkpoint seconds, when about to wait, on revoke
 * and at close), and only after the producer (if any) has delivered
 * everything produced so far; never after a failed delivery.  A state
 * file (stream_resume()) is written after the commit.
 *
 * The partitions are merged in event time, as files are: each assigned
 * partition's messages wait in a queue of their own, and the next message
 * handed out is the earliest head (message timestamp = event time; ties
 * in the order of the partition list) once every partition has a head, or has
 * kept the others waiting longer than the idle timeout (--idle); with -E
 * a partition at its end does not wait, as nothing more will come.  A
 * partition whose queue is full is paused until it drains.
 */
#define QUEUE_HIGH	(16 << 20)	/* bytes waiting in a partition: pause, */
#define QUEUE_LOW	(4 << 20)	/* resume; well above one fetch */

struct part {
	char			 *topic;
	int32_t			  partition;
	rd_kafka_message_t	**q;	/* ring of waiting messages */
	double			 *arrived;	/* when each came, s */
	size_t			  head, n, cap;
	size_t			  bytes;	/* their payloads */
	int			  at_end;	/* end of partition, or --until */
	int			  done;		/* past --until: paused for good */
	int			  full;		/* paused for a full queue */
	/* keeping the whole state (kin_open with reset) */
	int			  owned;	/* the group gave it to us */
	int64_t			  start;	/* its committed offset then */
	int64_t			  next;		/* after the last handed out */
	int64_t			  end;		/* offset at its end */
};

struct kin {
	rd_kafka_t			*rk;
	rd_kafka_message_t		*msg;	/* the one handed out */
	rd_kafka_topic_partition_list_t	*acked;	/* next offsets to store */
	struct part			*parts;	/* assigned */
	int				 nparts;
	double				 last_checkpoint;
	/* keeping the whole state: rk reads every partition outside the
	 * group; group is the member that owns some and commits them */
	rd_kafka_t			*group;
	struct kstate			 ks;
	int64_t				 handed;	/* messages, ever */
	int64_t				 saved;		/* progress() at the
							 * last ks.save() */
	double				 save_at, save_took;	/* s */
	int				 replay;	/* read all again */
	int				 settled;	/* assigned, not revoked */
	int				 joined;	/* assigned once */
	int				 closing;
	double				 last_group_check;
};

/*
 * --eos: the input offsets go into the producer's transaction, which is
 * committed, and the next one begins.  A transaction that fails is
 * aborted and the filter stops (exit 1): run again, it starts from the
 * last committed offsets, and read_committed consumers never see the
 * aborted outputs.
 */
static void
commit_transaction(struct kin *in)
{
	rd_kafka_consumer_group_metadata_t *g;
	rd_kafka_error_t *e = NULL;

	if (undelivered > 0) {
		rd_kafka_error_destroy(rd_kafka_abort_transaction(producer,
		    60 * 1000));
		errx(1, "kafka: %lld outputs not delivered: transaction "
		    "aborted; run again to go on from the last one committed",
		    (long long)undelivered);
	}
	if (in->acked->cnt == 0 && txn_msgs == 0)
		return;
	if (in->acked->cnt > 0) {
		g = rd_kafka_consumer_group_metadata(in->group ? in->group :
		    in->rk);
		e = rd_kafka_send_offsets_to_transaction(producer, in->acked,
		    g, 60 * 1000);
		rd_kafka_consumer_group_metadata_destroy(g);
	}
	if (e == NULL)
		e = rd_kafka_commit_transaction(producer, 60 * 1000);
	if (e != NULL) {
		warnx("kafka: transaction: %s", rd_kafka_error_string(e));
		if (rd_kafka_error_txn_requires_abort(e))
			rd_kafka_error_destroy(rd_kafka_abort_transaction(
			    producer, 60 * 1000));
		rd_kafka_error_destroy(e);
		errx(1, "kafka: transaction aborted; run again to go on "
		    "from the last one committed");
	}
	txn_msgs = 0;
	rd_kafka_topic_partition_list_destroy(in->acked);
	in->acked = rd_kafka_topic_partition_list_new(8);
	if ((e = rd_kafka_begin_transaction(producer)) != NULL)
		errx(1, "kafka: transaction: %s", rd_kafka_error_string(e));
}

/* What changes when the state can have: a message handed out, or a
 * record written or rejected without one (cv-features -l at the end). */
static int64_t
progress(const struct kin *in)
{
	return in->handed + tally.written + tally.rejected;
}

/*
 * Everything read so far is done, delivered and committed: the filter
 * writes its state with where the reading stands (stream_resume()).  Only
 * after the commit, so that a state never runs ahead of the committed
 * offsets: what a restart reads again up to them is replayed.  A filter
 * writes its whole state, so a large one is written less often than
 * offsets are committed: at most a tenth of the time goes to it (and
 * always at close).
 */
static void
save_state(struct kin *in)
{
	struct positions now = { 0 };
	double t = now_seconds();
	int i;

	if (in->ks.save == NULL || progress(in) == in->saved ||
	    undelivered > 0 || in->acked->cnt > 0 || stream_halted)
		return;		/* (halted: the last one read is not done) */
	if (!in->closing && t - in->save_at < 10 * in->save_took)
		return;
	for (i = 0; i < in->nparts; i++)
		if (in->parts[i].next > 0)
			positions_add(&now, in->parts[i].topic,
			    in->parts[i].partition, in->parts[i].next);
	in->ks.save(in->ks.save_arg, &now);
	positions_free(&now);
	in->saved = progress(in);
	in->save_at = now_seconds();
	in->save_took = in->save_at - t;
}

/*
 * Commit the acknowledged offsets once every output is delivered: one
 * synchronous commit at a time (no auto-commit timer racing it), kept
 * for the next checkpoint when it fails.
 */
static void
checkpoint(struct kin *in)
{
	rd_kafka_resp_err_t e;

	stream_idle();		/* outputs to files and pipes */
	in->last_checkpoint = now_seconds();
	if (kafka.eos && producer != NULL) {
		commit_transaction(in);
		save_state(in);
		return;
	}
	if (producer != NULL) {
		e = rd_kafka_flush(producer, 60 * 1000);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    rd_kafka_outq_len(producer) > 0) {
			warnx("kafka: output not delivered in 60 s: input "
			    "offsets not committed");
			return;
		}
	}
	if (undelivered > 0)
		return;
	if (in->acked->cnt > 0) {
		e = rd_kafka_commit(in->group ? in->group : in->rk,
		    in->acked, 0);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			warnx("kafka: committing offsets: %s%s",
			    rd_kafka_err2str(e), in->closing ?
			    "; the next reader reads them again" : "");
			return;
		}
		rd_kafka_topic_partition_list_destroy(in->acked);
		in->acked = rd_kafka_topic_partition_list_new(8);
	}
	save_state(in);
}

static struct part *
find_part(struct kin *in, const char *topic, int32_t p)
{
	int i;

	for (i = 0; i < in->nparts; i++)
		if (in->parts[i].partition == p &&
		    strcmp(in->parts[i].topic, topic) == 0)
			return &in->parts[i];
	return NULL;
}

static void
pause_part(struct kin *in, struct part *pt, int pause)
{
	rd_kafka_topic_partition_list_t *t =
	    rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(t, pt->topic, pt->partition);
	if (pause)
		rd_kafka_pause_partitions(in->rk, t);
	else
		rd_kafka_resume_partitions(in->rk, t);
	rd_kafka_topic_partition_list_destroy(t);
}

/* Drop the messages waiting in a partition's queue. */
static void
empty_part(struct part *pt)
{
	while (pt->n > 0) {
		rd_kafka_message_destroy(pt->q[pt->head]);
		pt->head = (pt->head + 1) % pt->cap;
		pt->n--;
	}
	pt->bytes = 0;
}

/* Forget the assigned partitions and the messages waiting in them. */
static void
drop_parts(struct kin *in)
{
	int i;

	for (i = 0; i < in->nparts; i++) {
		empty_part(&in->parts[i]);
		free(in->parts[i].q);
		free(in->parts[i].arrived);
		free(in->parts[i].topic);
	}
	free(in->parts);
	in->parts = NULL;
	in->nparts = 0;
}

/* Start each partition at --from: the broker's first offset with a
 * timestamp at or after it, or the end where there is none (-1). */
static void
seek_from(struct kin *in, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_t *p;
	rd_kafka_resp_err_t e;
	int i;

	for (i = 0; i < parts->cnt; i++)
		parts->elems[i].offset = kafka.from;
	e = rd_kafka_offsets_for_times(in->rk, parts, 10 * 1000);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		errx(1, "kafka: --from: offsets by time: %s",
		    rd_kafka_err2str(e));
	for (i = 0; i < parts->cnt; i++) {
		p = &parts->elems[i];
		if (p->err)
			errx(1, "kafka: %s[%d]: --from: offset by time: %s",
			    p->topic, (int)p->partition, rd_kafka_err2str(p->err));
		if (p->offset < 0)
			p->offset = RD_KAFKA_OFFSET_END;
	}
}

/*
 * Exit 1 when records of topic[p] from offset on (the group's committed
 * offset) were deleted before they were read: the log starts later now,
 * and the consumer would go on from there without a word
 * (auto.offset.reset).  A broker that does not answer tells nothing.
 */
static void
check_kept(rd_kafka_t *rk, const char *topic, int32_t p, int64_t offset)
{
	int64_t lo, hi;

	if (offset < 0 || rd_kafka_query_watermark_offsets(rk, topic, p, &lo,
	    &hi, 10 * 1000) != RD_KAFKA_RESP_ERR_NO_ERROR || offset >= lo)
		return;
	errx(1, "kafka: %s[%d]: records %lld to %lld were deleted before they "
	    "were read (retention: cvpipe's topics need retention.ms=-1, "
	    "their timestamps being event times)", topic, (int)p,
	    (long long)offset, (long long)lo - 1);
}

/* The committed offsets of parts checked by check_kept(). */
static void
check_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *c =
	    rd_kafka_topic_partition_list_copy(parts);
	int i;

	if (rd_kafka_committed(rk, c, 30 * 1000) == RD_KAFKA_RESP_ERR_NO_ERROR)
		for (i = 0; i < c->cnt; i++)
			if (c->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				check_kept(rk, c->elems[i].topic,
				    c->elems[i].partition, c->elems[i].offset);
	rd_kafka_topic_partition_list_destroy(c);
}

/* The rebalance callbacks assign and revoke everything at once. */
static void
eager_only(rd_kafka_t *rk)
{
	if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0)
		errx(2, "kafka: a cooperative partition.assignment.strategy "
		    "is not supported: use range or roundrobin");
}

/*
 * Offsets acknowledged but not committed are dropped when their
 * partitions go: the next owner writes their records again.  Under
 * --eos their outputs, in the open transaction, go with them.
 */
static void
forget_acked(struct kin *in)
{
	rd_kafka_error_t *e;

	if (kafka.eos && producer != NULL && (in->acked->cnt > 0 ||
	    txn_msgs > 0)) {
		if ((e = rd_kafka_abort_transaction(producer, 60 * 1000)) !=
		    NULL || (e = rd_kafka_begin_transaction(producer)) != NULL)
			errx(1, "kafka: transaction: %s",
			    rd_kafka_error_string(e));
		txn_msgs = 0;
	}
	rd_kafka_topic_partition_list_destroy(in->acked);
	in->acked = rd_kafka_topic_partition_list_new(8);
}

static void
rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kin *in = opaque;
	int i;

	eager_only(rk);
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (kafka.from != INT64_MIN)
			seek_from(in, parts);
		else
			check_committed(rk, parts);
		drop_parts(in);
		in->parts = ecalloc((size_t)parts->cnt + 1,
		    sizeof(*in->parts));
		in->nparts = parts->cnt;
		for (i = 0; i < parts->cnt; i++) {
			in->parts[i].topic = estrdup(parts->elems[i].topic);
			in->parts[i].partition = parts->elems[i].partition;
		}
		rd_kafka_assign(rk, parts);
		/* librdkafka keeps a pause (full queue, --until) across a
		 * reassignment: fetch again. */
		rd_kafka_resume_partitions(rk, parts);
	} else {
		/* Before the partitions go: what is done is committed
		 * (unless they are lost already); what waits is read
		 * again by their next owner. */
		if (rd_kafka_assignment_lost(rk) == 0)
			checkpoint(in);
		forget_acked(in);
		drop_parts(in);
		rd_kafka_assign(rk, NULL);
	}
}

/*
 * The group member's rebalances, when keeping the whole state: they only
 * say which partitions are ours and from which offset on.  Ours before
 * commit what they have done; a partition that comes to us after we read
 * past its committed offset as another's makes us read all again.
 */
static void
group_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kin *in = opaque;
	rd_kafka_topic_partition_list_t *c;
	struct part *pt;
	int i;

	eager_only(rk);
	if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		checkpoint(in);
		forget_acked(in);	/* what could not be committed */
		for (i = 0; i < in->nparts; i++)
			in->parts[i].owned = 0;
		in->settled = 0;
		rd_kafka_assign(rk, NULL);
		return;
	}
	c = rd_kafka_topic_partition_list_copy(parts);
	if (rd_kafka_committed(rk, c, 30 * 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		errx(1, "kafka: the group's committed offsets: no answer");
	for (i = 0; i < c->cnt; i++) {
		if ((pt = find_part(in, c->elems[i].topic,
		    c->elems[i].partition)) == NULL) {
			warnx("kafka: %s[%d]: a partition added since the start; "
			    "restart to read it", c->elems[i].topic,
			    (int)c->elems[i].partition);
			continue;
		}
		if (c->elems[i].err)
			errx(1, "kafka: %s[%d]: the group's committed offset: "
			    "%s", c->elems[i].topic, (int)c->elems[i].partition,
			    rd_kafka_err2str(c->elems[i].err));
		if (kafka.from == INT64_MIN)
			check_kept(rk, c->elems[i].topic, c->elems[i].partition,
			    c->elems[i].offset);
		pt->owned = 1;
		pt->start = c->elems[i].offset >= 0 ? c->elems[i].offset :
		    INT64_MIN;
		if (pt->next > 0 && pt->next > pt->start)
			in->replay = 1;	/* we handed some out as another's */
	}
	rd_kafka_topic_partition_list_destroy(c);
	rd_kafka_assign(rk, parts);
	rd_kafka_pause_partitions(rk, parts);	/* the reader reads */
	in->settled = in->joined = 1;
	/* Which are here, for whoever runs the group (tests wait for it). */
	warnx("kafka: %d of %d partitions here%s", parts->cnt, in->nparts,
	    in->replay ? "; reading all again for the state" : "");
}

/*
 * The metadata of topic, with *md to destroy, or exit 1 in at most 10 s
 * naming the topic and why: no broker answered, or the cluster has no
 * such topic (reading one never creates it).
 */
static const rd_kafka_metadata_topic_t *
topic_metadata(rd_kafka_t *rk, rd_kafka_topic_t *t,
    const struct rd_kafka_metadata **md)
{
	const char *name = rd_kafka_topic_name(t);
	rd_kafka_resp_err_t e;

	if ((e = rd_kafka_metadata(rk, 0, t, md, 10 * 1000)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		errx(1, "kafka: %s: no broker answered in 10 s (-b %s): %s",
		    name, kafka.brokers, rd_kafka_err2str(e));
	if ((*md)->topic_cnt != 1 || (e = (*md)->topics[0].err) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		errx(1, "kafka: %s: %s", name,
		    e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ?
		    "no such topic" : rd_kafka_err2str(e));
	return &(*md)->topics[0];
}

/* Every partition of the topics, for the reader. */
static rd_kafka_topic_partition_list_t *
all_partitions(struct kin *in)
{
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new(8);
	const struct rd_kafka_metadata *md;
	const rd_kafka_metadata_topic_t *mt;
	rd_kafka_topic_t *t;
	int i, p;

	for (i = 0; i < kafka.ntopics; i++) {
		t = rd_kafka_topic_new(in->rk, kafka.topics[i], NULL);
		mt = topic_metadata(in->rk, t, &md);
		for (p = 0; p < mt->partition_cnt; p++)
			rd_kafka_topic_partition_list_add(l, kafka.topics[i],
			    mt->partitions[p].id)->offset =
			    RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(t);
	}
	return l;
}

/* The next offset of topic[p] in at, or -1 if it is not there. */
static int64_t
position_of(const struct positions *at, const char *topic, int32_t p)
{
	int i;

	for (i = 0; at != NULL && i < at->n; i++)
		if (at->p[i].partition == p && strcmp(at->p[i].topic,
		    topic) == 0)
			return at->p[i].next;
	return -1;
}

/*
 * Each partition that a state file's positions name starts there: the
 * state reflects everything before.  (A partition past its end, e.g.
 * the topic was made again, is an error: the state is of another log.)
 */
static void
resume_at(struct kin *in, rd_kafka_topic_partition_list_t *l)
{
	rd_kafka_topic_partition_t *e;
	int64_t next, lo, hi;
	int i;

	for (i = 0; i < l->cnt; i++) {
		e = &l->elems[i];
		if ((next = position_of(in->ks.at, e->topic,
		    e->partition)) < 0)
			continue;
		if (rd_kafka_query_watermark_offsets(in->rk, e->topic,
		    e->partition, &lo, &hi, 10 * 1000) ==
		    RD_KAFKA_RESP_ERR_NO_ERROR && (next < lo || next > hi))
			errx(1, "kafka: %s[%d]: the state file stands at "
			    "offset %lld, outside the partition's %lld..%lld "
			    "(another topic of that name, or records deleted "
			    "before they were read): remove the state file to "
			    "read the topic again from its start", e->topic,
			    (int)e->partition, (long long)next, (long long)lo,
			    (long long)hi);
		e->offset = next;
	}
}

/* (Re)start the reader at the beginning (--from) of every partition, or
 * where the state stands; what waits is dropped, which partitions are
 * ours is kept. */
static void
read_all(struct kin *in)
{
	rd_kafka_topic_partition_list_t *l = all_partitions(in);
	struct part *pt;
	int i;

	if (kafka.from != INT64_MIN)
		seek_from(in, l);
	resume_at(in, l);
	if (in->parts == NULL) {
		in->parts = ecalloc((size_t)l->cnt + 1, sizeof(*in->parts));
		for (i = 0; i < l->cnt; i++) {
			in->parts[i].topic = estrdup(l->elems[i].topic);
			in->parts[i].partition = l->elems[i].partition;
		}
		in->nparts = l->cnt;
	}
	for (i = 0; i < in->nparts; i++) {
		pt = &in->parts[i];
		empty_part(pt);
		pt->at_end = pt->done = pt->full = 0;
		pt->next = position_of(in->ks.at, pt->topic, pt->partition);
		if (pt->next < 0)
			pt->next = 0;
	}
	rd_kafka_assign(in->rk, NULL);
	rd_kafka_assign(in->rk, l);
	rd_kafka_resume_partitions(in->rk, l);	/* a pause outlives it */
	rd_kafka_topic_partition_list_destroy(l);
}

/* Every input topic there and a broker answering, or exit 1 (as a group
 * would wait for them for ever). */
static void
check_topics(rd_kafka_t *rk)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t;
	int i;

	for (i = 0; i < kafka.ntopics; i++) {
		t = rd_kafka_topic_new(rk, kafka.topics[i], NULL);
		topic_metadata(rk, t, &md);
		rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(t);
	}
}

/* A consumer handle with the given group and rebalance callback. */
static rd_kafka_t *
new_consumer(struct kin *in, const char *group,
    void (*cb)(rd_kafka_t *, rd_kafka_resp_err_t,
    rd_kafka_topic_partition_list_t *, void *))
{
	rd_kafka_conf_t *conf = new_conf();
	rd_kafka_t *rk;
	char err[512];

	set(conf, "group.id", group);
	set(conf, "enable.auto.commit", "false");	/* checkpoint() */
	if (!user_set("auto.offset.reset"))
		set(conf, "auto.offset.reset", "earliest");
	/* The merge needs to know when a partition has nothing more. */
	set(conf, "enable.partition.eof", "true");
	if (cb != NULL)
		rd_kafka_conf_set_rebalance_cb(conf, cb);
	rd_kafka_conf_set_opaque(conf, in);
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err,
	    sizeof(err))) == NULL)
		errx(1, "kafka: %s", err);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

struct kin *
kin_open(const struct kstate *ks)
{
	struct kin *in = ecalloc(1, sizeof(*in));
	rd_kafka_topic_partition_list_t *t;
	rd_kafka_resp_err_t e;
	char group[256], reader[300];
	int i;

	snprintf(group, sizeof(group), "cvpipe.%s",
	    program_invocation_short_name);
	if (ks == NULL) {
		in->rk = new_consumer(in, kafka.group ? kafka.group : group,
		    rebalance);
		check_topics(in->rk);
	} else {
		in->ks = *ks;
		in->group = new_consumer(in, kafka.group ? kafka.group :
		    group, group_rebalance);
		/* librdkafka polls only a consumer with a group; this one
		 * assigns partitions itself and never joins or commits. */
		snprintf(reader, sizeof(reader), "%s.reader", kafka.group ?
		    kafka.group : group);
		in->rk = new_consumer(in, reader, NULL);
		read_all(in);
	}
	t = rd_kafka_topic_partition_list_new(kafka.ntopics);
	for (i = 0; i < kafka.ntopics; i++)
		rd_kafka_topic_partition_list_add(t, kafka.topics[i],
		    RD_KAFKA_PARTITION_UA);
	if ((e = rd_kafka_subscribe(in->group ? in->group : in->rk, t)) != 0)
		errx(1, "kafka: subscribe: %s", rd_kafka_err2str(e));
	rd_kafka_topic_partition_list_destroy(t);
	in->acked = rd_kafka_topic_partition_list_new(8);
	in->last_checkpoint = now_seconds();
	consumer = in;
	return in;
}

/*
 * Keeping the whole state, this instance is done at the end only when the
 * group is: every partition committed up to its end.  (A member that
 * left may have had partitions the group has not given out again yet.)
 */
static int
group_done(struct kin *in)
{
	rd_kafka_topic_partition_list_t *l;
	struct part *pt;
	int i, done = 1;

	if (now_seconds() - in->last_group_check < 0.5)
		return 0;
	in->last_group_check = now_seconds();
	checkpoint(in);
	l = rd_kafka_topic_partition_list_new(in->nparts);
	for (i = 0; i < in->nparts; i++)
		rd_kafka_topic_partition_list_add(l, in->parts[i].topic,
		    in->parts[i].partition);
	if (rd_kafka_committed(in->group, l, 10 * 1000) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		done = 0;
	for (i = 0; done && i < l->cnt; i++) {
		pt = find_part(in, l->elems[i].topic, l->elems[i].partition);
		if (pt->done)		/* past --until: not all is read */
			continue;
		if (pt->owned && pt->next >= pt->end)
			continue;	/* ours, done (maybe committed in a
					 * transaction, which the mock never
					 * shows as the group's offset) */
		if ((l->elems[i].offset < 0 ? 0 : l->elems[i].offset) <
		    pt->end)
			done = 0;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return done;
}

/* Every assigned partition at its end (or past --until), nothing left? */
static int
all_at_end(struct kin *in)
{
	int i;

	if (in->nparts == 0 || (in->group != NULL && (!in->settled ||
	    in->replay)))
		return 0;
	for (i = 0; i < in->nparts; i++)
		if (!in->parts[i].at_end || in->parts[i].n > 0)
			return 0;
	return in->group == NULL || group_done(in);
}

void
kin_ack(struct kin *in, const char *topic, int32_t p, int64_t offset)
{
	rd_kafka_topic_partition_t *t;
	struct part *pt;

	if (stream_halted)
		return;		/* stopped by a reject: read it again */
	if (in->group != NULL && ((pt = find_part(in, topic, p)) == NULL ||
	    !pt->owned || offset < pt->start))
		return;		/* another's, replayed */
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
	size_t off;

	if (framing_parse(msg->payload, msg->len, &m->schema, &off, why) < 0)
		return -1;
	m->body = (const char *)msg->payload + off;
	m->len = msg->len - off;
	return 0;
}

static int64_t
msg_time(const rd_kafka_message_t *msg)
{
	rd_kafka_timestamp_type_t tt;

	return rd_kafka_message_timestamp(msg, &tt);
}

/*
 * Take what the consumer has (waiting up to ms for the first) into the
 * partitions' queues: 0, or -1 on a fatal error.
 */
static int
receive(struct kin *in, int ms)
{
	rd_kafka_message_t *msg;
	struct part *pt;
	int k;

	for (k = 0; k < 1000; k++, ms = 0) {
		if ((msg = rd_kafka_consumer_poll(in->rk, ms)) == NULL)
			return 0;
		pt = msg->rkt ? find_part(in, rd_kafka_topic_name(msg->rkt),
		    msg->partition) : NULL;
		if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (pt != NULL) {
				pt->at_end = 1;
				pt->end = msg->offset;
			}
			rd_kafka_message_destroy(msg);
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
		if (pt == NULL || pt->done) {	/* revoked, or past --until */
			rd_kafka_message_destroy(msg);
			continue;
		}
		if (msg_time(msg) >= kafka.until) {
			/* This partition's window is over. */
			pause_part(in, pt, 1);
			pt->done = pt->at_end = 1;
			rd_kafka_message_destroy(msg);
			continue;
		}
		if (pt->n == pt->cap) {
			size_t cap = pt->cap ? 2 * pt->cap : 64, i, j;
			rd_kafka_message_t **q = emalloc(cap * sizeof(*q));
			double *a = emalloc(cap * sizeof(*a));

			for (i = 0; i < pt->n; i++) {
				j = (pt->head + i) % pt->cap;
				q[i] = pt->q[j];
				a[i] = pt->arrived[j];
			}
			free(pt->q);
			free(pt->arrived);
			pt->q = q;
			pt->arrived = a;
			pt->cap = cap;
			pt->head = 0;
		}
		pt->arrived[(pt->head + pt->n) % pt->cap] = now_seconds();
		pt->q[(pt->head + pt->n++) % pt->cap] = msg;
		pt->bytes += msg->len;
		pt->at_end = 0;
		if (pt->bytes >= QUEUE_HIGH && !pt->full) {
			pause_part(in, pt, 1);
			pt->full = 1;
		}
	}
	return 0;
}

/*
 * The partition whose head goes next, or NULL while a partition with
 * nothing may still bring an earlier message: the earliest head waits for
 * such partitions at most the idle timeout from its arrival.
 */
static struct part *
next_part(struct kin *in, double idle)
{
	struct part *best = NULL, *pt;
	int64_t t, bt = 0;
	int i, waiting = 0;

	for (i = 0; i < in->nparts; i++) {
		pt = &in->parts[i];
		if (pt->n == 0) {
			/* At its end, it has nothing more only when -E says
			 * the topic is all there is; live, more may come. */
			waiting |= !pt->done && (!pt->at_end ||
			    !kafka.exit_at_end);
			continue;
		}
		t = msg_time(pt->q[pt->head]);
		if (best == NULL || t < bt) {
			best = pt;
			bt = t;
		}
	}
	if (best != NULL && waiting &&
	    now_seconds() - best->arrived[best->head] < idle)
		return NULL;
	return best;
}

static rd_kafka_message_t *
pop(struct kin *in, struct part *pt)
{
	rd_kafka_message_t *msg = pt->q[pt->head];

	pt->head = (pt->head + 1) % pt->cap;
	pt->n--;
	pt->bytes -= msg->len;
	if (pt->bytes <= QUEUE_LOW && pt->full) {
		pause_part(in, pt, 0);
		pt->full = 0;
	}
	return msg;
}

/*
 * Serve the group member's callbacks (it fetches nothing: its partitions
 * are paused), and read everything again when a rebalance asked for it.
 */
static int
serve_group(struct kin *in)
{
	rd_kafka_message_t *g;
	int fatal = 0;

	while ((g = rd_kafka_consumer_poll(in->group, 0)) != NULL) {
		if (g->err == RD_KAFKA_RESP_ERR__FATAL) {
			warnx("kafka: %s", rd_kafka_message_errstr(g));
			fatal = 1;
		}
		rd_kafka_message_destroy(g);
	}
	if (in->replay) {
		in->replay = 0;
		in->ks.reset(in->ks.reset_arg);
		in->ks.at = NULL;	/* the state is empty now */
		read_all(in);
	}
	return fatal ? -1 : 0;
}

int
kin_next(struct kin *in, struct kmsg *m)
{
	rd_kafka_message_t *msg;
	struct part *pt;
	const char *why;
	char where[300];
	int framed;

	if (in->msg != NULL) {
		rd_kafka_message_destroy(in->msg);
		in->msg = NULL;
	}
	for (;;) {
		if (stream_stop)
			return 0;
		if (now_seconds() - in->last_checkpoint > kafka.checkpoint)
			checkpoint(in);
		if (in->group != NULL && serve_group(in) < 0)
			return -1;
		if (receive(in, 0) < 0)
			return -1;
		/* Keeping the whole state, nothing goes out before the
		 * group says which partitions are ours: it would only be
		 * replayed again. */
		pt = in->group != NULL && !in->joined ? NULL :
		    next_part(in, kafka.idle);
		if (pt == NULL) {
			if (kafka.exit_at_end && all_at_end(in))
				return 0;
			/* About to wait: downstream gets what we have, and
			 * the offsets are stored (committed, when keeping the
			 * whole state) before a rebalance can come. */
			if (in->acked->cnt > 0 &&
			    now_seconds() - in->last_checkpoint > 0.1)
				checkpoint(in);
			else
				stream_idle();
			if (receive(in, 100) < 0)
				return -1;
			continue;
		}
		msg = pop(in, pt);
		pt->next = msg->offset + 1;
		in->handed++;
		m->replayed = in->group != NULL && (!pt->owned ||
		    msg->offset < pt->start);
		m->topic = rd_kafka_topic_name(msg->rkt);
		m->partition = msg->partition;
		m->offset = msg->offset;
		m->timestamp = msg_time(msg);
		m->key = msg->key;
		m->keylen = msg->key_len;
		/* Timestamps need not grow along a partition (an index
		 * value not yet published has its period's): an earlier one
		 * after the offset found for --from is not in the window. */
		if (m->timestamp < kafka.from) {
			kin_ack(in, m->topic, m->partition, m->offset);
			rd_kafka_message_destroy(msg);
			continue;
		}
		framed = unframe(msg, m, &why) == 0;
		if (!framed && m->replayed) {
			rd_kafka_message_destroy(msg);	/* its owner says */
			continue;
		}
		if (!framed) {
			snprintf(where, sizeof(where), "%s[%d]@%lld", m->topic,
			    (int)m->partition, (long long)m->offset);
			tally.read++;
			rd_kafka_message_destroy(msg);
			if (reject(where, 1, NULL, 0, NULL, "%s", why) < 0)
				return -1;
			kin_ack(in, m->topic, m->partition, m->offset);
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
	in->closing = 1;
	checkpoint(in);
	consumer = NULL;
	if (in->group != NULL) {
		rd_kafka_consumer_close(in->group);
		rd_kafka_destroy(in->group);
	}
	rd_kafka_consumer_close(in->rk);
	drop_parts(in);
	rd_kafka_destroy(in->rk);
	rd_kafka_topic_partition_list_destroy(in->acked);
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
	unsigned char	 head[FRAMING_HEAD_MAX];	/* framing.h */
	size_t		 headlen;
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
	if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		withdrawn++;	/* an aborted transaction's (forget_acked) */
	else if (msg->err) {
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

/*
 * --eos: a transactional.id that a restart takes over, GROUP.HOST.SLOT
 * with the first slot that no live process on this host holds (a lock
 * file each, in $XDG_RUNTIME_DIR or /tmp, released by the kernel when its
 * holder dies).  A restart's init_transactions() then aborts the open
 * transaction of the instance that was killed at once; with an id of its
 * own (the pid's) that transaction stayed open for transaction.timeout.ms
 * (60 s), holding up the group's offsets and every read_committed reader
 * of the output.  Zombies are fenced by the group's generation, sent with
 * the offsets (KIP-447), so instances on several hosts need no more.
 */
static void
txn_id(char *id, size_t n)
{
	static int lockfd = -1;
	const char *dir = getenv("XDG_RUNTIME_DIR"), *g = kafka.group ?
	    kafka.group : program_invocation_short_name;
	char host[128] = "", path[PATH_MAX], *p;
	int slot;

	gethostname(host, sizeof(host) - 1);
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	for (slot = 0; slot < 1024; slot++) {
		snprintf(id, n, "%s.%s.%d", g, host, slot);
		snprintf(path, sizeof(path), "%s/cvpipe-txn.%ld.", dir,
		    (long)getuid());
		for (p = id; *p; p++)	/* a file name, whatever the group */
			snprintf(path + strlen(path), sizeof(path) -
			    strlen(path), *p == '/' ? "%%2F" : "%c", *p);
		if ((lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600)) < 0)
			err(1, "kafka: --eos: %s", path);
		if (flock(lockfd, LOCK_EX | LOCK_NB) == 0)
			return;		/* held until the process ends */
		if (errno != EWOULDBLOCK)
			err(1, "kafka: --eos: %s", path);
		close(lockfd);
	}
	errx(1, "kafka: --eos: 1024 instances of group %s on this host", g);
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
	const char *cwhy;
	int i, n;

	if (schema_fingerprint(schema_text, strlen(schema_text), &fp,
	    &why) < 0)
		errx(1, "kafka: output schema: %s", why);
	if ((k->schema = framing_schema_by_fp(fp)) == NULL)
		errx(1, "kafka: output schema is not among schemas/");
	if (framing_head(kafka.confluent, k->schema, fp, k->head,
	    &k->headlen, &cwhy) < 0)
		errx(1, "kafka: %s", cwhy);
	if (!user_set("enable.idempotence"))
		set(conf, "enable.idempotence", "true");
	if (kafka.eos && !user_set("transactional.id")) {
		char id[400];

		txn_id(id, sizeof(id));
		set(conf, "transactional.id", id);
	}
	if (!user_set("linger.ms"))
		set(conf, "linger.ms", "5");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err,
	    sizeof(err))) == NULL)
		errx(1, "kafka: %s", err);
	k->rkt = rd_kafka_topic_new(k->rk, kafka.out_topic, NULL);
	k->npart = topic_metadata(k->rk, k->rkt, &md)->partition_cnt;
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
	if (kafka.eos) {
		rd_kafka_error_t *e;

		if ((e = rd_kafka_init_transactions(k->rk, 60 * 1000)) !=
		    NULL || (e = rd_kafka_begin_transaction(k->rk)) != NULL)
			errx(1, "kafka: transactions: %s",
			    rd_kafka_error_string(e));
	}
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
		refused++;
		if (undelivered++ < 5)
			warnx("kafka: %s: %s", kafka.out_topic,
			    rd_kafka_err2str(e));
	} else {
		produced++;
		txn_msgs++;
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
	buf_add(&k->msg, k->head, k->headlen);
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
	if (kafka.eos && consumer != NULL)
		checkpoint(consumer);	/* the last transaction */
	else if (kafka.eos && txn_msgs > 0) {
		rd_kafka_error_t *e = rd_kafka_commit_transaction(k->rk,
		    60 * 1000);

		if (e != NULL)
			errx(1, "kafka: transaction: %s",
			    rd_kafka_error_string(e));
	}
	rd_kafka_flush(k->rk, 60 * 1000);
	if ((left = rd_kafka_outq_len(k->rk)) > 0)
		warnx("kafka: %lld messages not delivered in 60 s",
		    (long long)left);
	rd_kafka_topic_destroy(k->rkt);
	rd_kafka_destroy(k->rk);
	if (producer == k->rk)
		producer = NULL;
	walker_free(k->walker);
	buf_free(&k->msg);
	free(k);
	/*
	 * Every message taken must have come back acknowledged: one that
	 * is neither (its delivery report never came) is as lost as one
	 * that failed, and counts in the exit status.
	 */
	left = produced - delivered - (undelivered - refused) - withdrawn;
	if (left > 0)
		warnx("kafka: %lld of %lld messages never acknowledged by "
		    "the broker", (long long)left, (long long)produced);
	return undelivered + (left > 0 ? left : 0);
}
