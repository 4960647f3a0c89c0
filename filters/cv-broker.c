/*
 * cv-broker: a Kafka cluster for development and tests: librdkafka's
 * built-in mock cluster on loopback.  Prints the bootstrap list on one
 * line, creates the topics asked for, and runs until SIGINT or SIGTERM.
 * Faults are injected by commands on its standard input, one a line
 * (`down 2`, `error Produce NOT_LEADER_FOR_PARTITION 3`), each answered
 * by a line `ok N: ...` on standard output; the end of the input does
 * not stop it.
 *
 *	mkfifo ctl; cv-broker -n 3 -t events < ctl > broker.out &
 *	exec 3> ctl; B=$(head -1 broker.out); echo 'down 1' >&3
 *
 * The mock keeps everything in memory and implements the protocol well
 * enough for clients; what it lacks is listed in the README (Kafka).
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "lib/util.h"

#define MAXCOUNT	10000	/* errors pushed by one command */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Kafka protocol requests by name, with their ApiKeys: librdkafka's own
 * table (RD_KAFKAP_*) is not public.
 */
static const struct request {
	const char	*name;
	int16_t		 key;
} requests[] = {
	{ "Produce", 0 },		{ "Fetch", 1 },
	{ "ListOffsets", 2 },		{ "Metadata", 3 },
	{ "OffsetCommit", 8 },		{ "OffsetFetch", 9 },
	{ "FindCoordinator", 10 },	{ "JoinGroup", 11 },
	{ "Heartbeat", 12 },		{ "LeaveGroup", 13 },
	{ "SyncGroup", 14 },		{ "InitProducerId", 22 },
	{ "AddPartitionsToTxn", 24 },	{ "AddOffsetsToTxn", 25 },
	{ "EndTxn", 26 },		{ "TxnOffsetCommit", 28 },
};

/* The command reader: what is read of a line not yet complete. */
struct input {
	char	buf[512];
	size_t	len;
	long	lineno;
	int	toolong;	/* skipping the rest of a long line */
	int	eof;
};

/* A whole number from s, all of it, from lo to hi: 0, else -1. */
static int
whole(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *v < lo || *v > hi)
		return -1;
	return 0;
}

/* A request name (any case) or ApiKey: the ApiKey, else -1. */
static int
find_request(const char *s)
{
	long v;
	size_t i;

	for (i = 0; i < NELEM(requests); i++)
		if (strcasecmp(s, requests[i].name) == 0)
			return requests[i].key;
	if (whole(s, 0, INT16_MAX, &v) < 0)
		return -1;
	return (int)v;
}

/* "Produce (ApiKey 0)", or "ApiKey 18" for one without a name here. */
static const char *
request_name(int key)
{
	static char s[64];
	size_t i;

	for (i = 0; i < NELEM(requests); i++)
		if (requests[i].key == key) {
			snprintf(s, sizeof(s), "%s (ApiKey %d)",
			    requests[i].name, key);
			return s;
		}
	snprintf(s, sizeof(s), "ApiKey %d", key);
	return s;
}

/*
 * An error as rd_kafka_err2name() names it (NOT_COORDINATOR, _TRANSPORT;
 * any case, with or without RD_KAFKA_RESP_ERR_) or its code: 0 and *e,
 * else -1.
 */
static int
find_error(const char *s, rd_kafka_resp_err_t *e)
{
	const struct rd_kafka_err_desc *d;
	size_t i, n;
	long v;
	int num;

	if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
		s += 18;
	num = whole(s, INT_MIN, INT_MAX, &v) == 0;
	rd_kafka_get_err_descs(&d, &n);
	for (i = 0; i < n; i++) {
		if (d[i].name == NULL || d[i].code == 0)
			continue;
		if (num ? d[i].code == v : strcasecmp(s, d[i].name) == 0) {
			*e = d[i].code;
			return 0;
		}
	}
	return -1;
}

/* A broker id from 1 to brokers, or all (-1): 0 and *id, else -1. */
static int
find_broker(const char *s, long brokers, int32_t *id)
{
	long v;

	if (strcmp(s, "all") == 0) {
		*id = -1;
		return 0;
	}
	if (whole(s, 1, brokers, &v) < 0)
		return -1;
	*id = (int32_t)v;
	return 0;
}

static void
reply(long lineno, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The answer to a command done; stdout may be gone, the cluster stays. */
static void
reply(long lineno, const char *fmt, ...)
{
	va_list ap;

	printf("ok %ld: ", lineno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * Do the command on one line (without its newline).  Everything said is
 * said here: the reply on stdout, or why not on stderr.
 */
static void
run_command(rd_kafka_mock_cluster_t *mc, long brokers, char *line,
    long lineno)
{
	static rd_kafka_resp_err_t errs[MAXCOUNT];
	char *w[5], *save = NULL, *p;
	rd_kafka_resp_err_t e;
	int32_t id;
	long v, count;
	int n = 0, key;
	size_t i;

	if ((p = strchr(line, '#')) != NULL)
		*p = '\0';
	for (p = strtok_r(line, " \t\r", &save); p != NULL && n < 5;
	    p = strtok_r(NULL, " \t\r", &save))
		w[n++] = p;
	if (n == 0)
		return;
	if (strcmp(w[0], "down") == 0 || strcmp(w[0], "up") == 0) {
		if (n != 2) {
			warnx("stdin:%ld: %s: want: %s N", lineno, w[0], w[0]);
			return;
		}
		if (find_broker(w[1], brokers, &id) < 0) {
			warnx("stdin:%ld: %s: %s: not a broker (1 to %ld, "
			    "or all)", lineno, w[0], w[1], brokers);
			return;
		}
		e = w[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, id) :
		    rd_kafka_mock_broker_set_up(mc, id);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			warnx("stdin:%ld: %s %s: %s", lineno, w[0], w[1],
			    rd_kafka_err2str(e));
			return;
		}
		reply(lineno, "broker %s %s", w[1], w[0]);
	} else if (strcmp(w[0], "error") == 0) {
		if (n != 3 && n != 4) {
			warnx("stdin:%ld: error: want: error REQUEST ERR "
			    "[COUNT]", lineno);
			return;
		}
		if ((key = find_request(w[1])) < 0) {
			warnx("stdin:%ld: error: %s: not a request name "
			    "(Produce, Fetch, ...) or ApiKey", lineno, w[1]);
			return;
		}
		if (find_error(w[2], &e) < 0) {
			warnx("stdin:%ld: error: %s: not a Kafka error name "
			    "or code", lineno, w[2]);
			return;
		}
		count = 1;
		if (n == 4 && whole(w[3], 1, MAXCOUNT, &count) < 0) {
			warnx("stdin:%ld: error: %s: not a count from 1 "
			    "to %d", lineno, w[3], MAXCOUNT);
			return;
		}
		for (i = 0; i < (size_t)count; i++)
			errs[i] = e;
		rd_kafka_mock_push_request_errors_array(mc, (int16_t)key,
		    (size_t)count, errs);
		reply(lineno, "%s: the next %ld fail with %s (%d)",
		    request_name(key), count, rd_kafka_err2name(e), (int)e);
	} else if (strcmp(w[0], "clear") == 0) {
		if (n != 2) {
			warnx("stdin:%ld: clear: want: clear REQUEST", lineno);
			return;
		}
		if ((key = find_request(w[1])) < 0) {
			warnx("stdin:%ld: clear: %s: not a request name "
			    "(Produce, Fetch, ...) or ApiKey", lineno, w[1]);
			return;
		}
		rd_kafka_mock_clear_request_errors(mc, (int16_t)key);
		reply(lineno, "%s errors cleared", request_name(key));
	} else if (strcmp(w[0], "rtt") == 0) {
		if (n != 3) {
			warnx("stdin:%ld: rtt: want: rtt N MS", lineno);
			return;
		}
		if (find_broker(w[1], brokers, &id) < 0) {
			warnx("stdin:%ld: rtt: %s: not a broker (1 to %ld, "
			    "or all)", lineno, w[1], brokers);
			return;
		}
		if (whole(w[2], 0, 3600 * 1000, &v) < 0) {
			warnx("stdin:%ld: rtt: %s: not milliseconds from 0 "
			    "to 3600000", lineno, w[2]);
			return;
		}
		if ((e = rd_kafka_mock_broker_set_rtt(mc, id, (int)v)) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			warnx("stdin:%ld: rtt %s: %s", lineno, w[1],
			    rd_kafka_err2str(e));
			return;
		}
		reply(lineno, "broker %s rtt %ld ms", w[1], v);
	} else
		warnx("stdin:%ld: %s: unknown command (down, up, error, "
		    "clear, rtt)", lineno, w[0]);
}

/*
 * Read what standard input has (select said it is readable) and run each
 * complete line; at its end, the last line even without a newline.
 */
static void
read_commands(struct input *in, rd_kafka_mock_cluster_t *mc, long brokers)
{
	ssize_t n;
	char *nl, *p;

	n = read(STDIN_FILENO, in->buf + in->len, sizeof(in->buf) - 1 -
	    in->len);
	if (n < 0 && errno == EINTR)
		return;
	if (n < 0)
		warn("stdin");
	if (n <= 0) {
		in->eof = 1;
		if (in->len > 0 && !in->toolong) {
			in->buf[in->len] = '\0';
			run_command(mc, brokers, in->buf, ++in->lineno);
		}
		in->len = 0;
		return;
	}
	in->len += (size_t)n;
	in->buf[in->len] = '\0';
	p = in->buf;
	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		in->lineno++;
		if (in->toolong)
			in->toolong = 0;
		else
			run_command(mc, brokers, p, in->lineno);
		p = nl + 1;
	}
	in->len -= (size_t)(p - in->buf);
	memmove(in->buf, p, in->len);
	if (in->len == sizeof(in->buf) - 1) {
		/* Counted when its newline comes. */
		if (!in->toolong)
			warnx("stdin:%ld: line too long", in->lineno + 1);
		in->toolong = 1;
		in->len = 0;
	}
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-broker [-h] [-n brokers] [-p partitions] "
	    "[-t topic[:partitions][,...]]\n");
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

/*
 * Create the topics of LIST, "name" or "name:partitions" each, the
 * partitions PARTITIONS where not given.  A bad item: its reason and
 * exit 2, before the bootstrap list is printed.
 */
static void
create_topics(rd_kafka_mock_cluster_t *mc, const char *list,
    long partitions, long replicas)
{
	char *copy = estrdup(list), *item, *colon, *save = NULL;
	long n;

	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		n = partitions;
		if ((colon = strchr(item, ':')) != NULL) {
			*colon = '\0';
			n = whole_arg('t', colon + 1, 1, 1000);
		}
		if (*item == '\0') {
			warnx("-t: %s: a topic without a name", list);
			usage(stderr);
			exit(2);
		}
		if (rd_kafka_mock_topic_create(mc, item, (int)n,
		    (int)replicas) != 0)
			errx(1, "topic %s: cannot create", item);
	}
	free(copy);
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
	struct input in;
	sigset_t block, unblocked;
	fd_set rfds;
	char msg[512];
	const char *topics = NULL;
	long brokers = 1, partitions = 4;
	int c, n;

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
			    "start: name[:partitions],...\n"
			    "  -h, --help          this help\n"
			    "commands on stdin, one a line, each answered "
			    "\"ok LINE: ...\" on stdout:\n"
			    "  down N              broker N (1.., or all) "
			    "refuses connections\n"
			    "  up N                broker N accepts them "
			    "again\n"
			    "  error REQUEST ERR [COUNT]\n"
			    "                      the next COUNT (1) "
			    "REQUEST requests (Produce, Fetch, ...)\n"
			    "                      fail with ERR "
			    "(NOT_COORDINATOR, _TRANSPORT, 16, ...)\n"
			    "  clear REQUEST       drop the errors still "
			    "queued for REQUEST\n"
			    "  rtt N MS            broker N answers MS "
			    "milliseconds late\n");
			return fshut(stdout, "stdout");
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
	/* Without a stdin, fd 0 would be the next socket the mock opens. */
	if (fcntl(STDIN_FILENO, F_GETFD) < 0 &&
	    open("/dev/null", O_RDONLY) != STDIN_FILENO)
		err(1, "/dev/null");
	/*
	 * The signals wait until pselect() lets them in, so none comes
	 * between the test of stop and the wait.  librdkafka's threads
	 * block all signals themselves.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reader of the replies that went away does not stop the cluster. */
	signal(SIGPIPE, SIG_IGN);
	conf = rd_kafka_conf_new();
	/* The handle only hosts the cluster; keep its own logs quiet. */
	rd_kafka_conf_set(conf, "log_level", "3", msg, sizeof(msg));
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof(msg))) ==
	    NULL)
		errx(1, "%s", msg);
	if ((mc = rd_kafka_mock_cluster_new(rk, (int)brokers)) == NULL)
		errx(1, "cannot start the mock cluster");
	if (topics != NULL)
		create_topics(mc, topics, partitions, brokers < 3 ? brokers : 3);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	memset(&in, 0, sizeof(in));
	while (!stop) {
		FD_ZERO(&rfds);
		if (!in.eof)
			FD_SET(STDIN_FILENO, &rfds);
		n = pselect(in.eof ? 0 : STDIN_FILENO + 1, &rfds, NULL, NULL,
		    NULL, &unblocked);
		if (n < 0 && errno != EINTR)
			err(1, "select");
		else if (n > 0)
			read_commands(&in, mc, brokers);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
