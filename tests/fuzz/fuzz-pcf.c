/*
 * fuzz-pcf.c: libFuzzer target for schema_canonical().  The input is
 * taken as schema JSON; a canonical form must come back with no message
 * and hash as schema_fingerprint() says, or no form must come back with
 * a one-line message.
 *
 *	clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *	    -Ifilters tests/fuzz/fuzz-pcf.c filters/lib/fingerprint.c \
 *	    filters/lib/util.c $(pkg-config --cflags --libs jansson) \
 *	    -o fuzz-pcf
 *	./fuzz-pcf -max_total_time=60 corpus/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fingerprint.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *pcf, *why, *why2;
	uint64_t fp;
	int rc;

	pcf = schema_canonical((const char *)data, size, &why);
	rc = schema_fingerprint((const char *)data, size, &fp, &why2);
	if (pcf != NULL) {
		if (why != NULL || rc != 0 || *pcf == '\0' ||
		    fp != crc64_avro(pcf, strlen(pcf)))
			abort();
	} else {
		if (why == NULL || strchr(why, '\n') != NULL || rc != -1 ||
		    why2 == NULL || strcmp(why, why2) != 0)
			abort();
	}
	free(pcf);
	free(why);
	free(why2);
	return 0;
}
