/*
 * cv-features' parts, one concern a file:
 *
 *	main.c		options, the main loop, the state's life
 *	codec.c		records in (views of Events) and out (Features), event time
 *	series.c	index series: levels, returns, volatility, elasticity
 *	hierarchy.c	the index and depreciation levels serving a segment
 *	sighting.c	a sighting served its features, and learned from later
 *	vehicles.c	the vehicles remembered for prev_value
 *	offsets.c	model-year and region offsets (partial pooling)
 *	pending.c	updates waiting for a later instant
 *	reorder.c	the heap that puts a disordered input back in order (-l)
 *	valuing.c	a sighting's keys for the pooled model, and its answer
 *	pool.c		the pooled model: levels, sales, predictions (pool.h)
 *	poolfit.c	its fit, by backfitting
 *	poolstore.c	its image in the state file
 *	store.c		the state in sqlite (-S)
 */
#ifndef CV_FEATURES_H
#define CV_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/append.h"
#include "lib/map.h"
#include "lib/stat.h"
#include "lib/stream.h"
#include "lib/util.h"
#include "lib/valid.h"
#include "lib/view.h"
#include "pool.h"

#define MS_PER_DAY	86400000.0
#define RING		72	/* monthly points kept per series */
#define NREG		7	/* depreciation regressors, see regressors() */
#define MAX_SEGMENT	200	/* characters in a segment key */
#define MAX_TIME_MS	1000000000000000LL	/* |event time| (order_key) */

struct opts {
	char	**sources;	/* index sources in order of preference */
	int	  nsources;
	char	 *volume_source;
	double	  ewma_half_life;	/* months */
	int	  window;		/* months, elasticity and volatility */
	int	  min_elasticity_n;
	double	  decay_half_life;	/* days */
	double	  min_comps;		/* effective n for a decay level */
	double	  lateness_ms;
	size_t	  max_vehicles;
	double	  cohort_prior;		/* sales' worth of segment curve */
	double	  region_prior;
	size_t	  pool_refit;		/* sales between refits; 0: no pool */
	const char *state;		/* -S file, or NULL */
};

/* One month of an index series: value, its log, ln volume (NAN if
 * unknown).  The value itself is kept so mpi is what was published. */
struct point {
	int32_t	period;		/* days, first of the month */
	double	v, lnv, lnvol;
};

struct series {
	char		*source, *segment, *region;
	struct point	 pts[RING];	/* by period, oldest first */
	int		 npts;
	/* derived when the points change */
	double		 mpi, ret1, ret3, ewma, volatility;
	int		 has_ret1, has_ret3, has_vol, has_el;
	struct olsfit	 el;
};

/* Index values of a volume-only series, by segment and region. */
struct volumes {
	struct point	 pts[RING];
	int		 npts;
};

struct decay {
	struct wls	*wls;
};

/*
 * What sets a group of sales apart from the fit that served them: a
 * forgetting sum of their log residuals and its weight, shrunk towards 0
 * by a prior worth so many sales (partial pooling).
 */
struct offset {
	double	s, w;
	double	t;		/* days, of the last update */
};

/* A segment's last sale, for the naive baseline. */
struct last_sale {
	double	price, mpi;	/* mpi NAN if none */
};

struct vehicle {
	char		*id;
	double		 price;
	double		 mpi;		/* the index it saw; NAN if none */
	int64_t		 at;
	uint64_t	 seq;		/* recency, for eviction */
	struct vehicle	*newer, *older;
};

/* Hierarchy keys of a segment, finest first: trim, model, make, market. */
struct level {
	const char	*name;
	char		 key[256];
};

/*
 * What serves a vehicle's segment and region, cached: the index series
 * (found again when a new series appears) and the depreciation state of
 * each level (created by the first sale there, never freed before exit).
 */
struct lookup {
	unsigned	 gen;
	struct series	*series;
	const char	*level;
	char		 where[64];
	struct level	 lv[4];
	int		 nl;
	struct decay	*dk[4];
	/* offsets and the segment's last sale, once they exist */
	struct offset	*region;
	struct last_sale *last;
	struct cohort	*cohorts;	/* by model year */
	int		 ncohorts;
};

struct cohort {
	int		 year;
	struct offset	*o;
};

/*
 * What a sighting teaches, kept from the moment it was served until it is
 * learned: the fit that served it and where its residual goes.
 */
struct learn {
	struct lookup	*lk;
	double		 x[NREG];
	double		 lnlevel, coff, sigma, mpi;	/* mpi NAN if none */
	int		 served;	/* by a depreciation fit */
	double		 pool_lny, pool_sd;	/* the pooled model's, as
						 * served; NAN if none */
};

/* An update waiting for a later event time (see defer()). */
struct pending {
	size_t		 off, len;	/* the record, in state.pendbuf */
	struct learn	 l;		/* for a sighting */
};

/*
 * Records held to be put in order (-l): a binary heap by order key, then
 * arrival.  A record is released once the latest event time is past it
 * by the lateness, so nothing that could still arrive belongs before it.
 */
struct held {
	int64_t	 key, t;
	uint64_t seq;
	char	*bytes;		/* the Event encoding */
	size_t	 len;
	char	*where;
};

struct reorder {
	struct held	*h;
	size_t		 n, cap;
	uint64_t	 seq;
};

struct state {
	struct opts	 o;
	struct map	*series;	/* source|segment|region */
	struct map	*volumes;	/* segment|region */
	struct map	*decay;		/* hierarchy key */
	struct map	*vehicles;
	struct map	*lookups;	/* segment|region */
	struct map	*offsets;	/* c|segment|model year, r|region */
	struct map	*last;		/* segment */
	struct vehicle	*newest, *oldest;
	uint64_t	 vseq;
	unsigned	 gen;		/* bumped when a series appears */
	int64_t		 max_t;		/* latest event time seen */
	struct pending	*pend;		/* updates waiting for a later time */
	size_t		 npend, pendcap;
	int64_t		 pend_t;
	struct buf	 pendbuf;	/* their records' encodings */
	struct pool	*pool;		/* NULL without one (-R 0) */
	char		**seen_sources;
	int		 nseen;
	struct reorder	 held;		/* -l */
	struct positions at;		/* where it stands in topics */
	/* for -v: what the state could not serve */
	int64_t		 n_index, n_index_novol, n_vehicles, n_noindex,
			 n_nodecay, n_noelasticity;
};

/* Output fields, by name, resolved once against the Features schema. */
enum {
	F_AGE, F_MPI, F_RET1, F_RET3, F_MPI_LEVEL, F_MPI_SOURCE, F_EL, F_EL_SE,
	F_EL_N, F_EL_R2, F_DECAY, F_HALF_LIFE, F_DECAY_N, F_DECAY_R2,
	F_DECAY_SE, F_DECAY_LEVEL, F_SIGMA, F_MILEAGE, F_MILEAGE_SE, F_COND,
	F_COND_SE, F_VOL, F_EWMA, F_LEVEL, F_LEVEL_LSE, F_COMPS, F_PREV,
	F_PREV_AT, F_PREV_MPI, F_COHORT, F_COHORT_N, F_REGION, F_REGION_N,
	F_SEG_PRICE, F_SEG_MPI, F_POOLED, F_POOLED_SD, F_POOLED_NEXT,
	F_WEIGHT_MAKE, F_WEIGHT_MODEL, F_WEIGHT_TRIM, F_MODEL_N, F_STALE,
	F_COMPS_VALUE, F_COMPS_SALES, F_COMPS_SPREAD, F_COUNT
};

#define NATTR	6	/* body ... interior, see valuing.c */

/* The texts of a sighting's pool keys (see valuing_vehicle()). */
struct keybuf {
	char	make[MAX_SEGMENT + 2], model[MAX_SEGMENT + 2];
	char	year[16], make_year[MAX_SEGMENT + 16];
	char	model_year[MAX_SEGMENT + 16], trim_year[MAX_SEGMENT + 16];
	char	vin8[16], squish[16], week[32];
	char	attr[NATTR][256];
};

/*
 * Records are read through views of their encoding and written as the
 * input vehicle's bytes followed by the encoded features: no avro-c
 * values on the way (see lib/append.h).  Global: the merge's time
 * function needs it too.
 */
/* The fields read of index records and of vehicle records (codec.c). */
enum { X_SOURCE, X_SEGMENT, X_REGION, X_PERIOD, X_PUBLISHED, X_VALUE,
	X_VOLUME, X_COUNT };
enum { V_ID, V_SEGMENT, V_REGION, V_OBSERVED, V_YEAR, V_KM, V_COND,
	V_PRICE, V_COUNT };

struct codec {
	struct reader	*event;		/* views in the Event schema */
	struct appender	*features;	/* VehicleObs + the fields above */
	int		 ix[X_COUNT], vx[V_COUNT];	/* fields, by position */
	int		 ax[NATTR];	/* the attributes, for the pool */
	struct valid	*index_valid, *vehicle_valid;	/* their rules */
};
extern struct codec codec;


/* A record being processed: where it came from, and its source record
 * while that is still at hand (not for records held to be reordered). */
struct item {
	const char	*where;
	struct rec	*r;
};

/* codec.c */
void	 codec_init(void);
void	 codec_free(void);
struct view *view_of(struct rec *);
int64_t	 view_time(const struct view *);
int64_t	 order_key(const struct view *, int64_t);
int64_t	 event_time(struct rec *);

/* series.c */
void	 derive(struct series *, const struct opts *);
void	 note_source(struct state *, const char *);
struct series *get_series(struct state *, const char *, const char *,
	    const char *, int);
int	 index_obs(struct state *, const struct item *, const struct view *);
void	 learn_index(struct state *, const struct view *);
void	 free_series(void *);

/* hierarchy.c */
struct lookup *find_index(struct state *, const char *, const char *);
void	 regressors(double *, double, double, double, int);
struct decay *get_decay(struct state *, const char *, int);
const char *serve_decay(struct state *, struct lookup *, double,
	    struct wlsfit *);
void	 free_decay(void *);
void	 free_lookup(void *);

/* sighting.c */
int	 vehicle(struct state *, const struct item *, const struct view *,
	    struct sink *);
void	 learn_sighting(struct state *, const struct view *,
	    const struct learn *);

/* vehicles.c */
struct vehicle *vehicle_get(struct state *, const char *);
void	 vehicle_remember(struct state *, struct vehicle *, const char *,
	    double, double, int64_t, uint64_t);
void	 vehicle_free(void *);

/* offsets.c */
struct offset *get_offset(struct state *, const char *, int);
double	 offset_value(struct offset *, double, double, double);
void	 offset_learn(struct offset *, double, double, double, double, double);
struct offset *cohort_offset(struct state *, struct lookup *, const char *,
	    int, int);
struct offset *region_offset(struct state *, struct lookup *, const char *,
	    int);

/* pending.c */
void	 defer(struct state *, const struct view *, const struct learn *);
void	 learn_pending(struct state *);

/* reorder.c */
void	 held_push(struct reorder *, const struct view *, const char *);
struct held held_pop(struct reorder *);
void	 held_free(struct reorder *);

/* valuing.c */
void	 valuing_init(avro_schema_t);
void	 valuing_vehicle(const struct view *, const char *, const char *,
	    const char *, double, struct keybuf *, struct pool_vehicle *);
/* The pooled fields; *lny and *sd the prediction served (NAN: none),
 * for pool_add() to judge it by when the sale is learned. */
void	 valuing_serve(struct state *, const struct pool_vehicle *, double,
	    struct slot *, double *lny, double *sd);

/* store.c */
void	 load_state(struct state *, const char *);
struct sqlite3;
void	 load_state_db(struct state *, struct sqlite3 *, const char *);
void	 save_state(struct state *, const char *, const struct positions *);

/* main.c */
int	 bad(const struct item *, const char *, ...) PRINTF(2, 3);

#endif
