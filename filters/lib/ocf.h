/*
 * ocf.h: Avro object container framing over file descriptors.
 *
 * avro-c's own file reader reads ahead in 4 KiB chunks (a record waits in
 * a slow pipe), rejects concatenated files and its writer drops docs,
 * defaults and logical types from the header schema.  So the framing is
 * done here and avro-c only encodes and decodes values.
 *
 * The reader accepts several container files one after the other
 * (cat a.avro b.avro) and reports when a new header begins.  The writer
 * emits the header with its first block (so nothing goes out before a
 * record does), a block whenever 64 KiB of records are pending, when
 * ocf_flush() is called, and, through run_idle(), before any reader in
 * the process blocks on input.
 */
#ifndef CV_OCF_H
#define CV_OCF_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

struct ocf_reader;

/* Read from fd, called name in messages; fd is not closed by the reader. */
struct ocf_reader	*ocf_reader_open(int fd, const char *name);
void			 ocf_reader_close(struct ocf_reader *);

/*
 * Next block of records.  Returns 1 with *data, *len (encoded records,
 * valid until the next call) and *count set; 0 at the end of input; -1 on
 * bad input, with ocf_error() saying why.  After -1 the next call looks
 * for the next intact block (by sync marker) or header, so a caller may
 * go on.  *count records are lost with such a block; ocf_lost() says how
 * many when the block header could be read, else -1.
 */
int		 ocf_next_block(struct ocf_reader *, const char **data,
		    size_t *len, int64_t *count);
const char	*ocf_error(const struct ocf_reader *);
int64_t		 ocf_lost(const struct ocf_reader *);

/* Schema text of the current container header, and a counter that changes
 * each time a new header is read. */
const char	*ocf_schema_text(const struct ocf_reader *);
int		 ocf_header_seq(const struct ocf_reader *);
/* Blocks read so far (1-based number of the current block). */
int64_t		 ocf_block_no(const struct ocf_reader *);

struct ocf_writer;

/*
 * Write records of the schema given as JSON text (kept as written) to fd.
 * The header goes out with the first block; a writer is registered with
 * run_idle().  Never NULL.
 */
struct ocf_writer	*ocf_writer_open(int fd, const char *name,
			    const char *schema_text);
/* Encode one value into the pending block; -1 on a write error. */
int		 ocf_write_value(struct ocf_writer *, avro_value_t *);
/* Append already-encoded records (passthrough); -1 on a write error. */
int		 ocf_write_raw(struct ocf_writer *, const void *, size_t,
		    int64_t count);
/* Write the pending block, if any; -1 with errno on a write error. */
int		 ocf_flush(struct ocf_writer *);
/*
 * Flush, unregister and free; -1 if any write failed.  With no record
 * written, the header alone goes out if empty_stream (a valid stream of
 * no records), else nothing.  NULL is a no-op.
 */
int		 ocf_writer_close(struct ocf_writer *, int empty_stream);

/* Zig-zag varint helpers shared with single-object framing. */
size_t		 ocf_put_long(char *p, int64_t v);

#endif
