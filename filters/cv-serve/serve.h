/*
 * cv-serve's parts, one concern a file:
 *
 *	main.c		options, the HTTP daemon, routes, metrics
 *	workers.c	the worker processes (-j) and their sockets
 *	value.c		POST /v1/value: a vehicle through the chain
 *	board.c		the dashboard's reads of the sqlite outputs
 *	features.c	cv-features' own code, compiled in (its main renamed)
 *	predict.c	cv-predict's, the same way
 *	grade.c		cv-grade's
 *	warn.c		cv-warn's
 *
 * The stage files include the filters' sources, so a vehicle valued here
 * goes through the very functions cv-features | cv-predict | cv-grade |
 * cv-warn run on a record.  Each stage reads one record's encoding and
 * puts its output record into a memory sink.  The stages' state and the
 * library's counters are not shared-safe, so a worker process answers
 * from one thread, and -j runs several, each with its own chain.
 */
#ifndef CV_SERVE_H
#define CV_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct rec;
struct sink;
struct state;
struct predict;
struct grader;
struct warner;

/* A record for reject() to name ("request: record 1"); nothing to decode. */
void		 serve_rec(struct rec *, const char *raw, size_t len);

/* features.c: state from a cv-features state file, read-only. */
void		 fstage_init(void);
void		 fstage_cleanup(void);
struct state	*fstage_open(const char *path);
void		 fstage_close(struct state *);
int64_t		 fstage_time(const struct state *);	/* latest event */
/* When the sales of a decay level serving segment|region last changed
 * (the last sale learned there), ms; INT64_MIN if never. */
int64_t		 fstage_sales_time(struct state *, const char *segment,
		    const char *region, const char *level);
/* Whether the state knows a decay level (a make key: "toyota"). */
int		 fstage_knows(const struct state *, const char *key);
/* One VehicleObs (an Event's encoding) to Features in out; -1 rejected. */
int		 fstage_run(struct state *, const char *enc, size_t len,
		    struct sink *out);

/* predict.c: the latest version of a model store (NULL: built-in). */
struct predict	*pstage_open(const char *models);
void		 pstage_close(struct predict *);
int		 pstage_version(const struct predict *);
int		 pstage_run(struct predict *, const char *enc, size_t len,
		    struct sink *out);

/* grade.c: cv-grade's settings file and reference table (may be NULL). */
struct grader	*gstage_open(const char *config, const char *reference);
void		 gstage_close(struct grader *);
int		 gstage_run(struct grader *, const char *enc, size_t len,
		    struct sink *out);

/* warn.c: cv-warn's settings file (may be NULL). */
struct warner	*wstage_open(const char *config);
void		 wstage_close(struct warner *);
int		 wstage_run(struct warner *, const char *enc, size_t len,
		    struct sink *out);

/* value.c */
struct valuer_opts {
	const char	*state, *models, *grade_conf, *reference, *warn_conf;
};
void		 value_init(const struct valuer_opts *);
void		 value_cleanup(void);
/*
 * Value the vehicle in the JSON body: 200 and the answer in *text (JSON,
 * malloc'd; with_record: with the whole Warning record), or a 4xx status
 * and an error object naming the field.  Thread-safe.
 */
int		 value_request(const char *body, size_t len, int with_record,
		    char **text);
/* For /healthz: model version, state time. */
json_t		*value_health(void);

/* board.c: GET routes over the sqlite outputs in db. */
void		 board_init(const char *db);

/*
 * workers.c: n processes, each running serve(fd, ready, arg) on its own
 * socket bound to ss; serve writes a byte to ready (when >= 0) once it
 * answers, and returns its exit status on SIGTERM.  Returns 1 if a
 * worker did not come up, else 0 once SIGINT or SIGTERM stopped them.
 */
struct sockaddr_storage;
int		 workers_run(int n, const struct sockaddr_storage *ss,
		    const char *addr, int (*serve)(int fd, int ready,
		    void *), void *arg);
/* 200 with *out, or an error status with an error object. */
int		 board_request(const char *path, const char *query_light,
		    const char *query_grade, long limit, long offset,
		    const char *segment, json_t **out);

/* An error object: {"error": why, "field": field (if not NULL)}. */
json_t		*json_error(const char *field, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
