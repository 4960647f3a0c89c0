/*
 * run.h: one run of a filter, beneath its sources and sinks: the stop
 * signal, waiting for input, the idle hooks, whether the run has failed
 * or been halted by a reject, and the counts of what went through.
 *
 * Every layer above (ocf.c, kafka*.c, reject.c, stream.c) reads and sets
 * this state; nothing here calls up into them, so the layers form no
 * circle: run <- ocf, reject <- kafka <- stream <- the filters.
 */
#ifndef CV_RUN_H
#define CV_RUN_H

#include <signal.h>
#include <stdint.h>

/* Set by SIGINT/SIGTERM: sources then report the end of input. */
extern volatile sig_atomic_t run_stop;

/* Install the signal handlers (SIGINT, SIGTERM; system calls are
 * restarted); call once at the start of main. */
void	run_init(void);

/*
 * Wait until fd has input (or its end, or an error) and return 1, or a
 * stop signal came, before or during the wait, and return 0.  If fd has
 * nothing at once, run_idle() is called first.
 */
int	run_wait_input(int fd);

/*
 * Called whenever a source is about to wait: calls every idle hook (a
 * filter writes out a batch, commits a database batch), then every flush
 * hook (a sink writes its block), then flushes standard output, so what
 * the hooks wrote goes out before the wait.
 */
void	run_idle(void);
/* Add fn(arg) to the idle hooks, or to the flush hooks (at most 16 each). */
void	run_on_idle(void (*fn)(void *), void *arg);
void	run_on_flush(void (*fn)(void *), void *arg);

/*
 * Set while a record of another instance's partition is processed for
 * the state only (stream_keep_state()): sinks drop what is written and
 * rejects are not reported (their owner reports them).
 */
extern int run_replaying;

/*
 * Set once a reject under the fail policy stops the run: from then on
 * nothing is acknowledged, so the record that stopped it stays
 * uncommitted and is read again by the next run.
 */
extern int run_halted;

/*
 * The run has failed (a reject, an undelivered record, a wrong mapping):
 * its exit status will be 1, and a sink that has written no record then
 * writes no header either.
 */
void	run_fail(void);
int	run_failed(void);

/* What went through: read = written + absorbed + rejected (absorbed:
 * records that only update state, e.g. index values in cv-features). */
struct run_tally {
	int64_t	read, written, absorbed, rejected;
	int64_t	replayed;	/* other instances' records (see above) */
};
extern struct run_tally run_tally;

#endif
