/*
 * config.h: the numeric settings of a filter, from defaults, a config
 * file and flags, in that order.
 *
 * A config file has one "key = value" a line; blank lines and lines
 * starting with # are ignored, and # starts a comment after a value.
 * An unknown key, a key given twice in one file, a value that is not a
 * decimal number, out of its range or not whole where it must be, and a
 * NUL byte end the program with status 2, naming file:line (or the flag).
 */
#ifndef CV_CONFIG_H
#define CV_CONFIG_H

#include <stdio.h>

struct setting {
	const char	*key;
	double		*val;		/* holds the default until set */
	double		 lo, hi;	/* allowed range */
	const char	*doc;
	int		 whole;		/* only whole numbers */
};

/* Apply the file's settings; exits 2 with config_read()'s reason. */
void	config_load(const char *path, const struct setting *, int n);
/*
 * Apply the settings in fp, read as file path; 0, or -1 with *why (to
 * free) naming path:line and the reason, the settings of the lines
 * before it applied.
 */
int	config_read(FILE *fp, const char *path, const struct setting *,
	    int n, char **why);
/* Apply one "key=value" from a flag (-s). */
void	config_set(const char *arg, const struct setting *, int n);
/*
 * Keep a flag's "key=value" to apply with config_set_kept() once every
 * option is read: a flag wins over the config file wherever it stands.
 */
void	config_keep(const char *arg);
void	config_set_kept(const struct setting *, int n);
/*
 * Where the setting held by val was last set, for an error about how
 * settings go together: "grade.conf:12", "-s watch.enter=4" or "the
 * default".  Valid until the program ends.
 */
const char *config_where(const double *val);
/* Write the settings as a config file would have them. */
void	config_print(FILE *, const struct setting *, int n);

#endif
