/* kout.c: a topic as a record sink: the producer, its keys and
 * timestamps, and the delivery counts (see kafka.h). */
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

#include "lib/fingerprint.h"
#include "lib/framing.h"
#include "lib/kafka.h"
#include "lib/kshared.h"
#include "lib/schema.h"
#include "lib/util.h"

/*
 * Deliveries, over the process: failures make the exit status 1.  Every
 * message librdkafka took (produced) comes back delivered, undelivered,
 * or withdrawn with a transaction aborted on purpose; refused: those it
 * did not take (counted in undelivered too).
 */
int64_t kout_delivered, kout_undelivered, kout_produced, kout_refused,
    kout_withdrawn;
rd_kafka_t *kout_producer;
int64_t kout_txn_msgs;

/*
 * Producer.  Idempotent, so retries neither duplicate nor reorder; the
 * key and the timestamp are the caller's (stream.c asks lib/route.h).
 */
struct kout {
	rd_kafka_t	*rk;
	rd_kafka_topic_t *rkt;
	const char	*schema;	/* embedded name */
	unsigned char	 head[FRAMING_HEAD_MAX];	/* framing.h */
	size_t		 headlen;
	struct buf	 msg;
	int		 npart;		/* the topic's partitions */
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		/* an aborted transaction's (forget_acked) */
		kout_withdrawn++;
	else if (msg->err) {
		if (kout_undelivered++ < 5)
			warnx("kafka: delivery to %s[%d] failed: %s",
			    rd_kafka_topic_name(msg->rkt), (int)msg->partition,
			    rd_kafka_err2str(msg->err));
	} else
		kout_delivered++;
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
	rd_kafka_conf_t *conf = kafka_new_conf();
	const struct rd_kafka_metadata *md;
	uint64_t fp;
	char err[512], *why;
	const char *cwhy;

	if (schema_fingerprint(schema_text, strlen(schema_text), &fp,
	    &why) < 0)
		errx(1, "kafka: output schema: %s", why);
	if ((k->schema = framing_schema_by_fp(fp)) == NULL)
		errx(1, "kafka: output schema is not among schemas/");
	if (framing_head(kafka.confluent, k->schema, fp, k->head,
	    &k->headlen, &cwhy) < 0)
		errx(1, "kafka: %s", cwhy);
	if (!kafka_user_set("enable.idempotence"))
		kafka_set(conf, "enable.idempotence", "true");
	if (kafka.eos && !kafka_user_set("transactional.id")) {
		char id[400];

		txn_id(id, sizeof(id));
		kafka_set(conf, "transactional.id", id);
	}
	if (!kafka_user_set("linger.ms"))
		kafka_set(conf, "linger.ms", "5");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err,
	    sizeof(err))) == NULL)
		errx(1, "kafka: %s", err);
	k->rkt = rd_kafka_topic_new(k->rk, kafka.out_topic, NULL);
	k->npart = kafka_topic_metadata(k->rk, k->rkt, &md)->partition_cnt;
	rd_kafka_metadata_destroy(md);
	kout_producer = k->rk;
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
		kout_refused++;
		if (kout_undelivered++ < 5)
			warnx("kafka: %s: %s", kafka.out_topic,
			    rd_kafka_err2str(e));
	} else {
		kout_produced++;
		kout_txn_msgs++;
	}
	rd_kafka_poll(k->rk, 0);
}

avro_schema_t
kout_schema(const struct kout *k)
{
	return schema_get(k->schema);
}

void
kout_put(struct kout *k, const void *body, size_t len, const char *key,
    size_t keylen, int64_t time_ms, int32_t partition)
{
	int i;

	buf_clear(&k->msg);
	buf_add(&k->msg, k->head, k->headlen);
	buf_add(&k->msg, body, len);
	if (partition == KOUT_EVERY)
		for (i = 0; i < k->npart; i++)
			produce(k, i, key, keylen, time_ms);
	else
		produce(k, partition >= 0 ? partition % k->npart :
		    RD_KAFKA_PARTITION_UA, key, keylen, time_ms);
}

int64_t
kout_close(struct kout *k)
{
	int64_t left;

	if (k == NULL)
		return 0;
	if (kafka.eos && kin_consumer != NULL)
		kin_checkpoint(kin_consumer);	/* the last transaction */
	else if (kafka.eos && kout_txn_msgs > 0) {
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
	if (kout_producer == k->rk)
		kout_producer = NULL;
	buf_free(&k->msg);
	free(k);
	/*
	 * Every message taken must have come back acknowledged: one that
	 * is neither (its delivery report never came) is as lost as one
	 * that failed, and counts in the exit status.
	 */
	left = kout_produced - kout_delivered -
	    (kout_undelivered - kout_refused) - kout_withdrawn;
	if (left > 0)
		warnx("kafka: %lld of %lld messages never acknowledged by "
		    "the broker", (long long)left, (long long)kout_produced);
	return kout_undelivered + (left > 0 ? left : 0);
}

