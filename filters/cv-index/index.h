/*
 * cv-index: the indexer's state, shared by main.c (the index) and
 * state.c (the -S state file).
 */
#ifndef CV_INDEX_H
#define CV_INDEX_H

#include <stdint.h>

#include "lib/map.h"
#include "lib/positions.h"
#include "lib/stream.h"
#include "lib/util.h"

#define NX		5	/* common regressors besides D */

enum level { L_MARKET, L_MAKE, L_MODEL, L_TRIM, L_COUNT };

/* One sale as the regression sees it. */
struct sale {
	double	y;		/* ln price */
	double	age;		/* years */
	double	x[NX];		/* age^2, km/1e4, km unknown, cond, unknown */
	int	grp;		/* trim segment */
	double	c;		/* weight of y in the link that published
				 * its period (0 in the base period) */
};

struct sales {
	struct sale	*s;
	size_t		 n, cap;
};

/* One index series: a segment at one level, in one region. */
struct series {
	char		*segment, *region;
	struct sales	 prev;		/* the last published period's */
	struct sales	 cur;		/* the open period's */
	int		 based;		/* has a published period */
	double		 lnlevel;	/* ln(value / 100) */
	double		 var_closed;	/* variance from periods before prev */
	double		 s2_prev;	/* residual variance of prev's link */
};

struct indexer {
	int		 levels[L_COUNT];
	int		 regions;	/* -R */
	int		 weekly;	/* -w */
	long		 min_n;
	const char	*source;
	struct map	*series;	/* "segment\tregion" */
	struct series	**all;
	size_t		 nall;
	struct map	*groups;	/* trim segment -> id + 1 */
	int		 ngroups;
	int32_t		 open;		/* the open period (days); INT32_MIN */
	struct reader	*in;
	struct sink	*out;
	struct buf	 enc;
	int		 fx[8];
	struct valid	*valid;		/* of the fields read */
	int64_t		 values, thin, unlinked;
	const char	*price;		/* -p */
	const char	*state;		/* -S */
	struct positions at;		/* where the state stands in topics */
};

struct series	*series_for(struct indexer *, const char *segment,
		    const char *region);
void		 add_sale(struct sales *, const struct sale *);
void		 free_series(void *);

/* state.c: -S, the series and their open period in a sqlite file. */
void	index_state_load(struct indexer *, const char *path);
void	index_state_save(struct indexer *, const char *path,
	    const struct positions *now);

#endif
