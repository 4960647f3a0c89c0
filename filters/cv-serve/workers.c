/*
 * cv-serve's worker processes.  The chain's stages are not shared-safe
 * (the filters' own state and counters), so within one process requests
 * are valued one at a time; -j N runs N processes, each with its own copy
 * of the state and models, so N cores value at once.
 *
 * Each worker has its own listening socket, all bound to the one address
 * with SO_REUSEPORT before any worker starts: the kernel spreads
 * connections over them, a bind error is said once, and connections made
 * while a worker starts wait in its socket's queue.  The parent only
 * supervises: SIGINT or SIGTERM stops every worker (exit 0); a worker
 * that dies is said and started again on its socket.
 */
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "cv-serve/serve.h"

static int
bound_socket(const struct sockaddr_storage *ss, const char *addr)
{
	socklen_t len = ss->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, on = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		err(1, "%s: socket", addr);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
		err(1, "%s: setsockopt", addr);
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		err(1, "%s: cannot listen", addr);
	if (listen(fd, 1024) < 0)
		err(1, "%s: listen", addr);
	return fd;
}

/*
 * A worker on socket fd.  With up non-NULL, *up is the read end of a
 * pipe it writes a byte to once it answers (end of file: it failed).
 */
static pid_t
start(int fd, int *up, int (*serve)(int, int, void *), void *arg)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (up != NULL && pipe(p) < 0)
		err(1, "pipe");
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		/* A parent killed outright takes its workers with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(0);
		if (up != NULL)
			close(p[0]);
		exit(serve(fd, p[1], arg));
	}
	if (up != NULL) {
		close(p[1]);
		*up = p[0];
	}
	return pid;
}

/* Whether the worker behind pipe end up came up; closes it. */
static int
came_up(int up)
{
	char c;
	ssize_t n;

	while ((n = read(up, &c, 1)) < 0 && errno == EINTR)
		;
	close(up);
	return n == 1;
}

int
workers_run(int n, const struct sockaddr_storage *ss, const char *addr,
    int (*serve)(int fd, int ready, void *), void *arg)
{
	pid_t *pid = ecalloc((size_t)n, sizeof(*pid));
	int *fd = ecalloc((size_t)n, sizeof(*fd));
	int *rd = ecalloc((size_t)n, sizeof(*rd));
	int i, up, alive, sig, status, stopping = 0, rc = 0;
	sigset_t sigs;
	pid_t p;

	for (i = 0; i < n; i++)
		fd[i] = bound_socket(ss, addr);
	/* Signals come to sigwait, in the parent and (inherited) workers. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	/*
	 * The first alone, so a state or model store it cannot read is said
	 * once; then the others together.
	 */
	pid[0] = start(fd[0], &rd[0], serve, arg);
	up = came_up(rd[0]);
	for (i = 1; up && i < n; i++)
		pid[i] = start(fd[i], &rd[i], serve, arg);
	for (i = 1; up && i < n; i++)
		up += came_up(rd[i]);
	if (up < n) {
		for (i = 0; i < n; i++)
			if (pid[i] > 0)
				kill(pid[i], SIGTERM);
		while (wait(NULL) > 0 || errno == EINTR)
			;
		rc = 1;
	}
	while (rc == 0) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig != SIGCHLD) {
			stopping = 1;
			for (i = 0; i < n; i++)
				if (pid[i] > 0)
					kill(pid[i], SIGTERM);
		}
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < n && pid[i] != p; i++)
				;
			if (i == n)
				continue;
			pid[i] = 0;
			if (stopping)
				continue;
			if (WIFSIGNALED(status))
				warnx("worker %d: killed by signal %d; starting "
				    "another", (int)p, WTERMSIG(status));
			else
				warnx("worker %d: exited %d; starting another",
				    (int)p, WEXITSTATUS(status));
			sleep(1);	/* not a loop of failing starts */
			pid[i] = start(fd[i], NULL, serve, arg);
		}
		for (alive = 0, i = 0; i < n; i++)
			alive += pid[i] > 0;
		if (stopping && alive == 0)
			break;
	}
	for (i = 0; i < n; i++)
		close(fd[i]);
	free(pid);
	free(fd);
	free(rd);
	return rc;
}
