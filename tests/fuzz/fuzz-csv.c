/*
 * fuzz-csv.c: libFuzzer target for the CSV reader and time_parse().
 * The input is read as CSV to its end, and every field is parsed as a
 * time by automatic detection and formatted back.
 *
 *	clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *	    -Ifilters tests/fuzz/fuzz-csv.c filters/lib/csv.c \
 *	    filters/lib/timeparse.c filters/lib/util.c -o fuzz-csv
 *	./fuzz-csv -max_total_time=60 corpus/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csv.h"
#include "lib/timeparse.h"

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z */
#define MS_MIN	(-62135596800000LL)
#define MS_MAX	253402300799999LL

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_reader *r;
	FILE *fp;
	char **f, buf[32];
	const char *why;
	size_t len;
	int64_t ms, back;
	long calls = 0;
	int i, n;

	/* fmemopen refuses a zero size buffer on some systems. */
	if (size == 0 || (fp = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	r = csv_open(fp, "fuzz");
	while ((n = csv_next(r, &f)) != 0) {
		/* Every call consumes at least one byte. */
		if (++calls > (long)size + 1)
			abort();
		csv_raw(r, &len);
		if (len > size || csv_line(r) < 1)
			abort();
		if (n < 0) {
			if (f != NULL || csv_error(r)[0] == '\0')
				abort();
			continue;
		}
		for (i = 0; i < n; i++) {
			if (time_parse(f[i], NULL, &ms, &why) == -1)
				continue;
			/*
			 * What was accepted must format and parse back,
			 * in the years 0001-9999 that ISO text can hold.
			 */
			if (ms < MS_MIN || ms > MS_MAX)
				continue;
			time_format(ms, buf, sizeof(buf));
			if (time_parse(buf, NULL, &back, &why) == -1 ||
			    back != ms)
				abort();
		}
	}
	csv_close(r);
	fclose(fp);
	return 0;
}
