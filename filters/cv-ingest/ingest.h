/*
 * cv-ingest: what the parts share.  main.c reads the options and the
 * files, mapping.c the mapping (map files, -m, -s) and the header it is
 * resolved against, rows.c checks, converts and emits a row, readers.c
 * cuts CSV and JSON lines into rows.
 */
#ifndef CV_INGEST_H
#define CV_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include <avro.h>

#include "lib/kinds.h"
#include "lib/stream.h"
#include "lib/util.h"

#define MS_PER_DAY	86400000LL
#define KM_PER_MILE	1.609344
#define MAX_FIELDS	32	/* of a type, see vehicle_defs */

enum kind {
	K_TEXT,		/* trimmed text */
	K_ID,		/* text, lower case */
	K_ATTR,		/* optional text, lower case, may have kinds */
	K_SEGMENT,	/* normalised key; derived when not mapped */
	K_TIME,		/* timestamp-millis */
	K_DATE,		/* days */
	K_YEAR,		/* model year */
	K_DIST,		/* distance, km */
	K_COND,		/* condition 0..1 */
	K_MONEY,	/* > 0 */
	K_BALANCE,	/* >= 0 */
	K_LEVEL,	/* index value > 0 */
	K_AMOUNT,	/* volume, supply or standard error >= 0 */
	K_COUNT		/* whole number >= 0 */
};

struct fdef {
	const char	*name;
	enum kind	 kind;
	int		 required;
	const char	*dflt;		/* when neither mapped nor given */
};

/* Positions in vehicle_defs and index_defs, for checks across fields. */
enum {
	V_ID, V_LOAN, V_SOURCE, V_MAKE, V_MODEL, V_TRIM, V_SEGMENT, V_REGION,
	V_OBSERVED, V_YEAR, V_MILEAGE, V_CONDITION, V_PRICE, V_REFERENCE,
	V_BALANCE, V_CURRENCY, V_BODY, V_TRANSMISSION, V_SELLER,
	V_SELLER_KIND, V_COLOUR, V_INTERIOR
};
enum { I_SOURCE, I_SEGMENT, I_REGION, I_PERIOD, I_PUBLISHED, I_VALUE,
	I_VOLUME, I_SUPPLY };

extern const struct fdef vehicle_defs[], index_defs[];
extern const size_t nvehicle_defs, nindex_defs;

enum scale { SCALE_01, SCALE_15, SCALE_AUCTION };

/* How one output field is filled. */
struct fmap {
	char		*column;	/* "NAME", "A|B" or "$N"; NULL if none */
	char		*constant;	/* %f file name, %l line */
	char		*format;	/* strptime pattern */
	char		*missing;	/* comma-separated markers of no value */
	int		 miles;
	enum scale	 scale;
	struct kinds	*kinds;		/* words naming a kind, or NULL */
	int		 col;		/* resolved per file; -1 none */
	int		 avro_index;
};

struct ingest {
	int		 is_vehicle;
	const struct fdef *defs;
	size_t		 ndefs;
	struct fmap	 map[MAX_FIELDS];
	long		 lag_days;
	int		 json;
	int		 sort;
	/* output */
	avro_value_iface_t *iface;
	avro_value_t	 event, branch;
	struct sink	*sink;
	/* held records when sorting */
	struct buf	 held;
	struct held	*keys;
	size_t		 nkeys, capkeys;
	avro_writer_t	 mw;
	/* current row */
	const char	*file;
	long		 line;
	char		**cells;
	int		 ncells;
	char		**header;
	int		 nheader;
	struct buf	 scratch;
	const char	*raw;
	size_t		 rawlen;
	int		 stop;		/* --on-error fail was hit */
	char		*map_dir;	/* of the map being read, for kinds */
};

struct held {
	int64_t	 t;
	size_t	 seq, off, len;
};

/* mapping.c: each 0, or -1 with *why (the caller frees it) saying where
 * and what is wrong. */
int	 mapping_type(struct ingest *, const char *type, const char *where,
	    char **why);
int	 mapping_setting(struct ingest *, const char *s, const char *where,
	    char **why);
int	 mapping_load(struct ingest *, FILE *, const char *path, char **why);
/* The mapped columns in this file's header (g->header); -1 after saying
 * which is absent or ambiguous. */
int	 mapping_columns(struct ingest *);
void	 mapping_free(struct ingest *);

/* rows.c: the output (an Event stream to path, stdout if NULL) opened
 * once the mapping's type is known, and closed */
void	 rows_open(struct ingest *, const char *path);
void	 rows_close(struct ingest *);
void	 rows_ingest(struct ingest *);
int	 rows_bad(struct ingest *, const char *fmt, ...) PRINTF(2, 3);
void	 rows_release(struct ingest *);

/* readers.c: -1 when told to stop (g->stop) */
int	 reader_csv(struct ingest *, FILE *);
int	 reader_json(struct ingest *, FILE *);
void	 reader_free_header(struct ingest *);

#endif
