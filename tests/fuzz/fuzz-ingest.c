/*
 * fuzz-ingest.c: libFuzzer target for cv-ingest's readers of untrusted
 * text: the map file (mapping_load), then the rows it maps, read as JSON
 * lines (reader_json) and again as CSV (reader_csv, the records held and
 * sorted into event time, as -O and several inputs do).  The input is a
 * map file, a line "%%", then the rows; without that line all of it is
 * rows under the default mapping (every VehicleObs field from the column
 * of its name).  A bad map must be refused with a reason, bad rows
 * rejected, never a crash, leak or hang, and the counts must reconcile:
 * rows read = records written + rows rejected, in both passes.
 *
 * fuzz-sources: filters/cv-ingest/mapping.c filters/cv-ingest/rows.c
 * fuzz-sources: filters/cv-ingest/readers.c
 *
 *	scripts/fuzz	(builds into build/fuzz, see there; from the top
 *			folder: kinds files are found in pipelines/maps)
 *	build/fuzz/fuzz-ingest crash-file	(FUZZ_VERBOSE=1 shows rejects)
 * A map naming a kinds file by a path with a slash is passed over: it
 * can name any file (/dev/zero), which is the user's to choose, not the
 * data's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv-ingest/ingest.h"
#include "lib/run.h"
#include "lib/reject.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Does a line of the map name a kinds file by a path? */
static int
kinds_path(const char *map, size_t n)
{
	const char *p = map, *end = map + n, *nl, *k;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		k = memmem(p, (size_t)(nl - p), "kinds", 5);
		if (k != NULL && memchr(k, '/', (size_t)(nl - k)) != NULL)
			return 1;
	}
	return 0;
}

/* Read the rows with one reader, checking the counts; sorted if sort. */
static void
read_rows(struct ingest *g, const char *rows, size_t n, int json, int sort)
{
	int64_t read0 = run_tally.read, written0 = run_tally.written;
	int64_t rejected0 = run_tally.rejected;
	FILE *fp;

	if (n == 0 || (fp = fmemopen((void *)rows, n, "r")) == NULL)
		return;
	g->sort = sort;
	g->stop = 0;
	g->file = "fuzz-rows";
	rows_open(g, "/dev/null");
	(void)(json ? reader_json(g, fp) : reader_csv(g, fp));
	reader_free_header(g);
	if (sort)
		rows_release(g);
	rows_close(g);
	fclose(fp);
	if (run_tally.read - read0 != (run_tally.written - written0) +
	    (run_tally.rejected - rejected0))
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* warnx() writes through stderr; the sanitizers keep the fd. */
	if (getenv("FUZZ_VERBOSE") == NULL && (stderr = fopen("/dev/null",
	    "w")) == NULL)
		abort();
	reject_policy("skip");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n%%\n";
	const char *in = (const char *)data, *cut, *rows = in;
	struct ingest g;
	size_t maplen = 0, i;
	char *why = NULL, *s;
	FILE *fp;
	int ok;

	memset(&g, 0, sizeof(g));
	if (mapping_type(&g, "vehicle", "default", &why) < 0)
		abort();
	cut = memmem(in, size, sep, sizeof(sep) - 1);
	if (cut != NULL) {
		maplen = (size_t)(cut - in) + 1;
		rows = cut + sizeof(sep) - 1;
		if (kinds_path(in, maplen))
			goto out;
		if ((fp = fmemopen((void *)in, maplen, "r")) == NULL)
			abort();
		ok = mapping_load(&g, fp, "pipelines/maps/fuzz.map", &why) == 0;
		fclose(fp);
		if (!ok) {
			/* Refused, and said why. */
			if (why == NULL || why[0] == '\0')
				abort();
			goto out;
		}
	} else
		for (i = 0; i < g.ndefs; i++) {
			s = easprintf("%s=%s", g.defs[i].name, g.defs[i].name);
			if (mapping_setting(&g, s, "fuzz", &why) < 0)
				abort();
			free(s);
		}
	size -= (size_t)(rows - in);
	read_rows(&g, rows, size, 1, 0);
	read_rows(&g, rows, size, 0, 1);
out:
	free(why);
	mapping_free(&g);
	return 0;
}
