/*
 * map.h: a hash map from strings to pointers (open addressing, FNV-1a),
 * for state keyed by segment, series or vehicle.  Keys are copied; values
 * belong to the caller.
 */
#ifndef CV_MAP_H
#define CV_MAP_H

#include <stddef.h>

struct map;

struct map	*map_new(void);
/* Free the map and its keys; free_value (may be NULL) gets each value. */
void		 map_free(struct map *, void (*free_value)(void *));
void		*map_get(const struct map *, const char *key);
/* Insert or replace; returns the value replaced, or NULL. */
void		*map_put(struct map *, const char *key, void *value);
/* Remove; returns the value removed, or NULL. */
void		*map_del(struct map *, const char *key);
size_t		 map_count(const struct map *);

/*
 * Visit every entry in slot order (stable for a given history of puts);
 * i starts at 0; returns 0 at the end.
 */
int		 map_next(const struct map *, size_t *i, const char **key,
		    void **value);

#endif
