/*
 * reject.h: bad input, reported where it was found with the reason, and
 * the summary a filter ends with, which reconciles
 *	read = written + absorbed + rejected
 * (run.h keeps the counts).
 */
#ifndef CV_REJECT_H
#define CV_REJECT_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "lib/util.h"

/* --on-error: "fail" (default), "skip", or a file for rejected input. */
int		 reject_policy(const char *arg);

/*
 * Reject n input records found at where.  Prints "prog: where: reason";
 * with a reject file, writes there instead one JSON line with where,
 * reason and the input (raw text, or the decoded record).  Returns 0 to
 * go on, -1 when the policy is fail.
 */
int		 reject(const char *where, int64_t n, const char *input,
		    size_t inlen, avro_value_t *value, const char *fmt, ...)
		    PRINTF(6, 7);
/*
 * Hand every reject to fn instead (not printed, not filed): reject()
 * then returns -1.  For a server that answers each bad request with its
 * reason (cv-serve); NULL restores the policy.
 */
void		 reject_to(void (*fn)(const char *where, const char *reason));

/*
 * Print the summary (always when something was rejected, else with
 * verbose) and close the reject file; returns the exit status: 1 if
 * anything was rejected or the run failed (run_fail()), else 0.
 */
int		 reject_finish(int verbose);

#endif
