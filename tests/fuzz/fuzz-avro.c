/*
 * fuzz-avro.c: libFuzzer target for the Avro stream reader (ocf.c framing
 * through stream.c's src_open/src_next, decoding with avro-c).  The input
 * is put in a memfd and read to its end twice: once with the writer's
 * own schema (reader NULL) and once resolved to "Event".  Bad input must
 * be rejected, never crash, leak or hang, and the counts must reconcile:
 * records read = records yielded + records rejected.
 *
 *	make && scripts/fuzz	(builds into build/fuzz, see there)
 *	build/fuzz/fuzz-avro -max_total_time=60 build/fuzz/corpus-avro \
 *	    tests/fuzz/corpus-avro	(new inputs go to the first directory)
 *	build/fuzz/fuzz-avro crash-file		(FUZZ_VERBOSE=1 shows rejects)
 * FUZZ_LAST=file saves each input before it runs, for crashes that take
 * the sanitizer's report (and libFuzzer's crash file) down with them.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/stream.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *last_path;	/* FUZZ_LAST: each input is saved there */

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read path to its end with the given reader schema, checking the counts. */
static void
read_all(const char *path, const char *reader)
{
	char *paths[1];
	struct src *s;
	struct rec *r;
	int64_t yielded = 0, read0 = run_tally.read;
	int64_t rejected0 = run_tally.rejected;

	paths[0] = (char *)path;
	s = src_open(paths, 1, reader);
	while (src_next(s, &r) > 0) {
		yielded++;
		if (r->value == NULL || r->seqno < 1)
			abort();
	}
	if (run_tally.read - read0 !=
	    yielded + (run_tally.rejected - rejected0))
		abort();
	src_close(s);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/*
	 * warnx() writes through the stderr stream; libFuzzer and the
	 * sanitizers keep the descriptor, so their reports still show.
	 */
	if (getenv("FUZZ_VERBOSE") == NULL && (stderr = fopen("/dev/null",
	    "w")) == NULL)
		abort();
	reject_policy("skip");
	last_path = getenv("FUZZ_LAST");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;

	/* For crashes that take the sanitizer's own report down with them. */
	if (last_path != NULL) {
		if ((fd = open(last_path, O_WRONLY | O_CREAT | O_TRUNC, 0666))
		    < 0 || write_all(fd, data, size) < 0 || close(fd) < 0)
			abort();
	}
	if ((fd = memfd_create("fuzz-avro", MFD_CLOEXEC)) < 0)
		abort();
	if (write_all(fd, data, size) < 0)
		abort();
	/* Opening /proc/self/fd/N gives a fresh offset at 0. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	read_all(path, NULL);
	read_all(path, "Event");
	close(fd);
	return 0;
}
