/*
 * reject.c: the reject policy (-e fail, skip or a file), rejects and the
 * reconciling summary at the end of a run (see reject.h).
 */
#include <err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "lib/reject.h"
#include "lib/run.h"
#include "lib/util.h"

enum policy { ON_FAIL, ON_SKIP, ON_FILE };
static enum policy policy = ON_FAIL;
static void (*reject_hook)(const char *, const char *);

void
reject_to(void (*fn)(const char *where, const char *reason))
{
	reject_hook = fn;
}
static FILE *reject_fp;
static char *reject_path;

int
reject_policy(const char *arg)
{
	if (strcmp(arg, "fail") == 0)
		policy = ON_FAIL;
	else if (strcmp(arg, "skip") == 0)
		policy = ON_SKIP;
	else {
		if ((reject_fp = fopen(arg, "w")) == NULL) {
			warn("%s", arg);
			return -1;
		}
		reject_path = estrdup(arg);
		policy = ON_FILE;
	}
	return 0;
}

/*
 * A JSON string of any bytes: as they are when they are UTF-8, else with
 * every byte above 127 written as \xNN, so a reject is never lost to its
 * encoding.
 */
static json_t *
any_string(const char *p, size_t n)
{
	json_t *j = json_stringn(p, n);
	struct buf b = { 0 };
	size_t i;

	if (j != NULL)
		return j;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] > 127)
			buf_addf(&b, "\\x%02x", (unsigned char)p[i]);
		else
			buf_addc(&b, p[i]);
	j = json_stringn(b.p ? b.p : "", b.len);
	buf_free(&b);
	return j;
}

static void
write_reject(const char *where, const char *reason, const char *input,
    size_t inlen, avro_value_t *value)
{
	json_t *o = json_object(), *rec = NULL;
	char *js;

	json_object_set_new(o, "where", any_string(where, strlen(where)));
	json_object_set_new(o, "reason", any_string(reason, strlen(reason)));
	if (input != NULL)
		json_object_set_new(o, "input", any_string(input, inlen));
	if (value != NULL && avro_value_to_json(value, 1, &js) == 0) {
		rec = json_loads(js, 0, NULL);
		free(js);
	}
	if (rec != NULL)
		json_object_set_new(o, "record", rec);
	js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (js != NULL)
		fprintf(reject_fp, "%s\n", js);
	free(js);
	json_decref(o);
}

int
reject(const char *where, int64_t n, const char *input, size_t inlen,
    avro_value_t *value, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	if (run_replaying)	/* its owner says so */
		return 0;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	run_tally.rejected += n;
	run_fail();
	/* avro-c prefixes new errors onto old ones: start afresh. */
	avro_set_error("%s", "");
	if (reject_hook != NULL) {
		reject_hook(where, reason);
		return -1;
	}
	if (policy == ON_FILE)
		write_reject(where, reason, input, inlen, value);
	else
		warnx("%s: %s", where, reason);
	if (policy != ON_FAIL)
		return 0;
	run_halted = 1;
	return -1;
}

int
reject_finish(int verbose)
{
	if (reject_fp != NULL) {
		if (fclose(reject_fp) == EOF)
			warn("%s", reject_path);
		reject_fp = NULL;
	}
	if (verbose) {
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			warnx("peak memory %.1f MB", ru.ru_maxrss / 1024.0);
	}
	if (verbose || run_tally.rejected > 0)
		warnx("read %lld = written %lld + absorbed %lld + rejected "
		    "%lld%s%s", (long long)run_tally.read,
		    (long long)run_tally.written,
		    (long long)run_tally.absorbed,
		    (long long)run_tally.rejected,
		    reject_path ? "; rejects in " : "",
		    reject_path ? reject_path : "");
	if (run_tally.replayed > 0)
		warnx("replayed %lld records of other instances' partitions "
		    "for the state", (long long)run_tally.replayed);
	free(reject_path);
	reject_path = NULL;
	return run_failed();
}
