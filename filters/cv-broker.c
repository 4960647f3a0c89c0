/*
 * cv-broker: a Kafka cluster for development and tests: librdkafka's
 * built-in mock cluster on loopback.  Prints the bootstrap list on one
 * line, creates the topics asked for, and runs until SIGINT or SIGTERM.
 *
 *	B=$(cv-broker -p 6 -t events,features & ...)
 *
 * The mock keeps everything in memory and implements the protocol well
 * enough for clients; what it lacks is listed in the README (Kafka).
 */
#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "lib/util.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-broker [-h] [-n brokers] [-p partitions] "
	    "[-t topic[,topic]]\n");
}

/* A whole number from lo to hi, else the usage and exit 2. */
static long
whole_arg(int c, const char *s, long lo, long hi)
{
	double d = number_arg(c, s, (double)lo, (double)hi, usage);

	if (d != (long)d) {
		warnx("-%c: %s: not a whole number", c, s);
		usage(stderr);
		exit(2);
	}
	return (long)d;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	   NULL, 'h' },
		{ "brokers",	required_argument, NULL, 'n' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "topics",	required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	rd_kafka_conf_t *conf;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *rk;
	struct sigaction sa;
	char msg[512], *topics = NULL, *p, *save = NULL;
	long brokers = 1, partitions = 4;
	int c;

	while ((c = getopt_long(argc, argv, "hn:p:t:", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			printf("  -n, --brokers N     brokers in the cluster "
			    "(1)\n"
			    "  -p, --partitions N  partitions of each topic "
			    "created (4)\n"
			    "  -t, --topics LIST   topics to create at "
			    "start\n"
			    "  -h, --help          this help\n");
			return 0;
		case 'n':
			brokers = whole_arg(c, optarg, 1, 16);
			break;
		case 'p':
			partitions = whole_arg(c, optarg, 1, 1000);
			break;
		case 't':
			topics = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	conf = rd_kafka_conf_new();
	/* The handle only hosts the cluster; keep its own logs quiet. */
	rd_kafka_conf_set(conf, "log_level", "3", msg, sizeof(msg));
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof(msg))) ==
	    NULL)
		errx(1, "%s", msg);
	if ((mc = rd_kafka_mock_cluster_new(rk, (int)brokers)) == NULL)
		errx(1, "cannot start the mock cluster");
	if (topics != NULL) {
		topics = estrdup(topics);
		for (p = strtok_r(topics, ",", &save); p; p = strtok_r(NULL,
		    ",", &save))
			if (rd_kafka_mock_topic_create(mc, p, (int)partitions,
			    (int)(brokers < 3 ? brokers : 3)) != 0)
				errx(1, "topic %s: cannot create", p);
		free(topics);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	while (!stop)
		pause();
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
