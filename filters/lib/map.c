/*
 * map.c: open addressing with linear probing and tombstones; the table
 * doubles when three quarters full (tombstones counted).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/map.h"
#include "lib/util.h"

#define TOMB ((char *)1)

struct map {
	char	**keys;		/* NULL empty, TOMB deleted */
	void	**vals;
	uint64_t *hashes;
	size_t	  cap, count, used;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

struct map *
map_new(void)
{
	struct map *m = ecalloc(1, sizeof(*m));

	m->cap = 16;
	m->keys = ecalloc(m->cap, sizeof(*m->keys));
	m->vals = ecalloc(m->cap, sizeof(*m->vals));
	m->hashes = ecalloc(m->cap, sizeof(*m->hashes));
	return m;
}

void
map_free(struct map *m, void (*free_value)(void *))
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++)
		if (m->keys[i] != NULL && m->keys[i] != TOMB) {
			free(m->keys[i]);
			if (free_value != NULL)
				free_value(m->vals[i]);
		}
	free(m->keys);
	free(m->vals);
	free(m->hashes);
	free(m);
}

/* Slot of key, or the slot where it would go (-1 never). */
static size_t
find(const struct map *m, const char *key, uint64_t h, int *found)
{
	size_t i = h & (m->cap - 1), tomb = SIZE_MAX;

	for (;;) {
		if (m->keys[i] == NULL) {
			*found = 0;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (m->keys[i] == TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (m->hashes[i] == h && strcmp(m->keys[i], key) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & (m->cap - 1);
	}
}

static void
grow(struct map *m)
{
	struct map old = *m;
	size_t i, j;
	int found;

	/* Double when over half full; else only sweep the tombstones. */
	m->cap = m->count * 2 > old.cap ? old.cap * 2 : old.cap;
	m->keys = ecalloc(m->cap, sizeof(*m->keys));
	m->vals = ecalloc(m->cap, sizeof(*m->vals));
	m->hashes = ecalloc(m->cap, sizeof(*m->hashes));
	m->used = m->count;
	for (i = 0; i < old.cap; i++) {
		if (old.keys[i] == NULL || old.keys[i] == TOMB)
			continue;
		j = find(m, old.keys[i], old.hashes[i], &found);
		m->keys[j] = old.keys[i];
		m->vals[j] = old.vals[i];
		m->hashes[j] = old.hashes[i];
	}
	free(old.keys);
	free(old.vals);
	free(old.hashes);
}

void *
map_get(const struct map *m, const char *key)
{
	int found;
	size_t i = find(m, key, hash(key), &found);

	return found ? m->vals[i] : NULL;
}

void *
map_put(struct map *m, const char *key, void *value)
{
	uint64_t h = hash(key);
	void *old;
	size_t i;
	int found;

	i = find(m, key, h, &found);
	if (found) {
		old = m->vals[i];
		m->vals[i] = value;
		return old;
	}
	if (m->keys[i] == NULL)
		m->used++;
	m->keys[i] = estrdup(key);
	m->vals[i] = value;
	m->hashes[i] = h;
	m->count++;
	if (m->used * 4 >= m->cap * 3)
		grow(m);
	return NULL;
}

void *
map_del(struct map *m, const char *key)
{
	void *old;
	size_t i;
	int found;

	i = find(m, key, hash(key), &found);
	if (!found)
		return NULL;
	old = m->vals[i];
	free(m->keys[i]);
	m->keys[i] = TOMB;
	m->vals[i] = NULL;
	m->count--;
	return old;
}

size_t
map_count(const struct map *m)
{
	return m->count;
}

int
map_next(const struct map *m, size_t *i, const char **key, void **value)
{
	for (; *i < m->cap; (*i)++)
		if (m->keys[*i] != NULL && m->keys[*i] != TOMB) {
			*key = m->keys[*i];
			*value = m->vals[*i];
			(*i)++;
			return 1;
		}
	return 0;
}
