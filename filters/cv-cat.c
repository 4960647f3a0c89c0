/*
 * cv-cat: show a record stream.  Reads Avro container streams (files or
 * standard input, one after the other) and writes JSON lines, CSV with a
 * header, an aligned table, or Avro again.
 *
 *	cv-ingest sales.csv | cv-features | cv-cat -f table -C segment,mpi
 */
#include <err.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/flat.h"
#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/stream.h"

#define TABLE_SAMPLE	1000	/* rows that set a table's column widths */

enum format { F_JSON, F_CSV, F_TABLE, F_AVRO };

struct out {
	enum format	 format;
	struct flat	*flat;
	size_t		*cols;		/* selected columns */
	size_t		 ncols;
	int		 selected;	/* -C given */
	struct buf	 line;
	struct sink	*sink;
	/* table: rows held back until the widths are known */
	char		**held;
	size_t		  nheld;
	size_t		 *width;
	int		  widths_set;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-cat [-RvW] [-C columns] [-e on-error] "
	    "[-f json|csv|table|avro] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -C, --columns A,B   only these columns (json: an object "
	    "of them;\n"
	    "                      not with avro)\n"
	    "  -e, --on-error X    fail (default), skip, or a file for "
	    "rejects\n"
	    "  -f, --format F      json (default), csv, table or avro\n"
	    "  -R, --reencode      avro: decode and encode every record, "
	    "even when\n"
	    "                      its checked encoding could pass as it "
	    "is\n"
	    "  -W, --schema        print the writer schema and exit\n"
	    "  -v, --verbose       counts and rate on stderr\n"
	    "  -h, --help          this help\n");
	kafka_help(stdout);
}

static void
write_line(struct buf *b)
{
	if (fwrite(b->p, 1, b->len, stdout) != b->len)
		err(1, "stdout");
	buf_clear(b);
}

static void
add_csv_cell(struct buf *b, const char *s)
{
	const char *p;

	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL && *s != ' ' &&
	    (*s == '\0' || s[strlen(s) - 1] != ' ')) {
		buf_add(b, s, strlen(s));
		return;
	}
	buf_addc(b, '"');
	for (p = s; *p; p++) {
		if (*p == '"')
			buf_addc(b, '"');
		buf_addc(b, *p);
	}
	buf_addc(b, '"');
}

/* Append j's JSON text and free j (a string: never fails but on memory). */
static void
add_json(struct buf *b, json_t *j)
{
	char *t = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);

	if (t == NULL)
		errx(1, "out of memory");
	buf_add(b, t, strlen(t));
	free(t);
	json_decref(j);
}

static void
select_columns(struct out *o, const char *list)
{
	char *copy, *name, *save = NULL;
	size_t i, n = flat_ncols(o->flat);
	int k;

	o->ncols = 0;
	o->cols = ecalloc(n + 1, sizeof(*o->cols));
	o->selected = list != NULL;
	if (list == NULL) {
		for (i = 0; i < n; i++)
			o->cols[o->ncols++] = i;
		return;
	}
	copy = estrdup(list);
	for (name = strtok_r(copy, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		if ((k = flat_column(o->flat, name)) < 0) {
			warnx("-C: no column %s in this stream", name);
			usage(stderr);
			exit(2);
		}
		o->cols = erealloc(o->cols, (o->ncols + 1) *
		    sizeof(*o->cols));
		o->cols[o->ncols++] = (size_t)k;
	}
	free(copy);
}

/* A cell as one table line: control characters shown escaped. */
static char *
table_text(const char *s)
{
	struct buf b = { 0 };

	buf_add(&b, "", 0);
	for (; *s; s++) {
		if (*s == '\n')
			buf_add(&b, "\\n", 2);
		else if (*s == '\t')
			buf_add(&b, "\\t", 2);
		else if ((unsigned char)*s < 0x20)
			buf_addf(&b, "\\x%02x", (unsigned char)*s);
		else
			buf_addc(&b, *s);
	}
	return b.p;
}

static void
add_padded(struct buf *b, const char *s, size_t width, int right, int last)
{
	size_t len = strlen(s);

	while (right && len++ < width)
		buf_addc(b, ' ');
	buf_add(b, s, strlen(s));
	while (!right && !last && len++ < width)
		buf_addc(b, ' ');
}

/* One table line of the selected columns of cells (NULL prints empty). */
static void
print_table_row(struct out *o, char *const *cells, int header)
{
	size_t i, c;
	char *text;

	for (i = 0; i < o->ncols; i++) {
		c = o->cols[i];
		text = table_text(cells[c] ? cells[c] : "");
		if (i)
			buf_add(&o->line, "  ", 2);
		add_padded(&o->line, text, o->width[i], !header &&
		    flat_coltype(o->flat, c) != FLAT_TEXT, i + 1 == o->ncols);
		free(text);
	}
	buf_addc(&o->line, '\n');
	write_line(&o->line);
}

/* Set the widths from the header and the held rows, then print them. */
static void
release_table(struct out *o)
{
	size_t n = flat_ncols(o->flat), i, r, w;
	char **names = ecalloc(n, sizeof(*names)), **row;

	o->width = ecalloc(o->ncols + 1, sizeof(*o->width));
	for (i = 0; i < n; i++)
		names[i] = (char *)flat_colname(o->flat, i);
	for (i = 0; i < o->ncols; i++)
		o->width[i] = strlen(names[o->cols[i]]);
	for (r = 0; r < o->nheld; r++) {
		row = o->held + r * n;
		for (i = 0; i < o->ncols; i++) {
			w = row[o->cols[i]] ? strlen(row[o->cols[i]]) : 0;
			if (w > o->width[i])
				o->width[i] = w;
		}
	}
	print_table_row(o, names, 1);
	for (r = 0; r < o->nheld; r++) {
		row = o->held + r * n;
		print_table_row(o, row, 0);
		for (i = 0; i < n; i++)
			free(row[i]);
	}
	free(o->held);
	o->held = NULL;
	o->nheld = 0;
	o->widths_set = 1;
	free(names);
}

static void
hold_row(struct out *o, char *const *cells)
{
	size_t n = flat_ncols(o->flat), i;
	char **row;

	o->held = erealloc(o->held, (o->nheld + 1) * n * sizeof(*o->held));
	row = o->held + o->nheld++ * n;
	for (i = 0; i < n; i++)
		row[i] = cells[i] ? table_text(cells[i]) : NULL;
	if (o->nheld == TABLE_SAMPLE)
		release_table(o);
}

/* Set up the output for the stream's schema, at its first record. */
static void
start_output(struct out *o, struct src *src, const char *columns)
{
	const char *text = src_schema_text(src), *why;
	size_t i;

	if (o->format == F_AVRO) {
		o->sink = sink_open(NULL, text);
		return;
	}
	if ((o->flat = flat_new(text, &why)) == NULL)
		errx(1, "writer schema: %s", why);
	select_columns(o, columns);
	/* A table is for reading: ten digits say all a person needs. */
	if (o->format == F_TABLE)
		flat_set_digits(o->flat, 10);
	if (o->format != F_CSV)
		return;
	for (i = 0; i < o->ncols; i++) {
		if (i)
			buf_addc(&o->line, ',');
		add_csv_cell(&o->line, flat_colname(o->flat, o->cols[i]));
	}
	buf_addc(&o->line, '\n');
	write_line(&o->line);
}

/*
 * The selected columns of v as one JSON object, keyed by column name:
 * numbers and booleans as such, times as ISO 8601 text (as in csv), null
 * as null.
 */
static void
put_json_columns(struct out *o, avro_value_t *v)
{
	char *const *cells = flat_row(o->flat, v);
	const char *s;
	double x;
	size_t i, c;
	json_t *j;

	buf_addc(&o->line, '{');
	for (i = 0; i < o->ncols; i++) {
		c = o->cols[i];
		s = cells[c];
		if (i)
			buf_addc(&o->line, ',');
		j = json_string(flat_colname(o->flat, c));
		add_json(&o->line, j);
		buf_addc(&o->line, ':');
		if (s == NULL)
			buf_add(&o->line, "null", 4);
		else if (flat_valtype(o->flat, c) != FLAT_TEXT &&
		    flat_coltime(o->flat, c) == FLAT_NOT_TIME &&
		    (parse_double(s, &x) == 0 || strcmp(s, "true") == 0 ||
		    strcmp(s, "false") == 0))
			buf_add(&o->line, s, strlen(s));
		else {
			/* Text, a time, or a NaN (no JSON number). */
			j = json_string(s);
			add_json(&o->line, j);
		}
	}
	buf_add(&o->line, "}\n", 2);
}

static void
put_record(struct out *o, avro_value_t *v)
{
	char *const *cells;
	size_t i;

	switch (o->format) {
	case F_AVRO:
		sink_put(o->sink, v, NULL, 0);
		return;
	case F_JSON:
		if (o->selected)
			put_json_columns(o, v);
		else
			flat_json(o->flat, v, &o->line);
		write_line(&o->line);
		break;
	case F_CSV:
		cells = flat_row(o->flat, v);
		for (i = 0; i < o->ncols; i++) {
			if (i)
				buf_addc(&o->line, ',');
			add_csv_cell(&o->line, cells[o->cols[i]]);
		}
		buf_addc(&o->line, '\n');
		write_line(&o->line);
		break;
	case F_TABLE:
		cells = flat_row(o->flat, v);
		if (o->widths_set)
			print_table_row(o, cells, 0);
		else
			hold_row(o, cells);
		break;
	}
	run_tally.written++;
}

static void
finish_output(struct out *o)
{
	if (o->format == F_TABLE && o->flat != NULL && !o->widths_set)
		release_table(o);
	sink_close(o->sink);
	flat_free(o->flat);
	free(o->cols);
	free(o->width);
	buf_free(&o->line);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "columns",	required_argument, NULL, 'C' },
		{ "on-error",	required_argument, NULL, 'e' },
		{ "format",	required_argument, NULL, 'f' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "reencode",	no_argument,	   NULL, 'R' },
		{ "schema",	no_argument,	   NULL, 'W' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct out o = { 0 };
	struct src *src;
	struct rec *r;
	const char *columns = NULL;
	int c, show_schema = 0, verbose = 0, started = 0, rc, status;
	int reencode = 0;
	double t0 = now_seconds();

	while ((c = getopt_long(argc, argv, "C:e:f:hRvW" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			columns = optarg;
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				o.format = F_JSON;
			else if (strcmp(optarg, "csv") == 0)
				o.format = F_CSV;
			else if (strcmp(optarg, "table") == 0)
				o.format = F_TABLE;
			else if (strcmp(optarg, "avro") == 0)
				o.format = F_AVRO;
			else {
				warnx("-f: unknown format %s", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'R':
			reencode = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'W':
			show_schema = 1;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (columns != NULL && o.format == F_AVRO) {
		warnx("-C: not with -f avro, which passes whole records on");
		usage(stderr);
		return 2;
	}
	if (kafka_output() && o.format != F_AVRO) {
		warnx("-T: a topic takes records: use -f avro");
		usage(stderr);
		return 2;
	}
	run_init();
	src = src_open(argv + optind, argc - optind, NULL);
	/* Avro out in the same schema: pass the checked encoding on. */
	if (o.format == F_AVRO && !reencode)
		src_lazy(src);
	while ((rc = src_next(src, &r)) > 0) {
		if (show_schema)
			break;
		if (!started) {
			start_output(&o, src, columns);
			started = 1;
		}
		if (o.format == F_AVRO && !reencode && r->same_schema)
			sink_put_rec(o.sink, r);
		else if (src_value(src, r) != NULL)
			put_record(&o, r->value);
		src_ack(src, r);
	}
	if (show_schema && src_schema_text(src) != NULL)
		printf("%s\n", src_schema_text(src));
	else if (!started && o.format == F_AVRO && src_schema_text(src))
		start_output(&o, src, columns);
	finish_output(&o);
	src_close(src);
	schema_cleanup();
	/* Last, as it exits on a write error: everything is freed by then. */
	fshut(stdout, "stdout");
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", run_tally.read / (now_seconds() - t0));
	return rc < 0 ? 1 : status;
}
