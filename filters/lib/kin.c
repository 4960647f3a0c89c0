/* kin.c: topics as record sources: the consumer, its merge of the
 * partitions in event time, checkpoints and transactions (see kafka.h). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "lib/framing.h"
#include "lib/kafka.h"
#include "lib/kshared.h"
#include "lib/reject.h"
#include "lib/run.h"
#include "lib/util.h"

/* The consumer, if any: with --eos the producer's close commits the
 * last transaction with its offsets. */
struct kin *kin_consumer;

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

/* A message waiting in its partition's queue; its timestamp read once, as
 * the merge looks at every head for each message it hands out. */
struct waiting {
	rd_kafka_message_t	*msg;
	int64_t			 time;		/* ms, event time */
	double			 arrived;	/* s */
};

struct part {
	char			 *topic;
	int32_t			  partition;
	struct waiting		 *q;	/* ring of waiting messages */
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

	if (kout_undelivered > 0) {
		rd_kafka_error_destroy(rd_kafka_abort_transaction(kout_producer,
		    60 * 1000));
		errx(1, "kafka: %lld outputs not delivered: transaction "
		    "aborted; run again to go on from the last one committed",
		    (long long)kout_undelivered);
	}
	if (in->acked->cnt == 0 && kout_txn_msgs == 0)
		return;
	if (in->acked->cnt > 0) {
		g = rd_kafka_consumer_group_metadata(in->group ? in->group :
		    in->rk);
		e = rd_kafka_send_offsets_to_transaction(kout_producer,
		    in->acked, g, 60 * 1000);
		rd_kafka_consumer_group_metadata_destroy(g);
	}
	if (e == NULL)
		e = rd_kafka_commit_transaction(kout_producer, 60 * 1000);
	if (e != NULL) {
		warnx("kafka: transaction: %s", rd_kafka_error_string(e));
		if (rd_kafka_error_txn_requires_abort(e))
			rd_kafka_error_destroy(rd_kafka_abort_transaction(
			    kout_producer, 60 * 1000));
		rd_kafka_error_destroy(e);
		errx(1, "kafka: transaction aborted; run again to go on "
		    "from the last one committed");
	}
	kout_txn_msgs = 0;
	rd_kafka_topic_partition_list_destroy(in->acked);
	in->acked = rd_kafka_topic_partition_list_new(8);
	if ((e = rd_kafka_begin_transaction(kout_producer)) != NULL)
		errx(1, "kafka: transaction: %s", rd_kafka_error_string(e));
}

/* What changes when the state can have: a message handed out, or a
 * record written or rejected without one (cv-features -l at the end). */
static int64_t
progress(const struct kin *in)
{
	return in->handed + run_tally.written + run_tally.rejected;
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
	    kout_undelivered > 0 || in->acked->cnt > 0 || run_halted)
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
void
kin_checkpoint(struct kin *in)
{
	rd_kafka_resp_err_t e;

	run_idle();		/* outputs to files and pipes */
	in->last_checkpoint = now_seconds();
	if (kafka.eos && kout_producer != NULL) {
		commit_transaction(in);
		save_state(in);
		return;
	}
	if (kout_producer != NULL) {
		e = rd_kafka_flush(kout_producer, 60 * 1000);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    rd_kafka_outq_len(kout_producer) > 0) {
			warnx("kafka: output not delivered in 60 s: input "
			    "offsets not committed");
			return;
		}
	}
	if (kout_undelivered > 0)
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
		rd_kafka_message_destroy(pt->q[pt->head].msg);
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

	if (kafka.eos && kout_producer != NULL && (in->acked->cnt > 0 ||
	    kout_txn_msgs > 0)) {
		if ((e = rd_kafka_abort_transaction(kout_producer,
		    60 * 1000)) != NULL ||
		    (e = rd_kafka_begin_transaction(kout_producer)) != NULL)
			errx(1, "kafka: transaction: %s",
			    rd_kafka_error_string(e));
		kout_txn_msgs = 0;
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
			kin_checkpoint(in);
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
		kin_checkpoint(in);
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
		mt = kafka_topic_metadata(in->rk, t, &md);
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
		kafka_topic_metadata(rk, t, &md);
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
	rd_kafka_conf_t *conf = kafka_new_conf();
	rd_kafka_t *rk;
	char err[512];

	kafka_set(conf, "group.id", group);
	kafka_set(conf, "enable.auto.commit", "false");	/* kin_checkpoint() */
	if (!kafka_user_set("auto.offset.reset"))
		kafka_set(conf, "auto.offset.reset", "earliest");
	/* The merge needs to know when a partition has nothing more. */
	kafka_set(conf, "enable.partition.eof", "true");
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
	kin_consumer = in;
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
	kin_checkpoint(in);
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

	if (run_halted)
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
	struct waiting *w;
	double arrived = 0;
	int64_t t;
	int k;

	for (k = 0; k < 1000; k++, ms = 0) {
		if ((msg = rd_kafka_consumer_poll(in->rk, ms)) == NULL)
			return 0;
		if (k == 0)	/* the batch came now (one clock read) */
			arrived = now_seconds();
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
		if ((t = msg_time(msg)) >= kafka.until) {
			/* This partition's window is over. */
			pause_part(in, pt, 1);
			pt->done = pt->at_end = 1;
			rd_kafka_message_destroy(msg);
			continue;
		}
		if (pt->n == pt->cap) {
			size_t cap = pt->cap ? 2 * pt->cap : 64, i;
			struct waiting *q = emalloc(cap * sizeof(*q));

			for (i = 0; i < pt->n; i++)
				q[i] = pt->q[(pt->head + i) % pt->cap];
			free(pt->q);
			pt->q = q;
			pt->cap = cap;
			pt->head = 0;
		}
		w = &pt->q[(pt->head + pt->n++) % pt->cap];
		w->msg = msg;
		w->time = t;
		w->arrived = arrived;
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
		t = pt->q[pt->head].time;
		if (best == NULL || t < bt) {
			best = pt;
			bt = t;
		}
	}
	if (best != NULL && waiting &&
	    now_seconds() - best->q[best->head].arrived < idle)
		return NULL;
	return best;
}

static struct waiting
pop(struct kin *in, struct part *pt)
{
	struct waiting w = pt->q[pt->head];

	pt->head = (pt->head + 1) % pt->cap;
	pt->n--;
	pt->bytes -= w.msg->len;
	if (pt->bytes <= QUEUE_LOW && pt->full) {
		pause_part(in, pt, 0);
		pt->full = 0;
	}
	return w;
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
	struct waiting w;
	const char *why;
	char where[300];
	int framed;

	if (in->msg != NULL) {
		rd_kafka_message_destroy(in->msg);
		in->msg = NULL;
	}
	for (;;) {
		if (run_stop)
			return 0;
		if (now_seconds() - in->last_checkpoint > kafka.checkpoint)
			kin_checkpoint(in);
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
				kin_checkpoint(in);
			else
				run_idle();
			if (receive(in, 100) < 0)
				return -1;
			continue;
		}
		w = pop(in, pt);
		msg = w.msg;
		pt->next = msg->offset + 1;
		in->handed++;
		m->replayed = in->group != NULL && (!pt->owned ||
		    msg->offset < pt->start);
		m->topic = rd_kafka_topic_name(msg->rkt);
		m->partition = msg->partition;
		m->offset = msg->offset;
		m->timestamp = w.time;
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
			run_tally.read++;
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
	kin_checkpoint(in);
	kin_consumer = NULL;
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
