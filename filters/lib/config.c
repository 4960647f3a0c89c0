/* config.c: numeric settings from a file and from flags. */
#include <ctype.h>
#include <err.h>
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

/* Set key to text; NULL, or why not. */
static const char *
set(const char *key, const char *text, const struct setting *st, int n,
    char *why, size_t len)
{
	double d;
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(st[i].key, key) == 0)
			break;
	if (i == n) {
		snprintf(why, len, "unknown key %s", key);
		return why;
	}
	if (parse_double(text, &d) < 0) {
		snprintf(why, len, "%s: %s is not a number", key, text);
		return why;
	}
	if (!(d >= st[i].lo && d <= st[i].hi)) {
		snprintf(why, len, "%s: %s is outside %g..%g", key, text,
		    st[i].lo, st[i].hi);
		return why;
	}
	*st[i].val = d;
	return NULL;
}

void
config_load(const char *path, const struct setting *st, int n)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *s, *eq, why[300];
	size_t cap = 0;
	long lineno = 0;

	if (fp == NULL)
		err(2, "%s", path);
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		if ((s = strchr(line, '#')) != NULL)
			*s = '\0';
		s = trim(line);
		if (*s == '\0')
			continue;
		if ((eq = strchr(s, '=')) == NULL)
			errx(2, "%s:%ld: not key = value", path, lineno);
		*eq = '\0';
		if (set(trim(s), trim(eq + 1), st, n, why, sizeof(why)))
			errx(2, "%s:%ld: %s", path, lineno, why);
	}
	if (ferror(fp))
		err(2, "%s", path);
	free(line);
	fclose(fp);
}

void
config_set(const char *arg, const struct setting *st, int n)
{
	char *copy = estrdup(arg), *eq = strchr(copy, '='), why[300];

	if (eq == NULL)
		errx(2, "-s %s: not key=value", arg);
	*eq = '\0';
	if (set(trim(copy), trim(eq + 1), st, n, why, sizeof(why)))
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
