/*
 * check.h: the unit tests' only harness.  Each CHECK prints "ok" or
 * "not ok" with file:line, as TAP does; CHECK_DONE() prints the counts
 * and returns the exit status.  tests/run adds these lines up.
 */
#ifndef CV_CHECK_H
#define CV_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		check_pass++;						\
		printf("ok - ");					\
	} else {							\
		check_fail++;						\
		printf("not ok - %s:%d: %s: ", __FILE__, __LINE__, #cond); \
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
} while (0)

/* Relative closeness, for numbers computed by another implementation. */
#define CHECK_CLOSE(got, want, rel, ...) do {				\
	double g_ = (got), w_ = (want);					\
	int ok_ = fabs(g_ - w_) <= (rel) * fmax(fabs(w_), 1e-300);	\
	if (!ok_)							\
		printf("# got %.17g want %.17g\n", g_, w_);		\
	CHECK(ok_, __VA_ARGS__);					\
} while (0)

#define CHECK_DONE() (printf("# %d passed, %d failed\n", check_pass,	\
	check_fail), check_fail != 0)

#endif
