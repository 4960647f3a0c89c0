/*
 * fuzz-message.c: libFuzzer target for one Kafka message as a consumer
 * takes it and a producer places it, without librdkafka: the framing
 * (single-object or Confluent, lib/framing.c), the walk over the body's
 * fields that stream.c checks a record with (lib/avrowalk.c), avro-c's
 * decoding of a body the walk accepted, and the key and time the
 * producer would give it (lib/route.c).  Bad input must be refused with
 * a one-line reason, never crash, leak or hang; a body the walk accepts
 * must decode from the bytes the walk said it spans.
 *
 *	FUZZ_TARGETS=message scripts/fuzz	(builds into build/fuzz)
 *	build/fuzz/fuzz-message -max_total_time=60 build/fuzz/corpus-message \
 *	    tests/fuzz/corpus-message
 *
 * The seeds are real messages, both framings, of every record type
 * (tests/fuzz/seed-message.sh writes them from a broker); the Confluent
 * ids are 1, 2, ... for the embedded schemas in order, as set up below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>

#include "lib/avrowalk.h"
#include "lib/framing.h"
#include "lib/route.h"
#include "lib/schema.h"
#include "lib/view.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What each embedded schema needs, made once. */
struct kind {
	const char		*name;
	avro_schema_t		 schema;
	struct walker		*walker;
	struct router		*router;
	avro_value_iface_t	*iface;
};
static struct kind kinds[64];
static int nkinds;

static struct kind *
kind_of(const char *name)
{
	int i;

	for (i = 0; i < nkinds; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	if (nkinds == (int)(sizeof(kinds) / sizeof(kinds[0])))
		abort();
	kinds[nkinds].name = name;
	kinds[nkinds].schema = schema_get(name);
	kinds[nkinds].walker = walker_new(kinds[nkinds].schema);
	kinds[nkinds].router = route_new(kinds[nkinds].schema);
	kinds[nkinds].iface = avro_generic_class_from_schema(
	    kinds[nkinds].schema);
	return &kinds[nkinds++];
}

static int
one_line(const char *why)
{
	return why != NULL && *why != '\0' && strchr(why, '\n') == NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/fuzz-message-ids.XXXXXX", *why = NULL;
	const char **names = schema_names();
	FILE *fp;
	int fd, i;

	(void)argc;
	(void)argv;
	/* Confluent ids for every embedded schema: 1, 2, ... */
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	for (i = 0; names[i] != NULL; i++)
		fprintf(fp, "%d %s\n", i + 1, names[i]);
	if (fclose(fp) != 0 || framing_load_ids(path, &why) < 0)
		abort();
	unlink(path);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name, *why;
	const char *body;
	size_t off, len;
	unsigned fields[VIEW_MAXFIELDS + 1];
	struct kind *k;
	struct route r;
	avro_reader_t rd;
	avro_value_t v;
	int n, branch;

	if (framing_parse(data, size, &name, &off, &why) < 0) {
		if (!one_line(why))
			abort();
		return 0;
	}
	if (name == NULL || off > size)
		abort();
	k = kind_of(name);
	body = (const char *)data + off;
	len = size - off;
	n = walker_fields(k->walker, body, len, &branch, fields,
	    VIEW_MAXFIELDS, &why);
	if (n < 0) {
		if (!one_line(why))
			abort();
		return 0;
	}
	if (fields[n] > len)
		abort();
	/* What the walk accepted, avro-c decodes from the bytes the walk
	 * said it spans. */
	rd = avro_reader_memory(body, (int64_t)fields[n]);
	if (avro_generic_value_new(k->iface, &v) != 0)
		abort();
	if (avro_value_read(rd, &v) != 0)
		abort();
	avro_value_decref(&v);
	avro_reader_free(rd);
	route_of(k->router, body, len, &r);
	if (r.key != NULL && strlen(r.key) != r.keylen)
		abort();
	return 0;
}
