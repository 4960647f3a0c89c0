/*
 * cv-warn: a traffic light per loan.  Reads Graded and writes Warning
 * records: for a record with a loan, ltv = loan_balance / value and a
 * light, GREEN, YELLOW or RED, from the highest of these criteria:
 *
 *	ltv above ltv.yellow (0.80): YELLOW, above ltv.red (0.90): RED
 *	value_next below value by more than drop.yellow (5 %): YELLOW,
 *	    by more than drop.red (10 %): RED
 *	on the watch list, or graded 3-3: YELLOW (watch.light, grade.light)
 *	no value, or fewer comparables than thin.comps: YELLOW (thin.light)
 *
 * with stable reason codes and one sentence with the numbers ("YELLOW →
 * RED: ..." when the light changed), the previous light and since when
 * the light has held.  A loan that was YELLOW or RED stays so until its
 * ltv (drop) falls below the threshold by the hysteresis margin, so a
 * loan hovering at a threshold does not flap; --changes writes only the
 * records whose light changed.  A second, different snapshot of a loan at
 * the time of its last one is rejected: loan ids must be unique.  The
 * last light of each loan lives in a sqlite file with -S.
 *
 *	... | cv-grade | cv-warn -c pipelines/warn.conf --changes
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/append.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/field.h"
#include "lib/kafka.h"
#include "lib/lights.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/valid.h"

enum {
	A_LIGHT, A_LTV, A_REASONS, A_MESSAGE, A_PREV, A_SINCE, A_COUNT
};
static const char *added_names[A_COUNT] = {
	[A_LIGHT] = "light",
	[A_LTV] = "ltv",
	[A_REASONS] = "reasons",
	[A_MESSAGE] = "message",
	[A_PREV] = "prev_light",
	[A_SINCE] = "light_since",
};

enum {
	F_LOAN, F_BALANCE, F_CURRENCY, F_VALUE, F_NEXT, F_COMPS, F_GRADE,
	F_STREAK, F_WATCH, F_OBSERVED, F_COUNT
};
static const struct field input[F_COUNT] = {
	[F_LOAN] = { "loan_id", 'S' },
	[F_BALANCE] = { "loan_balance", 'D' },
	[F_CURRENCY] = { "currency", 's' },
	[F_VALUE] = { "value", 'D' },
	[F_NEXT] = { "value_next", 'D' },
	[F_COMPS] = { "decay_n", 'd' },
	[F_GRADE] = { "grade", 's' },
	[F_STREAK] = { "tier3_streak", 'i' },
	[F_WATCH] = { "watchlist", 'b' },
	[F_OBSERVED] = { "observed_at", 'l' },
};

#define UNKNOWN	INT64_MIN	/* since: from a state file without it */

/*
 * A loan's last light, the levels its ltv and predicted fall had (each
 * keeps its own hysteresis), since when the light has held, and its last
 * snapshot: when, and a hash of the record, to tell a second snapshot at
 * one time from the same record delivered again.
 */
struct loan {
	int		light, ltv, drop;
	int64_t		since, last_at;
	uint64_t	last_hash;
};

struct warner {
	struct map	*lights;	/* loan_id: struct loan */
	struct reader	*in;
	struct appender	*out;
	int		 fx[F_COUNT];
	struct valid	*valid;		/* of the fields read */
	int		 changes, loans_only;
	int64_t		 lit[3], unlit;
	const char	*state;		/* -S */
	struct positions at;		/* where the state stands in topics */
};

/* Forget the lights: the input is read again from its start. */
static void
start_again(void *arg)
{
	struct warner *w = arg;

	map_free(w->lights, free);
	w->lights = map_new();
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-warn [-CLpv] [-c config] [-e on-error] "
	    "[-o file] [-S state] [-s key=value] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -C, --changes       only records whose loan's light "
	    "changed\n"
	    "  -c, --config FILE   settings (pipelines/warn.conf documents "
	    "them)\n"
	    "  -e, --on-error X    fail (default), skip, or a file for "
	    "rejects\n"
	    "  -L, --loans-only    drop records without a loan (else they "
	    "pass unlit)\n"
	    "  -o, --output FILE   write there instead of stdout\n"
	    "  -p, --print-config  print the settings in force and exit\n"
	    "  -S, --state FILE    keep each loan's last light in this "
	    "sqlite file\n"
	    "  -s, --set K=V       one setting, after the config file\n"
	    "  -v, --verbose       counts and rate on stderr\n"
	    "  -h, --help          this help\n");
	kafka_help(stdout);
}

/* Thousands-separated whole amount. */
static const char *
amount(double x, char *buf, size_t len)
{
	char digits[32], *p = buf;
	long long v = llround(fabs(x));
	int n, i;

	n = snprintf(digits, sizeof(digits), "%lld", v);
	if (x < 0 && len > 1) {
		*p++ = '-';
		len--;
	}
	for (i = 0; i < n && len > 2; i++) {
		if (i > 0 && (n - i) % 3 == 0) {
			*p++ = ',';
			len--;
		}
		*p++ = digits[i];
		len--;
	}
	*p = '\0';
	return buf;
}

/* FNV-1a of the record's encoding: the same record delivered again has
 * the same hash. */
static uint64_t
record_hash(const struct view *v)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n, i;
	const char *p = view_span(v, 0, v->nfields, &n);

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * Light one record of loan ln (NULL: its first), observed at t with hash
 * h: fill the slots (and the buffers they point into) and the loan's
 * state; 1 if the loan's light changed (or is its first), else 0.
 */
static int
light_one(struct warner *w, const struct view *v, struct loan *ln,
    int64_t t, uint64_t h, struct slot *sl, const char **reasons,
    struct buf *msg)
{
	const struct light_rules *lr = &light_rules;
	const int *fx = w->fx;
	char loan[256], cur[256], grade[256], a[32], b[32];
	double balance = view_opt_double(v, fx[F_BALANCE]);
	double value = view_opt_double(v, fx[F_VALUE]);
	double next = view_opt_double(v, fx[F_NEXT]);
	double comps = view_double(v, fx[F_COMPS]);
	int watch = view_bool(v, fx[F_WATCH]);
	int streak = (int)view_long(v, fx[F_STREAK]);
	double ltv = NAN, drop = NAN;
	int was, light = GREEN, l, nr = 0, ltvl, dropl;
	const struct loan *prev = ln;

	view_opt_string(v, fx[F_LOAN], loan, sizeof(loan));
	view_string(v, fx[F_CURRENCY], cur, sizeof(cur));
	view_string(v, fx[F_GRADE], grade, sizeof(grade));
	was = prev ? prev->light : -1;
	/* A criterion that cannot be judged now keeps its level. */
	ltvl = prev ? prev->ltv : GREEN;
	dropl = prev ? prev->drop : GREEN;
	buf_clear(msg);
	if (value > 0) {
		ltv = balance / value;
		l = ltvl = light_level(ltv, lr->ltv_yellow, lr->ltv_red,
		    lr->ltv_margin, prev ? prev->ltv : GREEN);
		if (l > GREEN)
			reasons[nr++] = "LTV_HIGH";
		light = l;
		buf_addf(msg, "LTV %.2f (balance %s / value %s %s) %s %.2f",
		    ltv, amount(balance, a, sizeof(a)), amount(value, b,
		    sizeof(b)), cur, l == RED ? "above" : l == YELLOW ?
		    "above" : "within", l == RED ? lr->ltv_red :
		    lr->ltv_yellow);
		if (l > GREEN && ltv <= (l == RED ? lr->ltv_red :
		    lr->ltv_yellow))
			buf_addf(msg, " less the %.2f margin, held",
			    lr->ltv_margin);
	}
	if (value > 0 && next > 0) {
		/* One rounding, as for the ltv: 950 of 1000 is 0.05. */
		drop = (value - next) / value;
		l = dropl = light_level(drop, lr->drop_yellow, lr->drop_red,
		    lr->drop_margin, prev ? prev->drop : GREEN);
		if (l > GREEN) {
			reasons[nr++] = "VALUE_DROP";
			buf_addf(msg, "%svalue expected to fall %.1f %% in a "
			    "month", msg->len ? "; " : "", 100 * drop);
			if (l > light)
				light = l;
		}
	}
	if (watch) {
		reasons[nr++] = "WATCHLIST";
		buf_addf(msg, "%son the watch list (%d tier-3 grade%s in a "
		    "row)", msg->len ? "; " : "", streak, streak == 1 ? "" :
		    "s");
		if ((int)lr->watch_light > light)
			light = (int)lr->watch_light;
	}
	if (strcmp(grade, "3-3") == 0) {
		reasons[nr++] = "LOW_GRADE";
		buf_addf(msg, "%sgraded 3-3", msg->len ? "; " : "");
		if ((int)lr->grade_light > light)
			light = (int)lr->grade_light;
	}
	if (!(value > 0) || comps < lr->thin_comps) {
		reasons[nr++] = "THIN_DATA";
		if (value > 0)
			buf_addf(msg, "%sonly %.1f effective comparables",
			    msg->len ? "; " : "", comps);
		else
			buf_addf(msg, "%sno value: no fitted price for the "
			    "vehicle", msg->len ? "; " : "");
		if ((int)lr->thin_light > light)
			light = (int)lr->thin_light;
	}
	/* "YELLOW → RED: LTV 0.93 (...) above 0.90; value expected ..." */
	{
		struct buf full = { 0 };

		if (was >= 0 && was != light)
			buf_addf(&full, "%s → ", light_names[was]);
		buf_addf(&full, "%s: loan %s: %s.", light_names[light], loan,
		    msg->p);
		buf_clear(msg);
		buf_add(msg, full.p, full.len);
		buf_free(&full);
	}
	if (ln == NULL) {
		ln = ecalloc(1, sizeof(*ln));
		map_put(w->lights, loan, ln);
	}
	if (was != light)
		ln->since = t;
	ln->light = light;
	ln->ltv = ltvl;
	ln->drop = dropl;
	ln->last_at = t;
	ln->last_hash = h;
	sl[A_PREV].has = was >= 0;
	sl[A_PREV].s = was >= 0 ? light_names[was] : NULL;
	sl[A_SINCE].has = ln->since != UNKNOWN;
	sl[A_SINCE].d = (double)ln->since;
	sl[A_LIGHT].has = 1;
	sl[A_LIGHT].d = light;
	sl[A_LTV].has = !isnan(ltv);
	sl[A_LTV].d = ltv;
	sl[A_REASONS].has = 1;
	sl[A_REASONS].list = reasons;
	sl[A_REASONS].nlist = nr;
	sl[A_MESSAGE].has = 1;
	sl[A_MESSAGE].s = msg->p;
	if (!run_replaying)	/* -v counts this instance's records */
		w->lit[light]++;
	return was != light;
}

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS lights(loan_id TEXT PRIMARY KEY, "
    "light TEXT NOT NULL, ltv_level INTEGER NOT NULL, "
    "drop_level INTEGER NOT NULL, since INTEGER, last_at INTEGER, "
    "last_hash INTEGER);";

/* The state table, with the columns a file made before them lacks. */
static void
state_table(sqlite3 *db)
{
	sqlite3_stmt *q;
	int has = 0;

	db_exec(db, state_schema);
	q = db_prepare(db, "SELECT name FROM pragma_table_info('lights')");
	while (db_row(q))
		has |= strcmp((const char *)sqlite3_column_text(q, 0),
		    "since") == 0;
	sqlite3_finalize(q);
	if (!has)
		db_exec(db, "ALTER TABLE lights ADD COLUMN since INTEGER; "
		    "ALTER TABLE lights ADD COLUMN last_at INTEGER; "
		    "ALTER TABLE lights ADD COLUMN last_hash INTEGER");
}

static void
load_state(struct warner *w, const char *path)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	struct loan *ln;
	const char *name;
	int l, a, b;

	state_table(db);
	q = db_prepare(db, "SELECT loan_id, light, ltv_level, drop_level, "
	    "since, last_at, last_hash FROM lights");
	while (db_row(q)) {
		name = (const char *)sqlite3_column_text(q, 1);
		for (l = 0; l < 3; l++)
			if (name && strcmp(name, light_names[l]) == 0)
				break;
		a = sqlite3_column_int(q, 2);
		b = sqlite3_column_int(q, 3);
		if (l == 3 || a < 0 || a > 2 || b < 0 || b > 2)
			errx(1, "%s: loan %s: light %s or levels %d, %d: not "
			    "GREEN, YELLOW or RED", path,
			    sqlite3_column_text(q, 0), name ? name : "(null)",
			    a, b);
		ln = ecalloc(1, sizeof(*ln));
		ln->light = l;
		ln->ltv = a;
		ln->drop = b;
		/* Written before since was kept: not known. */
		ln->since = sqlite3_column_type(q, 4) == SQLITE_NULL ?
		    UNKNOWN : sqlite3_column_int64(q, 4);
		ln->last_at = sqlite3_column_type(q, 5) == SQLITE_NULL ?
		    UNKNOWN : sqlite3_column_int64(q, 5);
		ln->last_hash = (uint64_t)sqlite3_column_int64(q, 6);
		free(map_put(w->lights, (const char *)sqlite3_column_text(q,
		    0), ln));
	}
	sqlite3_finalize(q);
	positions_load(db, &w->at);
	db_close(db);
}

/* The lights, and where they stand in the input topics (now; none for
 * files and pipes), in one transaction. */
static void
save_state(struct warner *w, const char *path, const struct positions *now)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	const struct loan *ln;
	const char *key;
	void *val;
	size_t it;

	state_table(db);
	db_exec(db, "BEGIN");
	db_exec(db, "DELETE FROM lights");
	q = db_prepare(db, "INSERT INTO lights VALUES (?, ?, ?, ?, ?, ?, ?)");
	for (it = 0; map_next(w->lights, &it, &key, &val); ) {
		ln = val;
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, light_names[ln->light], -1,
		    SQLITE_STATIC);
		sqlite3_bind_int(q, 3, ln->ltv);
		sqlite3_bind_int(q, 4, ln->drop);
		if (ln->since != UNKNOWN)
			sqlite3_bind_int64(q, 5, ln->since);
		if (ln->last_at != UNKNOWN)
			sqlite3_bind_int64(q, 6, ln->last_at);
		sqlite3_bind_int64(q, 7, (sqlite3_int64)ln->last_hash);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	positions_commit(db, now);
}

/* A checkpoint over topics (stream_resume()). */
static void
checkpointed(void *arg, const struct positions *now)
{
	struct warner *w = arg;

	save_state(w, w->state, now);
}

/*
 * A second snapshot of the loan at the time of its last one that is not
 * the same record again (a redelivery is): two loans under one id.
 */
static int
second_snapshot(const struct loan *ln, int64_t t, uint64_t h)
{
	return ln != NULL && ln->last_at == t && ln->last_hash != h;
}

/* The fields read and the appender; cv-serve calls it too. */
static void
warner_setup(struct warner *w)
{
	avro_schema_t gs = schema_get("Graded");
	int i;

	for (i = 0; i < F_COUNT; i++)
		w->fx[i] = field_pos(gs, input[i].name, input[i].type,
		    "cv-warn");
	w->valid = valid_new(input, w->fx, F_COUNT);
	w->in = reader_new(gs);
	w->out = appender_new(gs, schema_get("Warning"), added_names, A_COUNT,
	    "cv-warn");
}

static void
warner_free(struct warner *w)
{
	reader_free(w->in);
	valid_free(w->valid);
	appender_free(w->out);
	map_free(w->lights, free);
	positions_free(&w->at);
}

/*
 * Check, light and write one record of r (slots, reasons and msg are the
 * caller's, reused); -1 when the policy says stop.  cv-serve calls it too
 * (filters/cv-serve/warn.c).
 */
static int
warn_record(struct warner *w, struct rec *r, const struct view *v,
    struct sink *sink, struct slot *sl, const char **reasons,
    struct buf *msg)
{
	const char *why;

	memset(sl, 0, A_COUNT * sizeof(*sl));
	if (valid_check(w->valid, v, &why) >= 0)
		return reject(rec_where(r), 1, NULL, 0, rec_value(r), "%s",
		    why) < 0 ? -1 : 0;
	if (view_is_null(v, w->fx[F_LOAN]) ||
	    view_is_null(v, w->fx[F_BALANCE])) {
		if (!run_replaying)
			w->unlit++;
		if (w->loans_only || w->changes)
			run_tally.absorbed++;
		else
			appender_put(w->out, sink, v, sl);
	} else {
		char loan[256], when[32];
		int64_t t = view_long(v, w->fx[F_OBSERVED]);
		uint64_t h = record_hash(v);
		struct loan *ln;

		view_opt_string(v, w->fx[F_LOAN], loan, sizeof(loan));
		ln = map_get(w->lights, loan);
		if (second_snapshot(ln, t, h))
			return reject(rec_where(r), 1, NULL, 0, rec_value(r),
			    "loan %s: a second, different snapshot at %s: "
			    "loan ids must be unique", loan, time_format(t,
			    when, sizeof(when))) < 0 ? -1 : 0;
		if (!light_one(w, v, ln, t, h, sl, reasons, msg) &&
		    w->changes)
			run_tally.absorbed++;
		else
			appender_put(w->out, sink, v, sl);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "changes",	  no_argument,	     NULL, 'C' },
		{ "config",	  required_argument, NULL, 'c' },
		{ "on-error",	  required_argument, NULL, 'e' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "loans-only",	  no_argument,	     NULL, 'L' },
		{ "output",	  required_argument, NULL, 'o' },
		{ "print-config", no_argument,	     NULL, 'p' },
		{ "state",	  required_argument, NULL, 'S' },
		{ "set",	  required_argument, NULL, 's' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct warner w = { 0 };
	struct slot sl[A_COUNT];
	const char *reasons[8];
	struct buf msg = { 0 };
	struct sink *sink;
	struct src *src;
	struct rec *r;
	struct view *v;
	const char *out = NULL, *state = NULL;
	int c, rc, verbose = 0, print = 0, status;
	double t0 = now_seconds();

	while ((c = getopt_long(argc, argv, "Cc:e:hLo:pS:s:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			w.changes = 1;
			break;
		case 'c':
			config_load(optarg, light_settings, light_nsettings);
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'L':
			w.loans_only = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			print = 1;
			break;
		case 'S':
			state = optarg;
			break;
		case 's':
			config_keep(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	config_set_kept(light_settings, light_nsettings);
	light_check();
	if (print) {
		config_print(stdout, light_settings, light_nsettings);
		return fshut(stdout, "stdout");
	}
	run_init();
	w.lights = map_new();
	/* Over topics every instance reads every partition: a loan's
	 * light follows its partition to another instance.  With -S the
	 * state and its positions are saved at each checkpoint; without,
	 * the state is rebuilt by replay. */
	stream_keep_state(start_again, &w);
	if (state != NULL) {
		load_state(&w, state);
		w.state = state;
		stream_resume(&w.at, checkpointed, &w);
	}
	warner_setup(&w);
	sink = sink_open(out, schema_text("Warning"));
	src = src_open(argv + optind, argc - optind, "Graded");
	src_lazy(src);
	while ((rc = src_next(src, &r)) > 0) {
		if ((v = reader_view(w.in, r)) == NULL) {
			src_ack(src, r);
			continue;
		}
		if (warn_record(&w, r, v, sink, sl, reasons, &msg) < 0) {
			rc = -1;
			break;
		}
		src_ack(src, r);
	}
	if (state != NULL && rc >= 0 && !kafka_input())
		save_state(&w, state, NULL);	/* (topics: at the last
						 * checkpoint) */
	sink_close(sink);
	src_close(src);
	warner_free(&w);
	buf_free(&msg);
	schema_cleanup();
	if (verbose)
		warnx("GREEN %lld, YELLOW %lld, RED %lld; %lld without a loan",
		    (long long)w.lit[GREEN], (long long)w.lit[YELLOW],
		    (long long)w.lit[RED], (long long)w.unlit);
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", run_tally.read / (now_seconds() - t0));
	return rc < 0 ? 1 : status;
}
