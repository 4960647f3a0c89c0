/*
 * cv-serve: a valuation page for loan officers and a collateral dashboard
 * for supervisors, over HTTP.  POST /v1/value values a vehicle given as
 * JSON by the record functions of cv-features | cv-predict | cv-grade |
 * cv-warn (value.c), from a cv-features state file and a model store read
 * read-only and read again when they change; GET /v1/... reads the
 * pipeline's sqlite outputs (board.c); / is the page, /metrics and
 * /healthz for operators.  Loopback only unless -l says otherwise.
 *
 *	cv-serve -S out/features.db -m out/book-models.db -d out/cvpipe.db
 *	curl -d '{"make":"Toyota","model":"Camry","model_year":2012}' \
 *	    localhost:8080/v1/value
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/util.h"
#include "cv-serve/serve.h"

#define MAX_BODY	(64 * 1024)	/* a vehicle is a few hundred bytes */

enum route {
	R_VALUE, R_LOANS, R_LOAN, R_WATCHLIST, R_SUMMARY, R_INDEX, R_QUALITY,
	R_STRESS, R_METRICS, R_HEALTHZ, R_PAGE, R_OTHER, R_COUNT
};
static const char *route_names[R_COUNT] = {
	"/v1/value", "/v1/loans", "/v1/loans/{id}", "/v1/watchlist",
	"/v1/summary", "/v1/index", "/v1/quality", "/v1/stress", "/metrics",
	"/healthz", "/", "other"
};

/* Latency buckets, seconds (Prometheus' le). */
static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))
static const int codes[] = { 200, 400, 404, 405, 413, 422, 500, 503 };
#define NCODES		(sizeof(codes) / sizeof(codes[0]))

/* The counters, in memory every worker shares (the workers' sum). */
static struct metrics {
	atomic_ullong	 requests[R_COUNT][NCODES + 1];	/* last: other */
	atomic_ullong	 le[R_COUNT][NBUCKETS];
	atomic_ullong	 count[R_COUNT];
	atomic_ullong	 usec[R_COUNT];	/* sum of latencies */
	atomic_ullong	 errors[R_COUNT];
	atomic_ullong	 timeouts;
} *m;

/* The page's files, read at start. */
static struct file {
	const char	*name, *type;
	char		*data;
	size_t		 len;
} files[] = {
	{ "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "app.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "style.css", "text/css; charset=utf-8", NULL, 0 },
};

/* A request in progress: its body so far. */
struct req {
	double		 t0;
	struct buf	 body;
	int		 too_big;
};

static int verbose;

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-serve [-v] [-d file] [-g grade.conf] "
	    "[-j workers] [-l addr:port] [-m models.db] [-P pagedir] "
	    "[-r segments.csv] [-S state] [-t seconds] [-w warn.conf]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -d, --db FILE        the pipeline's sqlite outputs, for the "
	    "dashboard\n"
	    "                       (make run: out/cvpipe.db)\n"
	    "  -g, --grade-config F cv-grade's settings "
	    "(pipelines/grade.conf)\n"
	    "  -j, --workers N      processes answering requests, each with "
	    "its own copy\n"
	    "                       of the state and models (2)\n"
	    "  -l, --listen A:P     address and port (127.0.0.1:8080)\n"
	    "  -m, --models FILE    model store written by cv-train (latest "
	    "version)\n"
	    "  -P, --page DIR       the page's files (installed with the "
	    "program)\n"
	    "  -r, --reference F    cv-grade's segment table "
	    "(pipelines/segments.csv)\n"
	    "  -S, --state FILE     a cv-features state file (-S of "
	    "cv-features)\n"
	    "  -t, --timeout S      close a connection idle S seconds (10)\n"
	    "  -w, --warn-config F  cv-warn's settings (pipelines/warn.conf)\n"
	    "  -v, --verbose        one line per request on stderr\n"
	    "  -h, --help           this help\n");
}

static enum route
route_of(const char *url)
{
	if (strcmp(url, "/v1/value") == 0)
		return R_VALUE;
	if (strcmp(url, "/v1/loans") == 0)
		return R_LOANS;
	if (strncmp(url, "/v1/loans/", 10) == 0 && url[10] != '\0')
		return R_LOAN;
	if (strcmp(url, "/v1/watchlist") == 0)
		return R_WATCHLIST;
	if (strcmp(url, "/v1/summary") == 0)
		return R_SUMMARY;
	if (strcmp(url, "/v1/index") == 0)
		return R_INDEX;
	if (strcmp(url, "/v1/quality") == 0)
		return R_QUALITY;
	if (strcmp(url, "/v1/stress") == 0)
		return R_STRESS;
	if (strcmp(url, "/metrics") == 0)
		return R_METRICS;
	if (strcmp(url, "/healthz") == 0)
		return R_HEALTHZ;
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 ||
	    strcmp(url, "/app.js") == 0 || strcmp(url, "/style.css") == 0)
		return R_PAGE;
	return R_OTHER;
}

static void
count_request(enum route r, int status, double t0)
{
	double dt = now_seconds() - t0;
	size_t i;

	for (i = 0; i < NCODES && codes[i] != status; i++)
		;
	atomic_fetch_add(&m->requests[r][i], 1);
	for (i = 0; i < NBUCKETS; i++)
		if (dt <= buckets[i])
			atomic_fetch_add(&m->le[r][i], 1);
	atomic_fetch_add(&m->count[r], 1);
	atomic_fetch_add(&m->usec[r], (unsigned long long)(dt * 1e6));
	if (status >= 400)
		atomic_fetch_add(&m->errors[r], 1);
}

/* Queue a response (taking text, malloc'd) and count it. */
static enum MHD_Result
respond(struct MHD_Connection *c, const char *url, const char *method,
    struct req *rq, int status, const char *type, char *text, size_t len,
    int must_free)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	enum route r = route_of(url);

	resp = MHD_create_response_from_buffer(len, text, must_free ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (must_free)
			free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status == 405)
		MHD_add_response_header(resp, "Allow", r == R_VALUE ? "POST" :
		    "GET, HEAD");
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	count_request(r, status, rq->t0);
	if (verbose)
		warnx("%s %s %d %.3f ms", method, url, status,
		    (now_seconds() - rq->t0) * 1e3);
	return ret;
}

static enum MHD_Result
respond_json(struct MHD_Connection *c, const char *url, const char *method,
    struct req *rq, int status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
	size_t len = strlen(text);

	json_decref(j);
	/* One line, as curl users and jq expect. */
	text = erealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	return respond(c, url, method, rq, status, "application/json", text,
	    len, 1);
}

static char *
metrics_text(size_t *len)
{
	struct buf b = { 0 };
	size_t r, i;

	buf_addf(&b, "# HELP cv_serve_requests_total Requests answered, by "
	    "route and status.\n# TYPE cv_serve_requests_total counter\n");
	for (r = 0; r < R_COUNT; r++)
		for (i = 0; i <= NCODES; i++)
			if (atomic_load(&m->requests[r][i]) > 0) {
				if (i < NCODES)
					buf_addf(&b, "cv_serve_requests_total"
					    "{route=\"%s\",code=\"%d\"} %llu\n",
					    route_names[r], codes[i],
					    atomic_load(&m->requests[r][i]));
				else
					buf_addf(&b, "cv_serve_requests_total"
					    "{route=\"%s\",code=\"other\"} "
					    "%llu\n", route_names[r],
					    atomic_load(&m->requests[r][i]));
			}
	buf_addf(&b, "# HELP cv_serve_errors_total Requests answered with a "
	    "4xx or 5xx status.\n# TYPE cv_serve_errors_total counter\n");
	for (r = 0; r < R_COUNT; r++)
		buf_addf(&b, "cv_serve_errors_total{route=\"%s\"} %llu\n",
		    route_names[r], atomic_load(&m->errors[r]));
	buf_addf(&b, "# HELP cv_serve_request_seconds Time from a request's "
	    "start to its response.\n# TYPE cv_serve_request_seconds "
	    "histogram\n");
	for (r = 0; r < R_COUNT; r++) {
		if (atomic_load(&m->count[r]) == 0)
			continue;
		for (i = 0; i < NBUCKETS; i++)
			buf_addf(&b, "cv_serve_request_seconds_bucket{route="
			    "\"%s\",le=\"%g\"} %llu\n", route_names[r],
			    buckets[i], atomic_load(&m->le[r][i]));
		buf_addf(&b, "cv_serve_request_seconds_bucket{route=\"%s\","
		    "le=\"+Inf\"} %llu\n", route_names[r],
		    atomic_load(&m->count[r]));
		buf_addf(&b, "cv_serve_request_seconds_sum{route=\"%s\"} "
		    "%.6f\n", route_names[r], atomic_load(&m->usec[r]) / 1e6);
		buf_addf(&b, "cv_serve_request_seconds_count{route=\"%s\"} "
		    "%llu\n", route_names[r], atomic_load(&m->count[r]));
	}
	buf_addf(&b, "# HELP cv_serve_timeouts_total Connections closed idle "
	    "or too slow.\n# TYPE cv_serve_timeouts_total counter\n"
	    "cv_serve_timeouts_total %llu\n", atomic_load(&m->timeouts));
	*len = b.len;
	return b.p;
}

/* A whole number query argument from 0 to max; -1 if it is not one. */
static long
query_long(struct MHD_Connection *c, const char *name, long dflt, long max)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    name);
	char *end;
	long n;

	if (s == NULL)
		return dflt;
	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || n < 0 || n > max ||
	    !(*s >= '0' && *s <= '9'))
		return -1;
	return n;
}

static enum MHD_Result
board(struct MHD_Connection *c, const char *url, const char *method,
    struct req *rq)
{
	const char *light = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "light");
	const char *grade = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "grade");
	const char *segment = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "segment");
	long limit = query_long(c, "limit", 50, 1000);
	long offset = query_long(c, "offset", 0, LONG_MAX / 2);
	json_t *out;
	int status;

	if (limit < 0)
		return respond_json(c, url, method, rq, 400, json_error(
		    "limit", "limit: not a whole number from 0 to 1000"));
	if (offset < 0)
		return respond_json(c, url, method, rq, 400, json_error(
		    "offset", "offset: not a whole number 0 or more"));
	if (light != NULL && strcmp(light, "GREEN") != 0 &&
	    strcmp(light, "YELLOW") != 0 && strcmp(light, "RED") != 0)
		return respond_json(c, url, method, rq, 400, json_error(
		    "light", "light: \"%.40s\" is not GREEN, YELLOW or RED",
		    light));
	if (grade != NULL && strlen(grade) > 8)
		return respond_json(c, url, method, rq, 400, json_error(
		    "grade", "grade: not a grade such as 2-1"));
	if (segment != NULL && strlen(segment) > 255)
		return respond_json(c, url, method, rq, 400, json_error(
		    "segment", "segment: longer than 255 bytes"));
	status = board_request(url, light, grade, limit, offset, segment,
	    &out);
	return respond_json(c, url, method, rq, status, out);
}

static enum MHD_Result
page(struct MHD_Connection *c, const char *url, const char *method,
    struct req *rq)
{
	const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
	size_t i;

	for (i = 0; i < NELEM(files); i++)
		if (strcmp(files[i].name, name) == 0)
			return respond(c, url, method, rq, 200, files[i].type,
			    files[i].data, files[i].len, 0);
	return respond_json(c, url, method, rq, 404, json_error(NULL,
	    "%s: no such resource", url));
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *rq = *con_cls;
	enum route r = route_of(url);
	const char *cl;
	int status, get = strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0;

	if (rq == NULL) {
		rq = *con_cls = ecalloc(1, sizeof(*rq));
		rq->t0 = now_seconds();
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > MAX_BODY)
			return respond_json(c, url, method, rq, 413,
			    json_error("body", "body: %s bytes, more than %d",
			    cl, MAX_BODY));
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (rq->body.len + *upload_size > MAX_BODY)
			rq->too_big = 1;
		else
			buf_add(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return respond_json(c, url, method, rq, 413, json_error("body",
		    "body: more than %d bytes", MAX_BODY));
	switch (r) {
	case R_VALUE:
		if (strcmp(method, "POST") != 0)
			return respond_json(c, url, method, rq, 405,
			    json_error(NULL, "%s: POST a vehicle as JSON", url));
	{
		char *text;

		const char *rec = MHD_lookup_connection_value(c,
		    MHD_GET_ARGUMENT_KIND, "record");

		status = value_request(rq->body.p ? rq->body.p : "",
		    rq->body.len, rec != NULL && strcmp(rec, "0") != 0, &text);
		return respond(c, url, method, rq, status, "application/json",
		    text, strlen(text), 1);
	}
	case R_OTHER:
		return respond_json(c, url, method, rq, 404, json_error(NULL,
		    "%s: no such resource", url));
	default:
		break;
	}
	if (!get)
		return respond_json(c, url, method, rq, 405, json_error(NULL,
		    "%s: %s: only GET", url, method));
	switch (r) {
	case R_METRICS: {
		size_t len;
		char *text = metrics_text(&len);

		return respond(c, url, method, rq, 200,
		    "text/plain; version=0.0.4", text, len, 1);
	}
	case R_HEALTHZ:
		return respond_json(c, url, method, rq, 200, value_health());
	case R_PAGE:
		return page(c, url, method, rq);
	default:
		return board(c, url, method, rq);
	}
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		atomic_fetch_add(&m->timeouts, 1);
	if (rq == NULL)
		return;
	buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

/* "127.0.0.1:8080", "[::1]:8080", ":8080" (loopback) into an address. */
static void
parse_listen(const char *arg, struct sockaddr_storage *ss)
{
	char host[256];
	const char *colon = strrchr(arg, ':');
	struct addrinfo hints, *ai;
	size_t n;
	int rc;

	if (colon == NULL || colon[1] == '\0')
		errx(2, "-l: %s: not ADDR:PORT", arg);
	n = (size_t)(colon - arg);
	if (n >= sizeof(host))
		errx(2, "-l: %s: address too long", arg);
	memcpy(host, arg, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 1 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(*host ? host : "127.0.0.1", colon + 1, &hints,
	    &ai)) != 0)
		errx(2, "-l: %s: %s", arg, gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;

	if (fp == NULL)
		err(1, "%s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(fp))
		err(1, "%s", path);
	fclose(fp);
	*len = b.len;
	return b.p ? b.p : estrdup("");
}

/* The page's folder: installed beside the program, or in the source tree
 * the program was built in (build/rel/bin/cv-serve). */
static char *
page_dir(void)
{
	static const char *rel[] = { "../share/cvpipe/serve",
		"../../../filters/cv-serve/page" };
	char exe[PATH_MAX], *slash, *d;
	ssize_t n;
	size_t i;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		err(1, "/proc/self/exe");
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	for (i = 0; i < NELEM(rel); i++) {
		d = easprintf("%s/%s", exe, rel[i]);
		if (access(d, R_OK) == 0)
			return d;
		free(d);
	}
	errx(1, "the page's files are not in %s/%s nor %s/%s: give -P", exe,
	    rel[0], exe, rel[1]);
}

/* What a worker needs that main() read. */
struct worker_opts {
	struct valuer_opts vo;
	const char	*db;
	int		 timeout;
};

/* A worker: its own chain and daemon on its socket, until SIGTERM. */
static int
worker(int fd, int ready, void *arg)
{
	const struct worker_opts *wo = arg;
	struct MHD_Daemon *d;
	sigset_t sigs;
	int sig;

	value_init(&wo->vo);
	board_init(wo->db);
	/* One thread: the chain is valued one request at a time anyway. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_USE_TURBO, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)wo->timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		warnx("worker %d: the HTTP daemon did not start", (int)getpid());
		return 1;
	}
	if (ready >= 0) {
		if (write(ready, "", 1) != 1)
			warn("worker %d: saying it is up", (int)getpid());
		close(ready);
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigwait(&sigs, &sig);
	MHD_stop_daemon(d);
	value_cleanup();
	schema_cleanup();
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "db",		  required_argument, NULL, 'd' },
		{ "grade-config", required_argument, NULL, 'g' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "workers",	  required_argument, NULL, 'j' },
		{ "listen",	  required_argument, NULL, 'l' },
		{ "models",	  required_argument, NULL, 'm' },
		{ "page",	  required_argument, NULL, 'P' },
		{ "reference",	  required_argument, NULL, 'r' },
		{ "state",	  required_argument, NULL, 'S' },
		{ "timeout",	  required_argument, NULL, 't' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		{ "warn-config",  required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct valuer_opts vo = { 0 };
	struct sockaddr_storage ss;
	struct worker_opts wo;
	const char *listen = "127.0.0.1:8080", *db = NULL;
	char *dir = NULL, *path;
	size_t i;
	int c, status, workers = 2, timeout = 10;

	while ((c = getopt_long(argc, argv, "d:g:hj:l:m:P:r:S:t:vw:",
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'g':
			vo.grade_conf = optarg;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'j':
			workers = (int)number_arg(c, optarg, 1, 64, usage);
			break;
		case 'l':
			listen = optarg;
			break;
		case 'm':
			vo.models = optarg;
			break;
		case 'P':
			dir = estrdup(optarg);
			break;
		case 'r':
			vo.reference = optarg;
			break;
		case 'S':
			vo.state = optarg;
			break;
		case 't':
			timeout = (int)number_arg(c, optarg, 1, 3600, usage);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			vo.warn_conf = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		warnx("%s: no file arguments (see -S, -m, -d)", argv[optind]);
		usage(stderr);
		return 2;
	}
	parse_listen(listen, &ss);
	if (dir == NULL)
		dir = page_dir();
	for (i = 0; i < NELEM(files); i++) {
		path = easprintf("%s/%s", dir, files[i].name);
		files[i].data = read_file(path, &files[i].len);
		free(path);
	}
	signal(SIGPIPE, SIG_IGN);
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		err(1, "mmap");
	wo.vo = vo;
	wo.db = db;
	wo.timeout = timeout;
	if (verbose)
		warnx("listening on %s, %d workers", listen, workers);
	status = workers_run(workers, &ss, listen, worker, &wo);
	for (i = 0; i < NELEM(files); i++)
		free(files[i].data);
	free(dir);
	schema_cleanup();
	return status;
}
