/* kafka.c: the Kafka options every filter takes, and the librdkafka
 * configuration they make (see kafka.h; the consumer is kin.c, the
 * producer kout.c). */
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
#include "lib/timeparse.h"
#include "lib/util.h"

struct kafka_conf kafka = { .from = INT64_MIN, .until = INT64_MAX,
	.idle = 2, .checkpoint = 1 };

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
rd_kafka_conf_t *
kafka_new_conf(void)
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

void
kafka_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[512];

	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK)
		errx(2, "%s=%s: %s", k, v, err);
}

/* A property the user set with -X or -F? */
int
kafka_user_set(const char *k)
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
 * The metadata of topic, with *md to destroy, or exit 1 in at most 10 s
 * naming the topic and why: no broker answered, or the cluster has no
 * such topic (reading one never creates it).
 */
const rd_kafka_metadata_topic_t *
kafka_topic_metadata(rd_kafka_t *rk, rd_kafka_topic_t *t,
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
