/*
 * csv.c: an RFC 4180 reader.  One pass per record over the bytes from
 * getc_unlocked(), a small state machine deciding what each byte is.
 * The raw bytes and the decoded fields go to two buffers that grow as
 * needed and are reused for every record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csv.h"
#include "lib/util.h"

enum csv_state {
	ST_START,	/* at the start of a field */
	ST_BARE,	/* inside an unquoted field */
	ST_QUOTED,	/* inside a quoted field */
	ST_QUOTE,	/* just after a quote inside a quoted field */
	ST_QUOTE_CR,	/* a CR after the closing quote */
	ST_SKIP		/* after an error: to the end of the line */
};

struct csv_reader {
	FILE	*fp;
	char	*name;
	char	*raw;		/* the record as read */
	size_t	 rawlen, rawcap;
	char	*fbuf;		/* the fields, each NUL-terminated */
	size_t	 fcap;
	size_t	*off;		/* where each field starts in fbuf */
	char	**fields;
	size_t	 fieldcap;
	long	 line;		/* where the last record began */
	long	 nextline;	/* the line the stream is on */
	int	 started;
	int	 eof;
	int	 pend[3];	/* bytes read while looking for a BOM */
	int	 npend;
	const char *err;
	char	 errbuf[64];
};

static const char err_nul[] = "NUL byte in input";
static const char err_bare[] = "quote inside unquoted field";
static const char err_after[] = "character after closing quote";
static const char err_open[] = "unterminated quoted field";

struct csv_reader *
csv_open(FILE *fp, const char *name)
{
	struct csv_reader *r = ecalloc(1, sizeof(*r));

	r->fp = fp;
	r->name = estrdup(name);
	r->rawcap = 256;
	r->raw = emalloc(r->rawcap);
	r->raw[0] = '\0';
	r->fcap = 256;
	r->fbuf = emalloc(r->fcap);
	r->fieldcap = 16;
	r->off = ecalloc(r->fieldcap, sizeof(*r->off));
	r->fields = ecalloc(r->fieldcap, sizeof(*r->fields));
	r->nextline = 1;
	return r;
}

void
csv_close(struct csv_reader *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->raw);
	free(r->fbuf);
	free(r->off);
	free(r->fields);
	free(r);
}

/* Grow *p to hold at least need bytes. */
static char *
grow(char *p, size_t *cap, size_t need)
{
	while (*cap < need)
		*cap *= 2;
	return erealloc(p, *cap);
}

static void
grow_fields(struct csv_reader *r)
{
	r->fieldcap *= 2;
	r->off = erealloc(r->off, r->fieldcap * sizeof(*r->off));
	r->fields = erealloc(r->fields, r->fieldcap * sizeof(*r->fields));
}

/*
 * Consume a UTF-8 byte order mark at the start of the stream.  Bytes
 * that only began like one are kept in pend[], last byte first.
 */
static void
skip_bom(struct csv_reader *r)
{
	static const unsigned char bom[] = { 0xef, 0xbb, 0xbf };
	int got[3], c;
	size_t i, n;

	r->started = 1;
	for (n = 0; n < sizeof(bom); n++) {
		c = getc_unlocked(r->fp);
		if (c == EOF)
			break;
		got[n] = c;
		if (c != bom[n]) {
			n++;
			break;
		}
	}
	if (n == sizeof(bom) && got[2] == bom[2])
		return;
	for (i = 0; i < n; i++)
		r->pend[r->npend++] = got[n - 1 - i];
}

static void
set_error(struct csv_reader *r, const char *why)
{
	if (r->err == NULL)
		r->err = why;
}

int
csv_next(struct csv_reader *r, char ***fields)
{
	FILE *fp = r->fp;
	char *raw = r->raw, *fb = r->fbuf;
	size_t rawlen = 0, rawcap = r->rawcap, fcap = r->fcap;
	size_t flen = 0, fstart = 0, nf = 0, i;
	enum csv_state st = ST_START;
	int c = EOF, any = 0, toolong = 0;
	long line = r->line;

	*fields = NULL;
	r->err = NULL;
	r->rawlen = 0;
	raw[0] = '\0';
	if (r->eof)
		return 0;
	r->line = r->nextline;
	flockfile(fp);
	if (!r->started)
		skip_bom(r);
	for (;;) {
		if (r->npend > 0)
			c = r->pend[--r->npend];
		else
			c = getc_unlocked(fp);
		if (c == EOF)
			break;
		any = 1;
		if (c == '\n') {
			r->nextline++;
			if (st != ST_QUOTED)
				break;
		}
		/*
		 * One byte more than the limit may be a CR that the
		 * newline will strip; two more is too long for sure.
		 */
		if (rawlen > CSV_MAX_RECORD) {
			if (!toolong) {
				toolong = 1;
				snprintf(r->errbuf, sizeof(r->errbuf),
				    "record longer than %d bytes",
				    CSV_MAX_RECORD);
				set_error(r, r->errbuf);
				st = ST_SKIP;
			}
			if (c == '\n')
				break;
			continue;
		}
		if (rawlen + 2 > rawcap)
			raw = grow(raw, &rawcap, rawlen + 2);
		raw[rawlen++] = (char)c;
		if (st == ST_SKIP)
			continue;
		/* A byte and a NUL, or two NULs ending fields. */
		if (flen + 2 > fcap)
			fb = grow(fb, &fcap, flen + 2);
		if (c == '\0') {
			set_error(r, err_nul);
			continue;
		}
		switch (st) {
		case ST_START:
			if (c == '"') {
				st = ST_QUOTED;
				break;
			}
			st = ST_BARE;
			/* FALLTHROUGH */
		case ST_BARE:
			if (c == ',')
				goto endfield;
			if (c == '"') {
				set_error(r, err_bare);
				st = ST_SKIP;
				break;
			}
			fb[flen++] = (char)c;
			break;
		case ST_QUOTED:
			if (c == '"')
				st = ST_QUOTE;
			else
				fb[flen++] = (char)c;
			break;
		case ST_QUOTE:
			if (c == '"') {
				fb[flen++] = '"';
				st = ST_QUOTED;
			} else if (c == ',')
				goto endfield;
			else if (c == '\r')
				st = ST_QUOTE_CR;
			else {
				set_error(r, err_after);
				st = ST_SKIP;
			}
			break;
		case ST_QUOTE_CR:
			/* Only a newline may follow; it ends the loop. */
			set_error(r, err_after);
			st = ST_SKIP;
			break;
		case ST_SKIP:
			break;
		}
		continue;
endfield:
		if (nf == r->fieldcap)
			grow_fields(r);
		r->off[nf++] = fstart;
		fb[flen++] = '\0';
		fstart = flen;
		st = ST_START;
	}

	if (c == EOF) {
		r->eof = 1;
		if (ferror(fp)) {
			snprintf(r->errbuf, sizeof(r->errbuf),
			    "read error: %s", strerror(errno));
			r->err = r->errbuf;
		} else if (!any) {
			/* No record: csv_line() stays on the last one. */
			r->line = line;
			funlockfile(fp);
			return 0;
		} else if (st == ST_QUOTED)
			set_error(r, err_open);
		else if (st == ST_QUOTE_CR)
			set_error(r, err_after);
	} else {
		/* The newline ended the record: drop the CR of a CR LF. */
		if (st == ST_BARE && flen > fstart && fb[flen - 1] == '\r') {
			flen--;
			rawlen--;
		} else if ((st == ST_QUOTE_CR || st == ST_SKIP) &&
		    rawlen > 0 && raw[rawlen - 1] == '\r')
			rawlen--;
	}
	if (rawlen > CSV_MAX_RECORD) {
		if (r->err == NULL)
			snprintf(r->errbuf, sizeof(r->errbuf),
			    "record longer than %d bytes", CSV_MAX_RECORD);
		set_error(r, r->errbuf);
		rawlen = CSV_MAX_RECORD;
	}
	raw[rawlen] = '\0';
	r->raw = raw;
	r->rawcap = rawcap;
	r->rawlen = rawlen;
	r->fbuf = fb;
	r->fcap = fcap;
	funlockfile(fp);
	if (r->err != NULL)
		return -1;

	if (nf == r->fieldcap)
		grow_fields(r);
	r->off[nf++] = fstart;
	fb[flen] = '\0';
	for (i = 0; i < nf; i++)
		r->fields[i] = fb + r->off[i];
	*fields = r->fields;
	return (int)nf;
}

long
csv_line(const struct csv_reader *r)
{
	return r->line;
}

const char *
csv_raw(const struct csv_reader *r, size_t *len)
{
	if (len != NULL)
		*len = r->rawlen;
	return r->raw;
}

const char *
csv_error(const struct csv_reader *r)
{
	return r->err != NULL ? r->err : "no error";
}

const char *
csv_name(const struct csv_reader *r)
{
	return r->name;
}
