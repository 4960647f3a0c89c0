/*
 * cv-ingest: the rows of an input, CSV (its first row the header) or
 * JSON lines (an object a line, its keys the columns).
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lib/csv.h"
#include "ingest.h"

void
reader_free_header(struct ingest *g)
{
	int i;

	for (i = 0; i < g->nheader; i++)
		free(g->header[i]);
	free(g->header);
	g->header = NULL;
	g->nheader = 0;
}

/* Rows of a CSV file: the first is the header.  -1 when told to stop. */
int
reader_csv(struct ingest *g, FILE *fp)
{
	struct csv_reader *csv = csv_open(fp, g->file);
	char **fields;
	int n, i;

	while (!g->stop && !run_stop && (n = csv_next(csv, &fields)) != 0) {
		/* A stop signal ends the input where it is, maybe mid-row. */
		if (run_stop)
			break;
		g->line = csv_line(csv);
		g->raw = csv_raw(csv, &g->rawlen);
		if (n < 0) {
			run_tally.read++;
			rows_bad(g, "%s", csv_error(csv));
			continue;
		}
		if (n == 1 && fields[0][0] == '\0')
			continue;	/* a blank line holds no record */
		if (g->header == NULL) {
			g->header = ecalloc((size_t)n, sizeof(*g->header));
			for (i = 0; i < n; i++)
				g->header[i] = estrdup(fields[i]);
			g->nheader = n;
			/* A missing column is a wrong mapping, not bad data. */
			if (mapping_columns(g) < 0)
				g->stop = 1;
			continue;
		}
		if (n != g->nheader) {
			run_tally.read++;
			rows_bad(g, "%d fields where the header has %d", n,
			    g->nheader);
			continue;
		}
		g->cells = fields;
		g->ncells = n;
		rows_ingest(g);
	}
	csv_close(csv);
	return g->stop ? -1 : 0;
}

/* JSON text of a scalar, as a CSV cell would hold it. */
static char *
json_cell(json_t *v)
{
	if (json_is_string(v))
		return estrdup(json_string_value(v));
	if (json_is_integer(v))
		return easprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return easprintf("%.17g", json_real_value(v));
	if (json_is_boolean(v))
		return estrdup(json_is_true(v) ? "true" : "false");
	if (json_is_null(v))
		return estrdup("");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * The member named by spec ("NAME" or "A|B", case ignored, as for CSV
 * headers); NULL if the object has none.  *twice is set to a second key
 * of the found one's name (case ignored: which is meant cannot be
 * known), else NULL.
 */
static json_t *
json_lookup(json_t *o, const char *spec, const char **twice)
{
	char *alts = estrdup(spec), *name, *save = NULL;
	const char *key;
	json_t *v, *found = NULL;

	*twice = NULL;
	for (name = strtok_r(alts, "|", &save); name && !found;
	    name = strtok_r(NULL, "|", &save))
		json_object_foreach(o, key, v)
			if (strcasecmp(key, name) == 0) {
				if (found != NULL) {
					*twice = key;
					break;
				}
				found = v;
			}
	free(alts);
	return found;
}

/*
 * JSON lines: one object a line; its keys are the columns.  The mapped
 * columns are looked up by name in each object.
 */
int
reader_json(struct ingest *g, FILE *fp)
{
	json_error_t jerr;
	json_t *o;
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t len;
	const char *spec, *twice;
	json_t *val;
	int dup;

	g->line = 0;
	for (i = 0; i < g->ndefs; i++)
		if (g->map[i].column != NULL && g->map[i].column[0] == '$') {
			warnx("%s: %s: column positions need CSV input",
			    g->file, g->map[i].column);
			return -1;
		}
	while (!g->stop && !run_stop &&
	    (len = getline(&line, &cap, fp)) > 0) {
		if (run_stop)	/* maybe mid-line */
			break;
		g->line++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		g->raw = line;
		g->rawlen = (size_t)len;
		/* A key given twice: jansson would keep the last. */
		o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES,
		    &jerr);
		if (!json_is_object(o)) {
			run_tally.read++;
			rows_bad(g, "not a JSON object: %s", o ? "other value" :
			    jerr.text);
			json_decref(o);
			continue;
		}
		/* One column per mapped field, in field order. */
		g->cells = ecalloc(g->ndefs, sizeof(*g->cells));
		g->header = ecalloc(g->ndefs, sizeof(*g->header));
		g->nheader = g->ncells = (int)g->ndefs;
		for (i = 0, dup = 0; i < g->ndefs; i++) {
			spec = g->map[i].column;
			g->header[i] = estrdup(spec ? spec : g->defs[i].name);
			val = spec ? json_lookup(o, spec, &twice) : NULL;
			if (val != NULL && twice != NULL && !dup++) {
				run_tally.read++;
				rows_bad(g, "%s: key %s twice (case ignored)",
				    spec, twice);
			}
			g->cells[i] = val ? json_cell(val) : estrdup("");
			g->map[i].col = spec ? (int)i : -1;
		}
		if (!dup)
			rows_ingest(g);
		for (i = 0; i < g->ndefs; i++)
			free(g->cells[i]);
		free(g->cells);
		g->cells = NULL;
		reader_free_header(g);
		json_decref(o);
	}
	if (ferror(fp) && !run_stop) {
		warn("%s", g->file);
		g->stop = 1;
	}
	free(line);
	return g->stop ? -1 : 0;
}
