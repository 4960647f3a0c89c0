/* cv-features: the records read (views of Events) and written (Features),
 * and the event time that orders them. */
#include <stdint.h>

#include "lib/schema.h"
#include "features.h"

struct codec codec;

static const char *field_names[F_COUNT] = {
	"age_months", "mpi", "mpi_ret_1m", "mpi_ret_3m", "mpi_level",
	"mpi_source", "elasticity", "elasticity_se", "elasticity_n",
	"elasticity_r2", "decay_rate", "decay_half_life", "decay_n",
	"decay_r2", "decay_rate_se", "decay_level", "decay_sigma",
	"mileage_slope", "mileage_slope_se", "condition_coef",
	"condition_coef_se", "volatility", "ewma", "price_level",
	"price_level_lse", "comps_n", "prev_value", "prev_observed_at",
	"prev_mpi", "cohort_offset", "cohort_n", "region_offset", "region_n",
	"segment_last_price", "segment_last_mpi", "pooled_value",
	"pooled_sd", "pooled_next", "weight_make", "weight_model",
	"weight_trim", "model_n", "stale_days", "comps_value", "comps_sales",
	"comps_spread"
};

static const char *index_fields[7] = { "source", "segment", "region",
	"period", "published_at", "value", "volume" };
static const char *vehicle_fields[8] = { "vehicle_id", "segment", "region",
	"observed_at", "model_year", "mileage_km", "condition", "price" };

void
codec_init(void)
{
	avro_schema_t ev = schema_get("Event");
	avro_schema_t is = avro_schema_union_branch(ev, 0);
	avro_schema_t vs = avro_schema_union_branch(ev, 1);
	size_t i;

	codec.event = reader_new(ev);
	for (i = 0; i < NELEM(index_fields); i++)
		codec.ix[i] = field_pos(is, index_fields[i], "sssiLDD"[i],
		    "cv-features");
	for (i = 0; i < NELEM(vehicle_fields); i++)
		codec.vx[i] = field_pos(vs, vehicle_fields[i], "sssliDDD"[i],
		    "cv-features");
	valuing_init(vs);
	codec.features = appender_new(vs, schema_get("Features"),
	    field_names, F_COUNT, "cv-features");
	codec.index_valid = valid_new(index_fields, "sssiLDD", codec.ix,
	    NELEM(index_fields));
	codec.vehicle_valid = valid_new(vehicle_fields, "sssliDDD", codec.vx,
	    NELEM(vehicle_fields));
}

void
codec_free(void)
{
	reader_free(codec.event);
	appender_free(codec.features);
	valid_free(codec.index_valid);
	valid_free(codec.vehicle_valid);
}

struct view *
view_of(struct rec *r)
{
	return reader_view(codec.event, r);
}

/* Event time of an Event: observed_at, published_at, else period. */
int64_t
view_time(const struct view *v)
{
	int64_t pub;

	if (v->branch == 1)
		return view_long(v, codec.vx[V_OBSERVED]);
	pub = view_opt_long(v, codec.ix[X_PUBLISHED]);
	if (pub != INT64_MIN)
		return pub;
	return view_long(v, codec.ix[X_PERIOD]) * 86400000LL;
}

/*
 * The order records are processed in: event time, and at equal times a
 * sighting before an index value, since a value is known only to what
 * comes strictly after its publication.
 */
int64_t
order_key(const struct view *v, int64_t t)
{
	return t * 2 + (v->branch == 0);
}

/* The merge's ordering. */
int64_t
event_time(struct rec *r)
{
	struct view *v = view_of(r);

	int64_t t;

	if (v == NULL)
		return INT64_MIN;
	/* Out of range: first out, to be rejected by the main loop. */
	t = view_time(v);
	if (t < -MAX_TIME_MS || t > MAX_TIME_MS)
		return INT64_MIN;
	return order_key(v, t);
}
