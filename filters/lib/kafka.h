/*
 * kafka.h: Kafka topics as sources and sinks of records (librdkafka).
 *
 * Every filter takes the same options, parsed here: -b brokers, -t input
 * topic(s), -T output topic, -G consumer group, -X key=value and -F file
 * for librdkafka properties (passed through as kcat does), --eos for
 * transactions (outputs and input offsets committed together), -E to exit at
 * the end of every partition, --from/--until TIME to replay a window,
 * --idle S for how long one partition may hold up the merge of all.
 * With -t the filter reads the topics instead of files; with -T it
 * writes the topic instead of a file.  The stream library (stream.c)
 * does the rest: records keep their positions (topic[partition]@offset),
 * and a source's offsets are stored only once everything the filter
 * wrote before acknowledging them has been delivered (at-least-once).
 *
 * A message holds one record in Avro single-object encoding: C3 01, the
 * writer schema's CRC-64-AVRO fingerprint (8 bytes, little-endian) and
 * the body; or, with --framing confluent, Confluent's 00, schema id and
 * body, the ids from --schema-ids FILE (lib/framing.h); a reader takes
 * both.  A header "schema" names the record type.  Where a record goes
 * (its key, timestamp and partitions) is lib/route.h's.  The options
 * are kafka.c's, the consumer kin.c's, the producer kout.c's.
 */
#ifndef CV_KAFKA_H
#define CV_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <avro.h>

#include "lib/positions.h"

struct kafka_conf {
	char	 *brokers;
	char	**topics;		/* inputs */
	int	  ntopics;
	char	 *out_topic;
	char	 *group;
	char	**props;		/* "key=value", in order */
	int	  nprops;
	int	  exit_at_end;
	int64_t	  from, until;		/* ms; INT64_MIN / INT64_MAX: open */
	double	  idle;			/* s a partition may hold the merge */
	double	  checkpoint;		/* s between checkpoints */
	int	  confluent;		/* --framing confluent */
	int	  eos;			/* --eos: transactions */
	const char *schema_ids;		/* --schema-ids FILE */
};
extern struct kafka_conf kafka;

/* The options, for a filter's getopt_long(). */
#define KAFKA_OPTSTRING	"b:EF:G:t:T:X:"
enum { KAFKA_OPT_FROM = 0x4b00, KAFKA_OPT_UNTIL, KAFKA_OPT_IDLE,
    KAFKA_OPT_FRAMING, KAFKA_OPT_SCHEMA_IDS, KAFKA_OPT_EOS,
    KAFKA_OPT_CHECKPOINT };
#define KAFKA_LONGOPTS							\
	{ "brokers",	  required_argument, NULL, 'b' },		\
	{ "exit-at-end",  no_argument,	     NULL, 'E' },		\
	{ "kafka-config", required_argument, NULL, 'F' },		\
	{ "group",	  required_argument, NULL, 'G' },		\
	{ "topic",	  required_argument, NULL, 't' },		\
	{ "output-topic", required_argument, NULL, 'T' },		\
	{ "property",	  required_argument, NULL, 'X' },		\
	{ "from",	  required_argument, NULL, KAFKA_OPT_FROM },	\
	{ "until",	  required_argument, NULL, KAFKA_OPT_UNTIL },	\
	{ "idle",	  required_argument, NULL, KAFKA_OPT_IDLE },	\
	{ "framing",	  required_argument, NULL, KAFKA_OPT_FRAMING },	\
	{ "schema-ids",	  required_argument, NULL, KAFKA_OPT_SCHEMA_IDS }, \
	{ "eos",	  no_argument,	     NULL, KAFKA_OPT_EOS },	\
	{ "checkpoint",	  required_argument, NULL, KAFKA_OPT_CHECKPOINT }

/*
 * Take option c if it is one of ours: 1, or 0 if it is not.  A bad value
 * ends the program with status 2.
 */
int	kafka_option(int c, const char *arg);
/* The options' lines for a filter's -h. */
void	kafka_help(FILE *);
/* After the options: checks them (exits 2 on a bad combination). */
void	kafka_check(int nfiles);

int	kafka_input(void);	/* -t given */
int	kafka_output(void);	/* -T given */

/* One message read: its record and where it came from. */
struct kmsg {
	const char	*topic;
	int32_t		 partition;
	int64_t		 offset;
	int64_t		 timestamp;	/* ms, -1 if none */
	const char	*key;
	size_t		 keylen;
	const char	*body;		/* the record's Avro binary encoding */
	size_t		 len;
	const char	*schema;	/* embedded schema name of the writer */
	int		 replayed;	/* another instance's (stream.h) */
};

struct kin;

/* Keeping the whole state (stream_keep_state(), stream_resume()). */
struct kstate {
	void			(*reset)(void *);
	void			 *reset_arg;
	const struct positions	 *at;	/* NULL: from the start */
	void			(*save)(void *, const struct positions *);
	void			 *save_arg;
};

/*
 * With ks NULL, the consumer reads the partitions the group assigns.
 * Otherwise: a second consumer outside the group reads every partition
 * of the topics from ks->at (the start, or --from, where it says
 * nothing), and a message is marked replayed unless the group gave its
 * partition to this instance and it is at or past the partition's
 * committed offset; ks->reset is called before everything is read again
 * from the start, ks->save after each checkpoint that left nothing
 * undelivered or uncommitted (see stream.h).
 */
struct kin	*kin_open(const struct kstate *ks);
/*
 * The next message, the partitions merged in event time: 1, 0 at the
 * end (-E and every partition at its end, --until reached everywhere, or
 * a stop signal), -1 on a fatal error.
 * A message that cannot be framed is reported through reject() and
 * skipped (its offset still counts as done).  Valid until the next call.
 */
int		 kin_next(struct kin *, struct kmsg *);
/* The message at topic[partition]@offset has been processed. */
void		 kin_ack(struct kin *, const char *topic, int32_t partition,
		    int64_t offset);
/* Deliver, store and commit what was acknowledged, and close. */
void		 kin_close(struct kin *);

struct kout;

/* Produce records of schema_text (one of the embedded schemas) to -T. */
struct kout	*kout_open(const char *schema_text);
/* That schema, parsed (for lib/route.h). */
avro_schema_t	 kout_schema(const struct kout *);
/*
 * Produce the record encoded in body with key (NULL: none) and timestamp
 * time_ms, to partition: KOUT_BY_KEY (librdkafka's partitioner, by the
 * key), KOUT_EVERY (a copy to each), or p >= 0 (p modulo the topic's
 * partitions).
 */
#define KOUT_BY_KEY	(-1)
#define KOUT_EVERY	(-2)
void		 kout_put(struct kout *, const void *body, size_t len,
		    const char *key, size_t keylen, int64_t time_ms,
		    int32_t partition);
/* Deliver everything; the number of messages that could not be. */
int64_t		 kout_close(struct kout *);

#endif
