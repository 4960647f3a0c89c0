/*
 * fuzz-config.c: libFuzzer target for the config file reader
 * (lib/config.c, config_read()), which cv-grade, cv-warn and cv-stress
 * take their settings from.  The input is read as a config file with
 * settings of each kind (a range, a whole number, a wide range); the
 * reader must either apply settings that are in range (and whole where
 * they must be) or refuse with one line naming the file and a line.
 *
 *	FUZZ_TARGETS=config scripts/fuzz	(builds into build/fuzz)
 *	build/fuzz/fuzz-config -max_total_time=60 build/fuzz/corpus-config \
 *	    tests/fuzz/corpus-config
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static double weight, level, spread;
static const struct setting settings[] = {
	{ "grade.weight", &weight, 0, 1, "a weight", 0 },
	{ "watch.level", &level, 1, 9, "a level", 1 },
	{ "ltv.spread", &spread, -1e6, 1e6, "a spread", 0 },
};
#define NSETTINGS	((int)(sizeof(settings) / sizeof(settings[0])))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *fp;
	char *why;
	int i, rc;

	weight = 0.5, level = 3, spread = 0;
	if (size == 0)
		return 0;	/* fmemopen() refuses an empty buffer */
	if ((fp = fmemopen((void *)data, size, "r")) == NULL)
		abort();
	rc = config_read(fp, "fuzz.conf", settings, NSETTINGS, &why);
	fclose(fp);
	if (rc < 0) {
		if (why == NULL || strncmp(why, "fuzz.conf:", 10) != 0 ||
		    strchr(why, '\n') != NULL)
			abort();
		free(why);
	} else if (why != NULL)
		abort();
	for (i = 0; i < NSETTINGS; i++) {
		double d = *settings[i].val;

		if (!(d >= settings[i].lo && d <= settings[i].hi))
			abort();
		if (settings[i].whole && d != (double)(long long)d)
			abort();
	}
	return 0;
}
