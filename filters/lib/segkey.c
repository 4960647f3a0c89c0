/* segkey.c: the folded make/model/trim key (see segkey.h). */
#include <ctype.h>

#include "segkey.h"

static void
add_part(struct buf *b, const char *s)
{
	int dash = 0;
	size_t start = b->len;

	for (; *s; s++) {
		if (isalnum((unsigned char)*s)) {
			if (dash && b->len > start)
				buf_addc(b, '-');
			dash = 0;
			buf_addc(b, tolower((unsigned char)*s));
		} else
			dash = 1;
	}
}

/* "/" and the part of s, unless the part is empty: 1 if added. */
static int
add_level(struct buf *b, const char *s)
{
	size_t len = b->len;

	buf_addc(b, '/');
	add_part(b, s);
	if (b->len > len + 1)
		return 1;
	b->len = len;
	b->p[len] = '\0';
	return 0;
}

void
segkey(struct buf *b, const char *make, const char *model, const char *trim)
{
	add_part(b, make);
	if (model != NULL && add_level(b, model) && trim != NULL)
		add_level(b, trim);
}
