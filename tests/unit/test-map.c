/*
 * test-map.c: the hash map against a plain array doing the same random
 * puts, gets and deletes (the array is the reference: a linear search
 * cannot be wrong in the ways a hash table can).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/map.h"

#define NKEYS 3000

int
main(void)
{
	static long ref[NKEYS];		/* 0: absent, else the value */
	struct map *m = map_new();
	char key[32];
	const char *k;
	void *v;
	size_t i, count, it;
	long want, got;
	int op, j, bad = 0;

	srand(1);
	for (i = 0; i < 200000; i++) {
		j = rand() % NKEYS;
		snprintf(key, sizeof(key), "seg/%d", j);
		op = rand() % 3;
		if (op == 0) {
			map_put(m, key, (void *)(long)(i + 1));
			ref[j] = (long)(i + 1);
		} else if (op == 1) {
			got = (long)map_del(m, key);
			bad += got != ref[j];
			ref[j] = 0;
		} else
			bad += (long)map_get(m, key) != ref[j];
	}
	CHECK(bad == 0, "200000 random operations agree with the reference "
	    "(%d differ)", bad);
	for (j = 0, count = 0; j < NKEYS; j++)
		count += ref[j] != 0;
	CHECK(map_count(m) == count, "count %zu, reference %zu", map_count(m),
	    count);
	it = 0;
	i = 0;
	bad = 0;
	while (map_next(m, &it, &k, &v)) {
		j = atoi(k + 4);
		want = ref[j];
		bad += (long)v != want;
		i++;
	}
	CHECK(i == count && bad == 0, "iteration visits each entry once");
	CHECK(map_get(m, "absent") == NULL, "an absent key gives NULL");
	map_free(m, NULL);
	return CHECK_DONE();
}
