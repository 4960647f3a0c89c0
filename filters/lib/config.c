/* config.c: numeric settings from a file and from flags. */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/util.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Where each setting was set last (config_where()), by its value. */
static struct {
	const double	*val;
	char		*where;
} origins[64];
static int norigins;

static void
set_origin(const double *val, char *where)
{
	int i;

	for (i = 0; i < norigins && origins[i].val != val; i++)
		;
	if (i == norigins) {
		if (norigins == (int)NELEM(origins))
			errx(2, "config: too many settings");
		norigins++;
	} else
		free(origins[i].where);
	origins[i].val = val;
	origins[i].where = where;
}

const char *
config_where(const double *val)
{
	int i;

	for (i = 0; i < norigins; i++)
		if (origins[i].val == val)
			return origins[i].where;
	return "the default";
}

/* Index of key's setting, or -1. */
static int
find(const char *key, const struct setting *st, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(st[i].key, key) == 0)
			return i;
	return -1;
}

/* Set setting i to text, which comes from where (taken); NULL, or why
 * not. */
static const char *
set(int i, const char *key, const char *text, const struct setting *st,
    char *where, char *why, size_t len)
{
	double d;

	if (i < 0) {
		snprintf(why, len, "unknown key %s", key);
		free(where);
		return why;
	}
	if (parse_double(text, &d) < 0)
		snprintf(why, len, "%s: %s is not a number", key, text);
	else if (!(d >= st[i].lo && d <= st[i].hi))
		snprintf(why, len, "%s: %s is outside %g..%g", key, text,
		    st[i].lo, st[i].hi);
	else if (st[i].whole && d != (double)(long long)d)
		snprintf(why, len, "%s: %s is not a whole number", key, text);
	else {
		*st[i].val = d;
		set_origin(st[i].val, where);
		return NULL;
	}
	free(where);
	return why;
}

int
config_read(FILE *fp, const char *path, const struct setting *st, int n,
    char **why)
{
	char *line = NULL, *s, *eq, *key, reason[300];
	size_t cap = 0;
	ssize_t len;
	long lineno = 0, *seen = ecalloc((size_t)n + 1, sizeof(*seen));
	int i;

	*why = NULL;
	while (*why == NULL && (len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		/* Else the line would end at the NUL, unseen. */
		if (memchr(line, '\0', (size_t)len) != NULL) {
			*why = easprintf("%s:%ld: a NUL byte: not a text file",
			    path, lineno);
			break;
		}
		if ((s = strchr(line, '#')) != NULL)
			*s = '\0';
		s = trim(line);
		if (*s == '\0')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			*why = easprintf("%s:%ld: not key = value", path,
			    lineno);
			break;
		}
		*eq = '\0';
		key = trim(s);
		if ((i = find(key, st, n)) >= 0 && seen[i])
			*why = easprintf("%s:%ld: %s: given twice (line %ld "
			    "too)", path, lineno, key, seen[i]);
		else if (set(i, key, trim(eq + 1), st, easprintf("%s:%ld",
		    path, lineno), reason, sizeof(reason)))
			*why = easprintf("%s:%ld: %s", path, lineno, reason);
		else
			seen[i] = lineno;
	}
	if (*why == NULL && ferror(fp))
		*why = easprintf("%s: %s", path, strerror(errno));
	free(seen);
	free(line);
	return *why == NULL ? 0 : -1;
}

void
config_load(const char *path, const struct setting *st, int n)
{
	FILE *fp = fopen(path, "r");
	char *why;

	if (fp == NULL)
		err(2, "%s", path);
	if (config_read(fp, path, st, n, &why) < 0)
		errx(2, "%s", why);
	fclose(fp);
}

void
config_set(const char *arg, const struct setting *st, int n)
{
	char *copy = estrdup(arg), *eq = strchr(copy, '='), *key, why[300];

	if (eq == NULL)
		errx(2, "-s %s: not key=value", arg);
	*eq = '\0';
	key = trim(copy);
	if (set(find(key, st, n), key, trim(eq + 1), st, easprintf("-s %s",
	    arg), why, sizeof(why)))
		errx(2, "-s %s: %s", arg, why);
	free(copy);
}

static const char **kept;
static int nkept;

void
config_keep(const char *arg)
{
	kept = erealloc(kept, ((size_t)nkept + 1) * sizeof(*kept));
	kept[nkept++] = arg;
}

void
config_set_kept(const struct setting *st, int n)
{
	int i;

	for (i = 0; i < nkept; i++)
		config_set(kept[i], st, n);
	free(kept);
	kept = NULL;
	nkept = 0;
}

void
config_print(FILE *fp, const struct setting *st, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fprintf(fp, "# %s\n%s = %.15g\n", st[i].doc, st[i].key,
		    *st[i].val);
}
