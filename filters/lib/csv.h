/*
 * csv.h: an RFC 4180 CSV reader over a stdio stream.
 *
 * Fields are separated by commas and records by LF or CR LF; the last
 * record may lack its newline.  A field in double quotes may hold
 * commas, newlines (kept as they are, CR LF included) and "" for one
 * quote.  A UTF-8 byte order mark at the start of the stream is
 * skipped.  A blank line is a record of one empty field; the caller
 * decides what that means.
 *
 * The reader is strict where RFC 4180 is: a quote inside an unquoted
 * field (12" wheels) or anything but a comma or newline after a closing
 * quote is an error, not guessed at.  So are NUL bytes, a quoted field
 * still open at end of input, and a record longer than CSV_MAX_RECORD
 * bytes.
 *
 * After an error the next csv_next() goes on with the following record,
 * so a caller may skip bad records: after a NUL byte the record is read
 * to its natural end; after a syntax error or an over-long record,
 * reading resumes after the end of the physical line in which the
 * error was found (even if that line ends inside quotes).  After an
 * unterminated quote or a read error, the next call returns 0.
 *
 * The stream is read with getc_unlocked(), never sought and never read
 * past the end of the current record, so pipes and terminals work and
 * an idle pipe delivers each record as soon as its newline arrives.
 */
#ifndef CV_CSV_H
#define CV_CSV_H

#include <stddef.h>
#include <stdio.h>

/* Longest record accepted, in bytes, not counting its newline. */
#define CSV_MAX_RECORD	(16 * 1024 * 1024)

struct csv_reader;

/*
 * Read CSV from fp, which stays the caller's to close.  name is copied
 * and is what csv_name() returns, for the caller's messages.
 */
struct csv_reader *csv_open(FILE *fp, const char *name);

/*
 * Read the next record.  Return its number of fields (>= 1) and point
 * *fields at that many NUL-terminated strings; return 0 at the end of
 * input and -1 on a bad record (csv_error() says why), with *fields
 * set to NULL in both cases.  The strings are valid until the next call.
 */
int	csv_next(struct csv_reader *, char ***fields);

/* The physical line (1-based) on which the last record began. */
long	csv_line(const struct csv_reader *);

/*
 * The bytes of the last record, or of the bad one after -1, without
 * its final newline (LF or CR LF), and their number in *len (len may
 * be NULL).  NUL-terminated, valid until the next call.  An over-long
 * record is cut to its first CSV_MAX_RECORD bytes.
 */
const char *csv_raw(const struct csv_reader *, size_t *len);

/* Why the last csv_next() returned -1: lowercase, no file or line. */
const char *csv_error(const struct csv_reader *);

/* The name given to csv_open(). */
const char *csv_name(const struct csv_reader *);

/* Free the reader, not its stream; csv_close(NULL) is a no-op. */
void	csv_close(struct csv_reader *);

#endif
