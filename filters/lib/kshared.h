/*
 * kshared.h: what the Kafka options (kafka.c), the consumer (kin.c) and
 * the producer (kout.c) share, for those three files only.  The consumer
 * flushes the producer before it commits offsets, and under --eos sends
 * them in the producer's transaction; the producer's close commits the
 * consumer's last transaction.
 */
#ifndef CV_KSHARED_H
#define CV_KSHARED_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "lib/kafka.h"

/* A configuration with the brokers and the pass-through properties. */
rd_kafka_conf_t	*kafka_new_conf(void);
/* Set k=v in conf; exits 2 if librdkafka refuses. */
void		 kafka_set(rd_kafka_conf_t *, const char *k, const char *v);
/* A property the user set with -X or -F? */
int		 kafka_user_set(const char *k);
/*
 * The metadata of topic t, with *md to destroy, or exit 1 in at most
 * 10 s naming the topic and why: no broker answered, or the cluster has
 * no such topic (reading one never creates it).
 */
const rd_kafka_metadata_topic_t *kafka_topic_metadata(rd_kafka_t *rk,
		    rd_kafka_topic_t *t, const struct rd_kafka_metadata **md);

/*
 * Deliveries, over the process (kout.c): every message librdkafka took
 * (produced) comes back delivered, undelivered, or withdrawn with a
 * transaction aborted on purpose; refused: those it did not take
 * (counted in undelivered too).
 */
extern int64_t	 kout_delivered, kout_undelivered, kout_produced,
		 kout_refused, kout_withdrawn;
/* The producer, if any, and what it produced in the open transaction. */
extern rd_kafka_t *kout_producer;
extern int64_t	 kout_txn_msgs;

/* The consumer, if any (kin.c). */
extern struct kin *kin_consumer;
/* Commit what it acknowledged once every output is delivered (under
 * --eos: the transaction) and write the state file. */
void		 kin_checkpoint(struct kin *);

#endif
