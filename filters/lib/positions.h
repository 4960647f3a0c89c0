/*
 * positions.h: where a state stands in its input topics, kept in the
 * state's own sqlite file, in the transaction that writes the state, so
 * that the state and the records it reflects are one unit (see
 * stream_resume() in stream.h).
 */
#ifndef CV_POSITIONS_H
#define CV_POSITIONS_H

#include <stdint.h>

#include <sqlite3.h>

/* The next offset to read of one partition. */
struct position {
	char		*topic;
	int32_t		 partition;
	int64_t		 next;
};

struct positions {
	struct position	*p;
	int		 n;
};

/* End a state's write: the table's rows replaced by ps (NULL: none, a
 * state of files and pipes) in the transaction the caller began and
 * wrote its state in, which is then committed, and the file closed. */
void	positions_commit(sqlite3 *, const struct positions *);
/* The table's rows (none for a state written from files or pipes). */
void	positions_load(sqlite3 *, struct positions *);
/* Append one; copies the topic. */
void	positions_add(struct positions *, const char *topic, int32_t p,
	    int64_t next);
void	positions_free(struct positions *);

#endif
