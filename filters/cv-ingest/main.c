/*
 * cv-ingest: turn CSV or JSON-lines files of market data into an Event
 * stream.  A mapping (a file under pipelines/maps, -m and -s) says which
 * column feeds which field of IndexObs or VehicleObs; values are checked,
 * converted (dates to UTC, miles to km, condition grades to 0..1) and
 * every row that cannot be used is rejected with its file:line and reason.
 *
 *	cv-ingest -M pipelines/maps/auction.map sales.csv | cv-cat -f table
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/kafka.h"
#include "lib/schema.h"
#include "ingest.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-ingest [-Ov] [-e on-error] [-f csv|json] "
	    "[-M mapfile] [-m field=column] [-o file] [-s field=value] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -e, --on-error X     fail (default), skip, or a file for "
	    "rejected rows\n"
	    "  -f, --input-format F csv (default) or json (one object a "
	    "line)\n"
	    "  -M, --map FILE       mapping file (pipelines/maps/*.map)\n"
	    "  -m, --map-field F=C  fill field F from column C (name, A|B, "
	    "A| if any, or $N)\n"
	    "  -O, --sort           emit in event time (several inputs "
	    "always are)\n"
	    "  -o, --output FILE    write there instead of stdout\n"
	    "  -s, --set F=VALUE    fill field F with a constant (%%f file, "
	    "%%l line)\n"
	    "  -v, --verbose        counts and rate on stderr\n"
	    "  -h, --help           this help\n");
	kafka_help(stdout);
}

/*
 * stdio calls this when the buffer of an input is empty.  If the
 * descriptor has nothing either, the rows converted so far go out
 * before the wait (run_idle), so an idle pipe passes each row on at
 * once instead of holding it until a block fills.  A signal ends the
 * input.
 */
static ssize_t
idle_read(void *cookie, char *p, size_t len)
{
	int fd = (int)(intptr_t)cookie;
	ssize_t n;

	if (!run_wait_input(fd))
		return 0;
	while ((n = read(fd, p, len)) < 0 && errno == EINTR)
		;
	return n;
}

/* Read fp's descriptor through idle_read; fclose() it before fp. */
static FILE *
idle_open(FILE *fp)
{
	static const cookie_io_functions_t io = { .read = idle_read };
	FILE *in;

	in = fopencookie((void *)(intptr_t)fileno(fp), "r", io);
	if (in == NULL)
		err(1, "fopencookie");
	return in;
}

static void
free_ingest(struct ingest *g)
{
	rows_close(g);
	mapping_free(g);
	reader_free_header(g);
}

/* A map file (-M): exits 2 saying what is wrong. */
static void
load_map(struct ingest *g, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *why;

	if (fp == NULL)
		err(2, "%s", path);
	if (mapping_load(g, fp, path, &why) < 0)
		errx(2, "%s", why);
	fclose(fp);
}

/* A -m or -s setting: exits 2 saying what is wrong. */
static void
setting(struct ingest *g, const char *s, const char *where)
{
	char *why;

	if (mapping_setting(g, s, where, &why) < 0)
		errx(2, "%s", why);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "on-error",	  required_argument, NULL, 'e' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "map",	  required_argument, NULL, 'M' },
		{ "map-field",	  required_argument, NULL, 'm' },
		{ "output",	  required_argument, NULL, 'o' },
		{ "sort",	  no_argument,	     NULL, 'O' },
		{ "set",	  required_argument, NULL, 's' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static char *dash[] = { "-" };
	struct ingest g = { 0 };
	const char *out = NULL;
	char **files, *where;
	FILE *fp, *in;
	int c, i, nfiles, verbose = 0, status, failed = 0;
	double t0 = now_seconds();

	if (mapping_type(&g, "vehicle", "default", &where) < 0)
		errx(1, "%s", where);
	/* The map file comes first, so -m and -s override it. */
	while ((c = getopt_long(argc, argv, "e:f:hM:m:Oo:s:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'f':
			if (strcmp(optarg, "csv") && strcmp(optarg, "json")) {
				warnx("-f: %s: not csv or json", optarg);
				usage(stderr);
				return 2;
			}
			g.json = optarg[0] == 'j';
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'M':
			load_map(&g, optarg);
			break;
		case 'm':
		case 'O':
		case 'o':
		case 's':
		case 'v':
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:f:hM:m:Oo:s:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
		case 's':
			if (c == 's') {
				char *eq = strchr(optarg, '=');

				if (eq == NULL) {
					warnx("-s: %s: not field=value",
					    optarg);
					usage(stderr);
					return 2;
				}
				where = easprintf("%.*s:=%s",
				    (int)(eq - optarg), optarg, eq + 1);
				setting(&g, where, "-s");
				free(where);
			} else
				setting(&g, optarg, "-m");
			break;
		case 'O':
			g.sort = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		}
	}
	files = argv + optind;
	nfiles = argc - optind;
	if (nfiles == 0) {
		files = dash;
		nfiles = 1;
	}
	if (nfiles > 1)
		g.sort = 1;
	if (kafka_input())
		errx(2, "-t: cv-ingest reads CSV or JSON lines, not topics");
	kafka_check(nfiles);
	run_init();
	rows_open(&g, out);
	for (i = 0; i < nfiles && !g.stop && !run_stop; i++) {
		g.file = files[i];
		if (strcmp(files[i], "-") == 0)
			fp = stdin;
		else if ((fp = fopen(files[i], "r")) == NULL) {
			if (reject(files[i], 0, NULL, 0, NULL, "%s",
			    strerror(errno)) < 0)
				g.stop = 1;
			continue;
		}
		in = idle_open(fp);
		if ((g.json ? reader_json(&g, in) : reader_csv(&g, in)) < 0) {
			failed = 1;
			run_fail();
		}
		reader_free_header(&g);
		fclose(in);
		if (fp != stdin)
			fclose(fp);
	}
	if (g.sort)
		rows_release(&g);
	free_ingest(&g);
	schema_cleanup();
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f rows/s", run_tally.read / (now_seconds() - t0));
	return failed ? 1 : status;
}
