/*
 * Kinds named by words: a file of lines "KIND WORD ..." classes a text
 * (a seller's name) by the first line with a word found in it as a whole
 * word, else "other".  cv-ingest's field.kinds=FILE.
 */
#ifndef CV_KINDS_H
#define CV_KINDS_H

struct kinds;

/* Load FILE (relative to dir unless absolute); NULL with *why (to be
 * freed) naming where and what is wrong. */
struct kinds *kinds_load(const char *file, const char *dir,
	    const char *where, char **why);
/* The kind of a lower-case text: one of the file's kinds, or "other". */
const char *kinds_of(const struct kinds *, const char *text);
void	 kinds_free(struct kinds *);

#endif
