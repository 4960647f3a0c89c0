/*
 * cv-features: the market state behind each vehicle sighting.  Reads
 * Event streams (several inputs are merged in event time) and writes one
 * Features record per VehicleObs: the vehicle plus its index level,
 * returns, volatility, supply-demand elasticity and depreciation fit, all
 * as they stood just before the sighting.  Only then does the sighting
 * update the state, so nothing in a record was learned from itself or
 * from anything later.
 *
 *	cv-ingest -M pipelines/maps/auction.map sales.csv > sales.avro
 *	cv-features index.avro sales.avro | cv-cat -f table
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/timeparse.h"
#include "features.h"

/* Reject the record; -1, or -2 when the policy says stop. */
int
bad(const struct item *it, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return reject(it->where, 1, NULL, 0, it->r ? rec_value(it->r) : NULL,
	    "%s", reason) < 0 ? -2 : -1;
}

static void
state_init(struct state *st)
{
	st->series = map_new();
	st->volumes = map_new();
	st->decay = map_new();
	st->vehicles = map_new();
	st->lookups = map_new();
	st->offsets = map_new();
	st->last = map_new();
	st->max_t = INT64_MIN;
	if (st->o.pool_refit > 0)
		st->pool = pool_new(st->o.pool_refit);
}

/* Free everything learned; the options stay. */
static void
state_clear(struct state *st)
{
	struct opts o = st->o;
	int i;

	map_free(st->series, free_series);
	map_free(st->volumes, free);
	map_free(st->decay, free_decay);
	map_free(st->vehicles, vehicle_free);
	map_free(st->lookups, free_lookup);
	map_free(st->offsets, free);
	map_free(st->last, free);
	pool_free(st->pool);
	free(st->pend);
	buf_free(&st->pendbuf);
	for (i = 0; i < st->nseen; i++)
		free(st->seen_sources[i]);
	free(st->seen_sources);
	held_free(&st->held);
	positions_free(&st->at);
	memset(st, 0, sizeof(*st));
	st->o = o;
}

static void
free_state(struct state *st)
{
	int i;

	state_clear(st);
	for (i = 0; i < st->o.nsources; i++)
		free(st->o.sources[i]);
	free(st->o.sources);
}

static int
process(struct state *st, const struct item *it, const struct view *v,
    struct sink *sink)
{
	if (st->npend > 0 && view_time(v) > st->pend_t)
		learn_pending(st);
	return v->branch == 0 ? index_obs(st, it, v) : vehicle(st, it, v,
	    sink);
}

/*
 * Process the held records due by time `until` (all with INT64_MAX); with
 * drop, only free them (after a stop).
 */
static int
release(struct state *st, int64_t until, struct sink *sink, int drop)
{
	struct reorder *q = &st->held;
	struct held x;
	struct view v;
	struct item it;
	const char *why;
	int stop = drop;

	while (q->n > 0 && q->h[0].t <= until) {
		x = held_pop(q);
		if (!stop) {
			if (view_parse(&v, reader_walker(codec.event),
			    x.bytes, x.len, &why))
				errx(1, "%s: held record: %s", x.where, why);
			it.where = x.where;
			it.r = NULL;
			stop = process(st, &it, &v, sink) == -2;
		}
		free(x.bytes);
		free(x.where);
	}
	return stop ? -1 : 0;
}

/* Forget everything: the input is read again from its start. */
static void
start_again(void *arg)
{
	state_clear(arg);
	state_init(arg);
}

/* A checkpoint over topics (stream_resume()). */
static void
checkpointed(void *arg, const struct positions *now)
{
	struct state *st = arg;

	save_state(st, st->o.state, now);
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-features [-v] [-D days] "
	    "[-e on-error] [-H months] [-I sources] [-k prior] [-l seconds] "
	    "[-M vehicles] [-m min-comps] [-n min-n] [-o file] [-R sales] "
	    "[-r prior] [-S state] "
	    "[-V source] [-w months] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -D, --decay-half-life D forgetting of old sales, days (180)\n"
	    "  -e, --on-error X        fail (default), skip, or a file for "
	    "rejects\n"
	    "  -H, --ewma-half-life M  index EWMA half-life, months (3)\n"
	    "  -I, --index-sources L   index sources by preference, "
	    "comma-separated\n"
	    "                          (default: in order of first "
	    "appearance)\n"
	    "  -k, --cohort-prior N    sales' worth of the segment's curve "
	    "a model\n"
	    "                          year's offset is shrunk towards (3)\n"
	    "  -l, --lateness S        hold records S seconds to put them in "
	    "event-time\n"
	    "                          order (0: they must arrive in order)\n"
	    "  -M, --max-vehicles N    vehicles remembered for prev_value "
	    "(1000000)\n"
	    "  -m, --min-comps N       effective comparables a decay "
	    "level needs (20)\n"
	    "  -n, --min-n N           months an elasticity fit needs (12)\n"
	    "  -o, --output FILE       write there instead of stdout\n"
	    "  -R, --refit N           sales between refits of the pooled "
	    "model, at\n"
	    "                          least (250; 0: no pooled model)\n"
	    "  -r, --region-prior N    the same for a region's offset (20)\n"
	    "  -S, --state FILE        keep state in this sqlite file across "
	    "runs\n"
	    "  -V, --volume-source S   only this source's volume-only "
	    "records pair\n"
	    "                          with index values (default: any)\n"
	    "  -w, --window M          elasticity and volatility window, "
	    "months (24)\n"
	    "  -v, --verbose           counts and rate on stderr\n"
	    "  -h, --help              this help\n");
	kafka_help(stdout);
}

static void
split_sources(struct opts *o, const char *list)
{
	char *copy = estrdup(list), *p, *save = NULL;

	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		o->sources = erealloc(o->sources, (size_t)(o->nsources + 1) *
		    sizeof(*o->sources));
		o->sources[o->nsources++] = estrdup(p);
	}
	free(copy);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "decay-half-life", required_argument, NULL, 'D' },
		{ "on-error",	     required_argument, NULL, 'e' },
		{ "ewma-half-life",  required_argument, NULL, 'H' },
		{ "help",	     no_argument,	NULL, 'h' },
		{ "index-sources",   required_argument, NULL, 'I' },
		{ "cohort-prior",    required_argument, NULL, 'k' },
		{ "lateness",	     required_argument, NULL, 'l' },
		{ "max-vehicles",    required_argument, NULL, 'M' },
		{ "min-comps",	     required_argument, NULL, 'm' },
		{ "min-n",	     required_argument, NULL, 'n' },
		{ "output",	     required_argument, NULL, 'o' },
		{ "refit",	     required_argument, NULL, 'R' },
		{ "region-prior",    required_argument, NULL, 'r' },
		{ "state",	     required_argument, NULL, 'S' },
		{ "volume-source",   required_argument, NULL, 'V' },
		{ "verbose",	     no_argument,	NULL, 'v' },
		{ "window",	     required_argument, NULL, 'w' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct state st = { 0 };
	struct sink *sink;
	struct src *src;
	struct rec *r;
	struct view *v;
	struct item it;
	const char *out = NULL, *state = NULL;
	int64_t t;
	int c, rc, verbose = 0, status, stop = 0, late_stop = 0;
	double t0 = now_seconds();

	st.o.ewma_half_life = 3;
	st.o.window = 24;
	st.o.min_elasticity_n = 12;
	st.o.decay_half_life = 180;
	st.o.min_comps = 20;
	st.o.lateness_ms = 0;
	st.o.max_vehicles = 1000000;
	st.o.cohort_prior = 3;
	st.o.region_prior = 20;
	st.o.pool_refit = POOL_REFIT;
	while ((c = getopt_long(argc, argv,
	    "D:e:H:hI:k:l:M:m:n:o:R:r:S:V:vw:" KAFKA_OPTSTRING, longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'D':
			st.o.decay_half_life = number_arg(c, optarg, 0, 1e6,
			    usage);
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'H':
			st.o.ewma_half_life = number_arg(c, optarg, 0.01,
			    1000, usage);
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'I':
			split_sources(&st.o, optarg);
			break;
		case 'k':
			st.o.cohort_prior = number_arg(c, optarg, 0, 1e9,
			    usage);
			break;
		case 'l':
			st.o.lateness_ms = number_arg(c, optarg, 0, 1e9,
			    usage) * 1e3;
			break;
		case 'M':
			st.o.max_vehicles = (size_t)number_arg(c, optarg, 0,
			    1e9, usage);
			break;
		case 'm':
			st.o.min_comps = number_arg(c, optarg, 1, 1e9, usage);
			break;
		case 'n':
			st.o.min_elasticity_n = (int)number_arg(c, optarg, 3,
			    RING, usage);
			break;
		case 'o':
			out = optarg;
			break;
		case 'R':
			st.o.pool_refit = (size_t)number_arg(c, optarg, 0,
			    1e9, usage);
			if (st.o.pool_refit != atof(optarg)) {
				warnx("-R: %s: not a whole number", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'r':
			st.o.region_prior = number_arg(c, optarg, 0, 1e9,
			    usage);
			break;
		case 'S':
			state = optarg;
			break;
		case 'V':
			st.o.volume_source = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			st.o.window = (int)number_arg(c, optarg, 3, RING,
			    usage);
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	run_init();
	gsl_set_error_handler_off();
	state_init(&st);
	codec_init();
	if (state != NULL)
		load_state(&st, state);
	if (kafka_input()) {
		/* Scaled out, each instance keeps the whole market: it
		 * reads every partition.  With -S the state, the records
		 * held for -l and where they stand are saved at each
		 * checkpoint; without, the state is rebuilt by replay. */
		if (st.o.lateness_ms > 0 && state == NULL)
			errx(2, "-l: not with -t unless -S (partitions are "
			    "merged in event time; see --idle)");
		stream_keep_state(start_again, &st);
		if (state != NULL) {
			st.o.state = state;
			stream_resume(&st.at, checkpointed, &st);
		}
	}
	sink = sink_open(out, schema_text("Features"));
	src = src_open_merged(argv + optind, argc - optind, "Event",
	    event_time);
	src_lazy(src);
	while (!stop && (rc = src_next(src, &r)) > 0) {
		if ((v = view_of(r)) == NULL)
			continue;
		t = view_time(v);
		if (t < -MAX_TIME_MS || t > MAX_TIME_MS) {
			if (reject(rec_where(r), 1, NULL, 0, rec_value(r),
			    "time %lld ms: outside the years -29719..33658",
			    (long long)t) < 0)
				stop = 1;
			continue;
		}
		if (st.max_t != INT64_MIN && t < st.max_t - st.o.lateness_ms) {
			char a[40], b[40];

			if (reject(rec_where(r), 1, NULL, 0, rec_value(r), "out of "
			    "time order: %s is before %s by more than the "
			    "lateness (%g s)", time_format(t, a, sizeof(a)),
			    time_format(st.max_t, b, sizeof(b)),
			    st.o.lateness_ms / 1e3) < 0)
				late_stop = stop = 1;
			continue;
		}
		if (t > st.max_t)
			st.max_t = t;
		if (st.o.lateness_ms > 0) {
			held_push(&st.held, v, rec_where(r));
			if (release(&st, st.max_t - st.o.lateness_ms, sink,
			    0) < 0)
				stop = 1;
		} else {
			it.where = rec_where(r);
			it.r = r;
			if (process(&st, &it, v, sink) == -2)
				stop = 1;
		}
		src_ack(src, r);
	}
	/*
	 * At the end, and before a late record, what is held is written.
	 * Stopped by a signal over topics with -S, it stays held: the last
	 * checkpoint saves it with the state, for the next run.
	 */
	if (!(run_stop && state != NULL && kafka_input()) &&
	    release(&st, INT64_MAX, sink, stop && !late_stop) < 0)
		stop = 1;
	if (state != NULL && !kafka_input())
		save_state(&st, state, NULL);	/* (topics: at the last
						 * checkpoint) */
	sink_close(sink);
	src_close(src);
	codec_free();
	if (verbose)
		warnx("%lld index records (%lld without their own volume); "
		    "%lld sightings: %lld without an index, %lld without an "
		    "elasticity, %lld without a depreciation fit",
		    (long long)st.n_index, (long long)st.n_index_novol,
		    (long long)st.n_vehicles, (long long)st.n_noindex,
		    (long long)st.n_noelasticity, (long long)st.n_nodecay);
	if (verbose && st.pool != NULL)
		warnx("pooled model: %lld fits in %.2f s, %zu sales kept, "
		    "residual scale %.4f, noise %.4f", (long long)st.pool->nfits,
		    st.pool->fit_seconds, st.pool->nrows, st.pool->sigma,
		    st.pool->noise);
	free_state(&st);
	schema_cleanup();
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", run_tally.read / (now_seconds() - t0));
	return stop || rc < 0 ? 1 : status;
}
