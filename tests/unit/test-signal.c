/*
 * test-signal.c: a stop signal ends a wait for input whenever it comes.
 * The stop flag is tested before a source flushes its outputs
 * (run_idle) and waits in read; a signal in between used to leave an
 * idle filter waiting for good.  Here the signal is raised from an idle
 * hook, that is exactly in between, on standard input made a pipe whose
 * writer stays open with nothing more to say.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lib/stream.h"
#include "lib/util.h"

static void
raise_term(void *arg)
{
	(void)arg;
	raise(SIGTERM);
}

static void
too_late(int sig)
{
	static const char msg[] = "not ok - a signal in the idle flush ends "
	    "the wait: still waiting 3 s later\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int
main(void)
{
	struct sigaction sa;
	struct rec *r;
	struct src *s;
	char buf[65536];
	ssize_t n;
	int fd, p[2], rc, records = 0;
	double t0;

	run_init();
	CHECK(sigaction(SIGTERM, NULL, &sa) == 0 &&
	    (sa.sa_flags & SA_RESTART), "SIGTERM's handler restarts system "
	    "calls (a write it interrupts does not fail)");

	/* A stream on a pipe whose writer keeps it open. */
	if ((fd = open("fixtures/gw-grade-rate.avro", O_RDONLY)) < 0 ||
	    (n = read(fd, buf, sizeof(buf))) <= 0 || pipe(p) < 0 ||
	    write(p[1], buf, (size_t)n) != n || dup2(p[0], 0) < 0)
		abort();
	close(fd);
	close(p[0]);

	signal(SIGALRM, too_late);
	alarm(3);
	t0 = now_seconds();
	s = src_open(NULL, 0, NULL);
	while ((rc = src_next(s, &r)) > 0 && records < 1000) {
		records++;
		if (records == 1)
			run_on_idle(raise_term, NULL);
	}
	CHECK(rc == 0 && records > 0, "the records there, then the end "
	    "(%d records, status %d)", records, rc);
	CHECK(now_seconds() - t0 < 1, "at once");
	alarm(0);
	src_close(s);
	close(p[1]);
	return CHECK_DONE();
}
