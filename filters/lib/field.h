/*
 * field.h: a field a stage reads, by name and by the type it reads it as
 * ('s' string, 'i' int, 'l' long, 'd' double, 'b' boolean; 'L', 'D',
 * 'S' nullable long, double, string: see field_pos() in lib/append.h).
 * A filter keeps one table of them, indexed by its enum of fields, so a
 * field's name and type are written once, side by side.
 */
#ifndef CV_FIELD_H
#define CV_FIELD_H

struct field {
	const char	*name;
	int		 type;
};

#endif
