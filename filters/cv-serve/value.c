/*
 * cv-serve: POST /v1/value.  The vehicle in the request becomes a
 * VehicleObs record as cv-ingest would make it (segment key, lower-case
 * ids), and goes through cv-features, cv-predict, cv-grade and cv-warn's
 * record functions; the answer is the Warning record at the end, as
 * cv-cat -f json prints it, and a summary of it.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <avro.h>

#include "lib/flat.h"
#include "lib/schema.h"
#include "lib/segkey.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/util.h"
#include "lib/view.h"
#include "cv-serve/serve.h"

#define MS_PER_DAY	86400000.0
#define MAX_TEXT	255

/* What may change under us: reloaded when a file's time or size moves. */
struct watched {
	const char	*path;
	struct timespec	 mtime, wal_mtime;
	off_t		 size, wal_size;
};

static struct {
	struct valuer_opts o;
	struct state	*st;
	struct predict	*pred;
	struct grader	*grade;
	struct warner	*warn;
	struct sink	*a, *b, *c, *d;	/* between the stages */
	avro_value_iface_t *ev_iface, *w_iface;
	avro_value_t	 ev, w;		/* request, answer */
	avro_writer_t	 mw;
	avro_reader_t	 mr;
	struct buf	 enc, line;
	struct flat	*flat;
	struct watched	 wstate, wmodels;
	double		 checked;	/* monotonic s, of the last check */
	char		 why[1024];	/* the last reject's reason */
	const char	*stage;		/* and who rejected */
} v;	/* a worker's one thread uses it (workers.c) */

static void
take_reject(const char *where, const char *reason)
{
	(void)where;
	snprintf(v.why, sizeof(v.why), "%s", reason);
}

json_t *
json_error(const char *field, const char *fmt, ...)
{
	char why[1024];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	j = json_pack("{ss}", "error", why);
	if (field != NULL)
		json_object_set_new(j, "field", json_string(field));
	return j;
}

static void
watch_stat(struct watched *w, struct timespec *mt, off_t *sz,
    struct timespec *wmt, off_t *wsz)
{
	struct stat sb;
	char wal[4096];

	memset(mt, 0, sizeof(*mt));
	memset(wmt, 0, sizeof(*wmt));
	*sz = *wsz = -1;
	if (w->path == NULL)
		return;
	if (stat(w->path, &sb) == 0) {
		*mt = sb.st_mtim;
		*sz = sb.st_size;
	}
	snprintf(wal, sizeof(wal), "%s-wal", w->path);
	if (stat(wal, &sb) == 0) {
		*wmt = sb.st_mtim;
		*wsz = sb.st_size;
	}
}

/* Whether the file changed since last noted; notes it. */
static int
watch_changed(struct watched *w)
{
	struct timespec mt, wmt;
	off_t sz, wsz;
	int changed;

	watch_stat(w, &mt, &sz, &wmt, &wsz);
	changed = mt.tv_sec != w->mtime.tv_sec || mt.tv_nsec !=
	    w->mtime.tv_nsec || sz != w->size || wmt.tv_sec !=
	    w->wal_mtime.tv_sec || wmt.tv_nsec != w->wal_mtime.tv_nsec ||
	    wsz != w->wal_size;
	w->mtime = mt;
	w->size = sz;
	w->wal_mtime = wmt;
	w->wal_size = wsz;
	return changed;
}

/* A new model version or state, read while requests wait. */
static void
reload(int force)
{
	double now = now_seconds();

	if (!force && now - v.checked < 1)
		return;
	v.checked = now;
	if (watch_changed(&v.wstate) || force) {
		if (!force)
			warnx("%s: changed, reading it again", v.o.state);
		fstage_close(v.st);
		v.st = fstage_open(v.o.state);
		/* Opening a WAL database touches its -wal file. */
		watch_changed(&v.wstate);
	}
	if (watch_changed(&v.wmodels) || force) {
		if (!force)
			warnx("%s: changed, reading it again", v.o.models);
		pstage_close(v.pred);
		v.pred = pstage_open(v.o.models);
		watch_changed(&v.wmodels);
	}
}

void
value_init(const struct valuer_opts *o)
{
	avro_schema_t ws;

	v.o = *o;
	v.wstate.path = o->state;
	v.wmodels.path = o->models;
	reject_to(take_reject);
	fstage_init();
	v.grade = gstage_open(o->grade_conf, o->reference);
	v.warn = wstage_open(o->warn_conf);
	reload(1);
	v.a = sink_open_memory();
	v.b = sink_open_memory();
	v.c = sink_open_memory();
	v.d = sink_open_memory();
	v.ev_iface = avro_generic_class_from_schema(schema_get("Event"));
	avro_generic_value_new(v.ev_iface, &v.ev);
	ws = schema_get("Warning");
	v.w_iface = avro_generic_class_from_schema(ws);
	avro_generic_value_new(v.w_iface, &v.w);
	v.mw = avro_writer_memory("", 0);
	v.mr = avro_reader_memory("", 0);
	{
		const char *why;

		if ((v.flat = flat_new(schema_text("Warning"), &why)) == NULL)
			errx(1, "Warning schema: %s", why);
	}
}

void
value_cleanup(void)
{
	fstage_close(v.st);
	pstage_close(v.pred);
	gstage_close(v.grade);
	wstage_close(v.warn);
	fstage_cleanup();
	sink_close(v.a);
	sink_close(v.b);
	sink_close(v.c);
	sink_close(v.d);
	avro_value_decref(&v.ev);
	avro_value_iface_decref(v.ev_iface);
	avro_value_decref(&v.w);
	avro_value_iface_decref(v.w_iface);
	avro_writer_free(v.mw);
	avro_reader_free(v.mr);
	buf_free(&v.enc);
	buf_free(&v.line);
	flat_free(v.flat);
}

/* The request, checked: fields as cv-ingest would fill them. */
struct vehicle_in {
	const char	*make, *model, *trim, *region, *vin, *loan, *currency;
	int		 year;
	int		 has_km, has_cond, has_balance;
	double		 km, cond, balance;
	int64_t		 t;
	char		 segment[MAX_TEXT + 2];
	char		 id[MAX_TEXT + 1], reg[MAX_TEXT + 1];
	/* The attributes the pooled model uses, lower case; "" unknown. */
	char		 attr[6][MAX_TEXT + 1];
};

static const char *known_fields[] = { "make", "model", "trim",
	"model_year", "mileage_km", "condition", "region", "vin", "loan_id",
	"loan_balance", "date", "currency", "body", "transmission", "seller",
	"seller_kind", "colour", "interior" };
/* VehicleObs' attributes, as cv-ingest fills them (known_fields' last). */
static const char *attr_fields[6] = { "body", "transmission", "seller",
	"seller_kind", "colour", "interior" };

static int
text_field(json_t *body, const char *name, int required, const char **out,
    json_t **err)
{
	json_t *j = json_object_get(body, name);
	const char *s;

	*out = NULL;
	if (j == NULL || json_is_null(j)) {
		if (required) {
			*err = json_error(name, "%s: missing", name);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(j)) {
		*err = json_error(name, "%s: not a string", name);
		return -1;
	}
	s = json_string_value(j);
	if (strlen(s) != json_string_length(j)) {
		*err = json_error(name, "%s: has a NUL character", name);
		return -1;
	}
	if (strlen(s) > MAX_TEXT) {
		*err = json_error(name, "%s: longer than %d bytes", name,
		    MAX_TEXT);
		return -1;
	}
	if (required && *s == '\0') {
		*err = json_error(name, "%s: empty", name);
		return -1;
	}
	*out = s;
	return 0;
}

static int
number_field(json_t *body, const char *name, double lo, double hi, int *has,
    double *out, json_t **err)
{
	json_t *j = json_object_get(body, name);
	double d;

	*has = 0;
	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_number(j)) {
		*err = json_error(name, "%s: not a number", name);
		return -1;
	}
	d = json_number_value(j);
	if (!isfinite(d) || d < lo || d > hi) {
		*err = json_error(name, "%s: %g is not from %g to %g", name,
		    d, lo, hi);
		return -1;
	}
	*has = 1;
	*out = d;
	return 0;
}

static void
lower(char *dst, const char *s, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		dst[i] = (char)tolower((unsigned char)s[i]);
	dst[i] = '\0';
}

/* 0, or -1 with *err: the error object, naming the field. */
static int
parse_vehicle(json_t *body, struct vehicle_in *in, json_t **err)
{
	const char *key, *date;
	json_t *j, *val;
	struct buf seg = { 0 };
	int y;
	unsigned mo, d;
	size_t i;
	double yr;

	if (!json_is_object(body)) {
		*err = json_error(NULL, "the body is not a JSON object");
		return -1;
	}
	json_object_foreach(body, key, val) {
		for (i = 0; i < NELEM(known_fields); i++)
			if (strcmp(key, known_fields[i]) == 0)
				break;
		if (i == NELEM(known_fields)) {
			*err = json_error(key, "%s: not a field of a vehicle",
			    key);
			return -1;
		}
	}
	memset(in, 0, sizeof(*in));
	if (text_field(body, "make", 1, &in->make, err) < 0 ||
	    text_field(body, "model", 1, &in->model, err) < 0 ||
	    text_field(body, "trim", 0, &in->trim, err) < 0 ||
	    text_field(body, "region", 0, &in->region, err) < 0 ||
	    text_field(body, "vin", 0, &in->vin, err) < 0 ||
	    text_field(body, "loan_id", 0, &in->loan, err) < 0 ||
	    text_field(body, "currency", 0, &in->currency, err) < 0 ||
	    text_field(body, "date", 0, &date, err) < 0)
		return -1;
	if (date != NULL) {
		const char *why;

		if (time_parse(date, NULL, &in->t, &why) < 0) {
			*err = json_error("date", "date: \"%s\": %s", date, why);
			return -1;
		}
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		in->t = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	if ((j = json_object_get(body, "model_year")) == NULL) {
		*err = json_error("model_year", "model_year: missing");
		return -1;
	}
	yr = json_is_number(j) ? json_number_value(j) : NAN;
	if (!(yr == floor(yr))) {
		*err = json_error("model_year", "model_year: not a whole "
		    "number");
		return -1;
	}
	civil_from_days(in->t / 86400000 - (in->t < 0), &y, &mo, &d);
	if (yr < 1900 || yr > y + 1) {
		*err = json_error("model_year", "model_year: %g is not from "
		    "1900 to %d (the year of the date + 1)", yr, y + 1);
		return -1;
	}
	in->year = (int)yr;
	if (number_field(body, "mileage_km", 0, 1e7, &in->has_km, &in->km,
	    err) < 0 || number_field(body, "condition", 0, 1, &in->has_cond,
	    &in->cond, err) < 0 || number_field(body, "loan_balance", 0, 1e12,
	    &in->has_balance, &in->balance, err) < 0)
		return -1;
	segkey(&seg, in->make, NULL, NULL);
	if (seg.len == 0) {
		buf_free(&seg);
		*err = json_error("make", "make: \"%s\": no letter or digit",
		    in->make);
		return -1;
	}
	buf_clear(&seg);
	segkey(&seg, in->make, in->model, in->trim);
	if (seg.len > 200) {
		buf_free(&seg);
		*err = json_error("model", "segment key longer than 200 "
		    "characters");
		return -1;
	}
	snprintf(in->segment, sizeof(in->segment), "%s", seg.p);
	buf_free(&seg);
	lower(in->id, in->vin ? in->vin : "-", sizeof(in->id));
	lower(in->reg, in->region && *in->region ? in->region : "*",
	    sizeof(in->reg));
	for (i = 0; i < NELEM(attr_fields); i++) {
		const char *a;

		if (text_field(body, attr_fields[i], 0, &a, err) < 0)
			return -1;
		lower(in->attr[i], a ? a : "", sizeof(in->attr[i]));
	}
	if (in->has_balance && in->loan == NULL)
		in->loan = "request";
	if (in->currency == NULL)
		in->currency = "USD";
	return 0;
}

static void
set_str(avro_value_t *rec, const char *name, const char *s)
{
	avro_value_t f, br;

	if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
		errx(1, "VehicleObs: no field %s", name);
	if (avro_value_get_type(&f) == AVRO_UNION) {
		avro_value_set_branch(&f, s != NULL, &br);
		if (s == NULL)
			avro_value_set_null(&br);
		else
			avro_value_set_string(&br, s);
	} else
		avro_value_set_string(&f, s);
}

static void
set_num(avro_value_t *rec, const char *name, int has, double d)
{
	avro_value_t f, br;

	if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
		errx(1, "VehicleObs: no field %s", name);
	avro_value_set_branch(&f, has, &br);
	if (has)
		avro_value_set_double(&br, d);
	else
		avro_value_set_null(&br);
}

/* The request as an Event (branch VehicleObs), encoded into v.enc. */
static void
encode_vehicle(const struct vehicle_in *in)
{
	avro_value_t br, f;
	size_t i;

	avro_value_reset(&v.ev);
	avro_value_set_branch(&v.ev, 1, &br);
	set_str(&br, "vehicle_id", in->id);
	set_str(&br, "loan_id", in->loan);
	set_str(&br, "source", "cv-serve");
	set_str(&br, "make", in->make);
	set_str(&br, "model", in->model);
	set_str(&br, "trim", in->trim);
	set_str(&br, "segment", in->segment);
	set_str(&br, "region", in->reg);
	avro_value_get_by_name(&br, "observed_at", &f, NULL);
	avro_value_set_long(&f, in->t);
	avro_value_get_by_name(&br, "model_year", &f, NULL);
	avro_value_set_int(&f, in->year);
	set_num(&br, "mileage_km", in->has_km, in->km);
	set_num(&br, "condition", in->has_cond, in->cond);
	set_num(&br, "price", 0, 0);
	set_num(&br, "reference_value", 0, 0);
	set_num(&br, "loan_balance", in->has_balance, in->balance);
	set_str(&br, "currency", in->currency);
	for (i = 0; i < NELEM(attr_fields); i++)
		set_str(&br, attr_fields[i], *in->attr[i] ? in->attr[i] : NULL);
	buf_clear(&v.enc);
	if (enc_value(&v.enc, v.mw, &v.ev) < 0)
		errx(1, "request: cannot encode: %s", avro_strerror());
}

static const char *
stage_out(struct sink *k, size_t *len)
{
	return sink_memory(k, len);
}

/* A top-level field of the answer record as JSON (unions unwrapped). */
static json_t	*field_json_value(avro_value_t *);

static json_t *
field_json(avro_value_t *rec, const char *name)
{
	avro_value_t f, br, e;
	const char *s;
	size_t n, i;
	double d;
	int32_t i32;
	int64_t i64;
	int b;

	if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
		return json_null();
	if (avro_value_get_type(&f) == AVRO_UNION) {
		avro_value_get_current_branch(&f, &br);
		f = br;
	}
	switch (avro_value_get_type(&f)) {
	case AVRO_DOUBLE:
		avro_value_get_double(&f, &d);
		return isfinite(d) ? json_real(d) : json_null();
	case AVRO_INT32:
		avro_value_get_int(&f, &i32);
		return json_integer(i32);
	case AVRO_INT64:
		avro_value_get_long(&f, &i64);
		return json_integer(i64);
	case AVRO_BOOLEAN:
		avro_value_get_boolean(&f, &b);
		return json_boolean(b);
	case AVRO_STRING:
		avro_value_get_string(&f, &s, &n);
		return json_stringn(s, n ? n - 1 : 0);
	case AVRO_ENUM:
		avro_value_get_enum(&f, &i32);
		return json_string(avro_schema_enum_get(
		    avro_value_get_schema(&f), i32));
	case AVRO_ARRAY: {
		json_t *a = json_array();

		avro_value_get_size(&f, &n);
		for (i = 0; i < n; i++) {
			avro_value_get_by_index(&f, i, &e, NULL);
			json_array_append_new(a, field_json_value(&e));
		}
		return a;
	}
	default:
		return json_null();
	}
}

static json_t *
field_json_value(avro_value_t *f)
{
	const char *str;
	size_t n;

	if (avro_value_get_type(f) == AVRO_STRING) {
		avro_value_get_string(f, &str, &n);
		return json_stringn(str, n ? n - 1 : 0);
	}
	return json_null();
}

/* Copy a field of the record into the answer. */
static void
pick(json_t *ans, avro_value_t *rec, const char *from, const char *to)
{
	json_object_set_new(ans, to ? to : from, field_json(rec, from));
}

static json_t *
answer(avro_value_t *rec, const struct vehicle_in *in)
{
	json_t *a = json_object(), *served = json_object();
	char when[40];
	int64_t at = fstage_time(v.st);

	pick(a, rec, "value", NULL);
	pick(a, rec, "value_lo", NULL);
	pick(a, rec, "value_hi", NULL);
	pick(a, rec, "interval", NULL);
	pick(a, rec, "value_next", NULL);
	pick(a, rec, "currency", NULL);
	pick(served, rec, "decay_level", "level");
	pick(served, rec, "segment", NULL);
	pick(served, rec, "comps_n", "comparables");
	pick(served, rec, "mpi_level", "index_level");
	pick(served, rec, "mpi_source", "index_source");
	pick(served, rec, "valuation_model", "model");
	pick(served, rec, "model_version", NULL);
	/* How stale: the last sale the serving level learned, and the
	 * state's latest event (an index value may be newer). */
	{
		json_t *lv = json_object_get(served, "level");
		int64_t sale = fstage_sales_time(v.st, in->segment, in->reg,
		    json_string_value(lv));

		json_object_set_new(served, "sales_as_of", sale ==
		    INT64_MIN ? json_null() : json_string(time_format(sale,
		    when, sizeof(when))));
		json_object_set_new(served, "stale_days", sale == INT64_MIN ?
		    json_null() : json_real(round((in->t - sale) / MS_PER_DAY *
		    10) / 10));
		json_object_set_new(served, "data_as_of", at == INT64_MIN ?
		    json_null() : json_string(time_format(at, when,
		    sizeof(when))));
	}
	json_object_set_new(a, "served", served);
	pick(a, rec, "prev_value", "comparable_vehicle_price");
	pick(a, rec, "segment_last_price", NULL);
	pick(a, rec, "grade", NULL);
	pick(a, rec, "score", NULL);
	pick(a, rec, "tier", NULL);
	pick(a, rec, "watchlist", NULL);
	pick(a, rec, "rate_adjust_bp", NULL);
	pick(a, rec, "ltv", NULL);
	pick(a, rec, "light", NULL);
	pick(a, rec, "reasons", NULL);
	pick(a, rec, "message", NULL);
	return a;
}

/*
 * The answer's text: the summary and, asked for, "record": the Warning
 * record as cv-cat -f json prints it (numbers in their shortest exact
 * form; the printing costs most of a request, so it is not the default).
 */
static char *
answer_text(json_t *a, int with_record)
{
	struct buf b = { 0 };
	char *s = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(15));
	size_t n = strlen(s), len;

	buf_add(&b, s, n - 1);		/* without its '}' */
	free(s);
	if (with_record) {
		buf_clear(&v.line);
		flat_json(v.flat, &v.w, &v.line);
		len = v.line.len;
		while (len > 0 && v.line.p[len - 1] == '\n')
			len--;
		buf_add(&b, ",\"record\":", 10);
		buf_add(&b, v.line.p, len);
	}
	buf_add(&b, "}\n", 3);
	return b.p;
}

/* The chain: 0 with the answer in v.w, or -1 with v.why. */
static int
run_chain(void)
{
	const char *p;
	size_t n;

	sink_memory_clear(v.a);
	sink_memory_clear(v.b);
	sink_memory_clear(v.c);
	sink_memory_clear(v.d);
	v.why[0] = '\0';
	if ((v.stage = "cv-features", fstage_run(v.st, v.enc.p, v.enc.len,
	    v.a) < 0) || (p = stage_out(v.a, &n), n == 0) ||
	    (v.stage = "cv-predict", pstage_run(v.pred, p, n, v.b) < 0) ||
	    (p = stage_out(v.b, &n), n == 0) ||
	    (v.stage = "cv-grade", gstage_run(v.grade, p, n, v.c) < 0) ||
	    (p = stage_out(v.c, &n), n == 0) ||
	    (v.stage = "cv-warn", wstage_run(v.warn, p, n, v.d) < 0) ||
	    (p = stage_out(v.d, &n), n == 0))
		return -1;
	avro_reader_memory_set_source(v.mr, p, (int64_t)n);
	avro_value_reset(&v.w);
	if (avro_value_read(v.mr, &v.w) != 0)
		errx(1, "request: the warning record: %s", avro_strerror());
	return 0;
}

/* Which field a reject's reason names ("mileage_km: ..."), if any. */
static const char *
field_of(const char *why)
{
	static const char *fields[] = { "make", "model", "trim", "region",
		"model_year", "mileage_km", "condition", "loan_balance",
		"loan_id", "vehicle_id", "segment", "currency" };
	size_t i, n;

	for (i = 0; i < NELEM(fields); i++) {
		n = strlen(fields[i]);
		if (strncmp(why, fields[i], n) == 0 && why[n] == ':')
			return strcmp(fields[i], "vehicle_id") == 0 ? "vin" :
			    strcmp(fields[i], "segment") == 0 ? "model" :
			    fields[i];
	}
	return NULL;
}

static int	value_json(const char *, size_t, int, json_t **, char **);

static char *
error_text(json_t *err)
{
	char *s = json_dumps(err, JSON_COMPACT), *t;

	json_decref(err);
	t = easprintf("%s\n", s);
	free(s);
	return t;
}

int
value_request(const char *body, size_t len, int with_record, char **text)
{
	json_t *out = NULL;
	char *t = NULL;
	int status;

	status = value_json(body, len, with_record, &out, &t);
	*text = out != NULL ? error_text(out) : t;
	return status;
}

static int
value_json(const char *body, size_t len, int with_record, json_t **out,
    char **text)
{
	json_error_t jerr;
	json_t *req;
	struct vehicle_in in;
	char make[MAX_TEXT + 1], when[40];
	int status = 200;

	req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		*out = json_error("body", "not JSON: %s (at byte %d)",
		    jerr.text, jerr.position);
		return 400;
	}
	if (parse_vehicle(req, &in, out) < 0) {
		json_decref(req);
		return 422;
	}
	reload(0);
	/* The make's key is the first part of the segment's. */
	snprintf(make, sizeof(make), "%.*s", (int)strcspn(in.segment, "/"),
	    in.segment);
	if (!fstage_knows(v.st, make)) {
		*out = json_error("make", "make: \"%s\": unknown (no sale of "
		    "it in the state)", in.make);
		status = 422;
	} else if (fstage_time(v.st) != INT64_MIN && in.t <=
	    fstage_time(v.st)) {
		*out = json_error("date", "date: %s is not after the state's "
		    "latest event (%s)", time_format(in.t, when, sizeof(when)),
		    time_format(fstage_time(v.st), make, sizeof(make)));
		status = 422;
	} else {
		encode_vehicle(&in);
		if (run_chain() < 0) {
			*out = json_error(field_of(v.why), "%s: %s", v.stage,
			    v.why[0] ? v.why : "not valued");
			status = 422;
		} else {
			json_t *a = answer(&v.w, &in);

			*text = answer_text(a, with_record);
			json_decref(a);
		}
	}
	json_decref(req);
	return status;
}

json_t *
value_health(void)
{
	json_t *j;
	char when[40];
	int64_t at;

	reload(0);
	at = fstage_time(v.st);
	j = json_pack("{ss,si,ss?,ss?}", "status", "ok", "model_version",
	    pstage_version(v.pred), "state", v.o.state, "models",
	    v.o.models);
	json_object_set_new(j, "data_as_of", at == INT64_MIN ? json_null() :
	    json_string(time_format(at, when, sizeof(when))));
	return j;
}
