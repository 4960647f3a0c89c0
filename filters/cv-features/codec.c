/* cv-features: the records read (views of Events) and written (Features),
 * and the event time that orders them. */
#include <stdint.h>

#include "lib/schema.h"
#include "features.h"

struct codec codec;

static const char *field_names[F_COUNT] = {
	[F_AGE] = "age_months",
	[F_MPI] = "mpi",
	[F_RET1] = "mpi_ret_1m",
	[F_RET3] = "mpi_ret_3m",
	[F_MPI_LEVEL] = "mpi_level",
	[F_MPI_SOURCE] = "mpi_source",
	[F_EL] = "elasticity",
	[F_EL_SE] = "elasticity_se",
	[F_EL_N] = "elasticity_n",
	[F_EL_R2] = "elasticity_r2",
	[F_DECAY] = "decay_rate",
	[F_HALF_LIFE] = "decay_half_life",
	[F_DECAY_N] = "decay_n",
	[F_DECAY_R2] = "decay_r2",
	[F_DECAY_SE] = "decay_rate_se",
	[F_DECAY_LEVEL] = "decay_level",
	[F_SIGMA] = "decay_sigma",
	[F_MILEAGE] = "mileage_slope",
	[F_MILEAGE_SE] = "mileage_slope_se",
	[F_COND] = "condition_coef",
	[F_COND_SE] = "condition_coef_se",
	[F_VOL] = "volatility",
	[F_EWMA] = "ewma",
	[F_LEVEL] = "price_level",
	[F_LEVEL_LSE] = "price_level_lse",
	[F_COMPS] = "comps_n",
	[F_PREV] = "prev_value",
	[F_PREV_AT] = "prev_observed_at",
	[F_PREV_MPI] = "prev_mpi",
	[F_COHORT] = "cohort_offset",
	[F_COHORT_N] = "cohort_n",
	[F_REGION] = "region_offset",
	[F_REGION_N] = "region_n",
	[F_SEG_PRICE] = "segment_last_price",
	[F_SEG_MPI] = "segment_last_mpi",
	[F_POOLED] = "pooled_value",
	[F_POOLED_SD] = "pooled_sd",
	[F_POOLED_NEXT] = "pooled_next",
	[F_WEIGHT_MAKE] = "weight_make",
	[F_WEIGHT_MODEL] = "weight_model",
	[F_WEIGHT_TRIM] = "weight_trim",
	[F_MODEL_N] = "model_n",
	[F_STALE] = "stale_days",
	[F_COMPS_VALUE] = "comps_value",
	[F_COMPS_SALES] = "comps_sales",
	[F_COMPS_SPREAD] = "comps_spread",
};

static const struct field index_fields[X_COUNT] = {
	[X_SOURCE] = { "source", 's' },
	[X_SEGMENT] = { "segment", 's' },
	[X_REGION] = { "region", 's' },
	[X_PERIOD] = { "period", 'i' },
	[X_PUBLISHED] = { "published_at", 'L' },
	[X_VALUE] = { "value", 'D' },
	[X_VOLUME] = { "volume", 'D' },
};
static const struct field vehicle_fields[V_COUNT] = {
	[V_ID] = { "vehicle_id", 's' },
	[V_SEGMENT] = { "segment", 's' },
	[V_REGION] = { "region", 's' },
	[V_OBSERVED] = { "observed_at", 'l' },
	[V_YEAR] = { "model_year", 'i' },
	[V_KM] = { "mileage_km", 'D' },
	[V_COND] = { "condition", 'D' },
	[V_PRICE] = { "price", 'D' },
};

void
codec_init(void)
{
	avro_schema_t ev = schema_get("Event");
	avro_schema_t is = avro_schema_union_branch(ev, 0);
	avro_schema_t vs = avro_schema_union_branch(ev, 1);
	size_t i;

	codec.event = reader_new(ev);
	for (i = 0; i < X_COUNT; i++)
		codec.ix[i] = field_pos(is, index_fields[i].name,
		    index_fields[i].type, "cv-features");
	for (i = 0; i < V_COUNT; i++)
		codec.vx[i] = field_pos(vs, vehicle_fields[i].name,
		    vehicle_fields[i].type, "cv-features");
	valuing_init(vs);
	codec.features = appender_new(vs, schema_get("Features"),
	    field_names, F_COUNT, "cv-features");
	codec.index_valid = valid_new(index_fields, codec.ix, X_COUNT);
	codec.vehicle_valid = valid_new(vehicle_fields, codec.vx, V_COUNT);
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
