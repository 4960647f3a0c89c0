/*
 * segkey.h: the segment key of a vehicle, "make/model/trim" folded: lower
 * case, each run of anything but letters and digits one '-'.  cv-ingest
 * makes it for the records and cv-serve for a request, so that a vehicle
 * typed into the page lands in the segment its sales are in.
 */
#ifndef CV_SEGKEY_H
#define CV_SEGKEY_H

#include "util.h"

/*
 * Append the key of make, model and trim (model and trim may be NULL) to
 * b.  A level whose part comes out empty (a trim of "-") ends the key
 * there: never "make/model/" with nothing after the slash.  The make's
 * part may come out empty: the caller says what that means.
 */
void	segkey(struct buf *b, const char *make, const char *model,
	    const char *trim);

#endif
