/* Kinds named by words (see kinds.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "util.h"

struct word {
	char	*word;
	int	 kind;		/* index in kinds.names */
};

struct kinds {
	char		**names;
	int		  nnames;
	struct word	 *words;	/* in file order */
	int		  nwords;
};

static int
add_name(struct kinds *k, const char *name)
{
	int i;

	for (i = 0; i < k->nnames; i++)
		if (strcmp(k->names[i], name) == 0)
			return i;
	k->names = erealloc(k->names, ((size_t)k->nnames + 1) *
	    sizeof(*k->names));
	k->names[k->nnames] = estrdup(name);
	return k->nnames++;
}

/* NULL with *why set; what was loaded so far is freed. */
static struct kinds *
refuse(struct kinds *k, FILE *fp, char *path, char *line, char **why,
    char *msg)
{
	kinds_free(k);
	if (fp != NULL)
		fclose(fp);
	free(path);
	free(line);
	*why = msg;
	return NULL;
}

struct kinds *
kinds_load(const char *file, const char *dir, const char *where, char **why)
{
	struct kinds *k = ecalloc(1, sizeof(*k));
	char *path, *line = NULL, *tok, *save, *p;
	size_t cap = 0;
	ssize_t len;
	long no = 0;
	int kind;
	FILE *fp;

	path = file[0] == '/' || dir == NULL ? estrdup(file) :
	    easprintf("%s/%s", dir, file);
	if ((fp = fopen(path, "r")) == NULL)
		return refuse(k, NULL, path, line, why, easprintf(
		    "%s: kinds %s: %s", where, path, strerror(errno)));
	while ((len = getline(&line, &cap, fp)) > 0) {
		no++;
		if (memchr(line, '\0', (size_t)len) != NULL)
			return refuse(k, fp, path, line, why, easprintf(
			    "%s:%ld: a NUL byte: not a text file", path, no));
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = line; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if ((tok = strtok_r(line, " \t\r\n", &save)) == NULL)
			continue;
		if (strcmp(tok, "other") == 0)
			return refuse(k, fp, path, line, why, easprintf(
			    "%s:%ld: other: the kind of what no word names, "
			    "not a kind to list", path, no));
		kind = add_name(k, tok);
		if ((tok = strtok_r(NULL, " \t\r\n", &save)) == NULL)
			return refuse(k, fp, path, line, why, easprintf(
			    "%s:%ld: %s: a kind without words", path, no,
			    k->names[kind]));
		for (; tok != NULL; tok = strtok_r(NULL, " \t\r\n", &save)) {
			k->words = erealloc(k->words, ((size_t)k->nwords + 1) *
			    sizeof(*k->words));
			k->words[k->nwords].word = estrdup(tok);
			k->words[k->nwords++].kind = kind;
		}
	}
	if (ferror(fp))
		return refuse(k, fp, path, line, why, easprintf("%s: %s",
		    path, strerror(errno)));
	if (k->nwords == 0)
		return refuse(k, fp, path, line, why, easprintf(
		    "%s: no kinds", path));
	free(line);
	fclose(fp);
	free(path);
	return k;
}

/* Is word in text, bounded by what is not a letter or digit? */
static int
has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = strstr(text, word); p != NULL; p = strstr(p + 1, word))
		if ((p == text || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)p[n]))
			return 1;
	return 0;
}

const char *
kinds_of(const struct kinds *k, const char *text)
{
	int i;

	for (i = 0; i < k->nwords; i++)
		if (has_word(text, k->words[i].word))
			return k->names[k->words[i].kind];
	return "other";
}

void
kinds_free(struct kinds *k)
{
	int i;

	if (k == NULL)
		return;
	for (i = 0; i < k->nnames; i++)
		free(k->names[i]);
	for (i = 0; i < k->nwords; i++)
		free(k->words[i].word);
	free(k->names);
	free(k->words);
	free(k);
}
