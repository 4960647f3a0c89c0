/*
 * run.c: the stop signal, waits for input, idle hooks and the run's
 * flags and counts (see run.h).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/run.h"
#include "lib/util.h"

volatile sig_atomic_t run_stop;
int run_replaying;
int run_halted;
struct run_tally run_tally;
static int failed;

/*
 * The handler also writes a byte into this pipe, which every wait for
 * input watches: a signal that comes after the flag was tested but before
 * the wait began still ends the wait (the self-pipe trick).
 */
static int stop_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	run_stop = 1;
	if (stop_pipe[1] >= 0 && write(stop_pipe[1], "", 1) < 0) {
		/* full: a byte is there already */
	}
	errno = saved;
}

void
run_init(void)
{
	struct sigaction sa;

	if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		err(1, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* Restarted: a write interrupted half way would fail (stdio says
	 * "Interrupted system call"); the waits end through stop_pipe. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
run_wait_input(int fd)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
	    { .fd = stop_pipe[0], .events = POLLIN } };
	int n;

	if (run_stop)
		return 0;
	if (poll(pfd, 1, 0) == 0)
		run_idle();
	for (;;) {
		n = poll(pfd, stop_pipe[0] >= 0 ? 2 : 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		/* An error is the read's to report. */
		if (n < 0 || !(pfd[1].revents & POLLIN))
			return 1;
		return 0;
	}
}

struct hook {
	void	(*fn)(void *);
	void	 *arg;
};
#define MAXHOOKS	16	/* of each kind (run.h) */
static struct hook idle_hooks[MAXHOOKS], flush_hooks[MAXHOOKS];
static int nidle, nflush;

static void
add_hook(struct hook *h, int *n, void (*fn)(void *), void *arg)
{
	if (*n == MAXHOOKS)
		errx(1, "run: more than %d hooks of a kind", MAXHOOKS);
	h[*n].fn = fn;
	h[(*n)++].arg = arg;
}

void
run_on_idle(void (*fn)(void *), void *arg)
{
	add_hook(idle_hooks, &nidle, fn, arg);
}

void
run_on_flush(void (*fn)(void *), void *arg)
{
	add_hook(flush_hooks, &nflush, fn, arg);
}

void
run_idle(void)
{
	int i;

	for (i = 0; i < nidle; i++)
		idle_hooks[i].fn(idle_hooks[i].arg);
	for (i = 0; i < nflush; i++)
		flush_hooks[i].fn(flush_hooks[i].arg);
	fflush(stdout);
}

void
run_fail(void)
{
	failed = 1;
}

int
run_failed(void)
{
	return failed;
}
