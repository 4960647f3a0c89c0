# cvpipe: one GNU Makefile, no recursion, no configure step.
# Adding filters/cv-foo.c, or a folder filters/cv-foo/ of .c files, adds the
# program cv-foo; adding tests/unit/test-foo.c adds a unit test; all without
# editing this file.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O3 -g
LIBS_PC = rdkafka avro-c gsl sqlite3 jansson
SERVE_PC = libmicrohttpd

# Install missing system packages before pkg-config is asked (fresh machine).
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists $(LIBS_PC) $(SERVE_PC) 2>/dev/null && \
    [ -f /usr/include/xgboost/c_api.h ] && echo ok),ok)
$(info cvpipe: libraries missing, running scripts/install-deps)
$(shell scripts/install-deps >&2)
endif
endif

WARN = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wformat=2 -Wmissing-prototypes -Wpointer-arith -Wno-unused-parameter \
	-Wvla -Werror=implicit-function-declaration
PC_CFLAGS := $(shell pkg-config --cflags $(LIBS_PC) $(SERVE_PC) 2>/dev/null)
PC_LIBS := $(shell pkg-config --libs $(LIBS_PC) 2>/dev/null) -lm
SERVE_LIBS := $(shell pkg-config --libs $(SERVE_PC) 2>/dev/null) -lpthread

ifdef SANITIZE
B = build/san
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B = build/rel
SANFLAGS =
endif

ALL_CFLAGS = $(WARN) $(PC_CFLAGS) -Ifilters -I$(B) $(CFLAGS) $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

PROGS_SRC = $(wildcard filters/cv-*.c)
PROG_DIRS = $(patsubst filters/%/,%,$(wildcard filters/cv-*/))
PROGS = $(PROGS_SRC:filters/%.c=$(B)/bin/%) $(PROG_DIRS:%=$(B)/bin/%)
PROG_OBJ = $(PROGS_SRC:filters/%.c=$(B)/%.o) \
	$(patsubst filters/%.c,$(B)/%.o,$(wildcard filters/cv-*/*.c))
LIB_SRC = $(wildcard filters/lib/*.c)
LIB_OBJ = $(LIB_SRC:filters/%.c=$(B)/%.o) $(B)/lib/schemas_embedded.o
UNIT_SRC = $(wildcard tests/unit/test-*.c)
UNITS = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
UNIT_OBJ = $(UNITS:%=%.o)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz-*.c)
SCHEMAS = $(wildcard schemas/*.avsc)

.PHONY: run-kafka all deps test test-san test-valgrind run serve bench fuzz fuzz-long install clean bin
# bin/ points at the release build, so scripts and README examples find the
# programs; a sanitizer build leaves it alone.
ifdef SANITIZE
all: $(PROGS) $(UNITS)
else
all: $(PROGS) $(UNITS) bin
endif

bin: $(PROGS)
	@[ "$$(readlink bin)" = $(B)/bin ] || { rm -f bin; ln -s $(B)/bin bin; }

$(B)/lib/schemas_embedded.c: $(SCHEMAS) scripts/embed-schemas
	@mkdir -p $(@D)
	scripts/embed-schemas $(SCHEMAS) > $@

$(B)/lib/%.o: $(B)/lib/%.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/%.o: filters/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libcv.a: $(LIB_OBJ)
	rm -f $@; ar rcs $@ $^

$(B)/bin/%: $(B)/%.o $(B)/libcv.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libcv.a $(PC_LIBS)

# A program that is a folder links the objects of all its files.
define folder_program
$(B)/bin/$(1): $(patsubst filters/%.c,$(B)/%.o,$(wildcard filters/$(1)/*.c)) \
    $(B)/libcv.a
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(B)/libcv.a $$(PC_LIBS)
endef
$(foreach p,$(PROG_DIRS),$(eval $(call folder_program,$(p))))

# cv-serve runs cv-features' record functions: it links the filter's
# objects but main.o (filters/cv-serve/features.c compiles main.c with
# main renamed), and libmicrohttpd.
$(B)/bin/cv-serve: $(filter-out $(B)/cv-features/main.o, \
    $(patsubst filters/%.c,$(B)/%.o,$(wildcard filters/cv-features/*.c)))
$(B)/bin/cv-serve: PC_LIBS += $(SERVE_LIBS)

# The boosted trees (filters/lib/gbm.c): XGBoost, Debian's libxgboost-dev,
# which has no pkg-config file.
GBM_LIBS = -lxgboost
$(B)/bin/cv-train $(B)/bin/cv-predict $(B)/bin/cv-serve: PC_LIBS += $(GBM_LIBS)

$(B)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c -o $@ $<

$(B)/tests/test-%: $(B)/tests/test-%.o $(B)/libcv.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libcv.a $(PC_LIBS)

# Tests and the demo need more than the build (python3-avro, numpy, ...).
deps:
	@scripts/install-deps

test: deps all
	tests/run $(B)

# The whole suite again under AddressSanitizer and UBSan, in build/san.
test-san: deps
	$(MAKE) SANITIZE=address,undefined all
	tests/run build/san

test-valgrind: all
	VALGRIND=1 tests/run $(B)

run: deps all
	pipelines/adhoc.sh

run-kafka: deps all
	pipelines/kafka.sh

# The valuation page and the dashboard on what make run left in out/.
LISTEN ?= 127.0.0.1:8080
serve: all
	@[ -f out/cvpipe.db ] || { echo "make serve: no out/cvpipe.db: run" \
	    "make run first" >&2; exit 1; }
	@echo "cv-serve on http://$(LISTEN)/ (Ctrl-C stops it)"
	$(B)/bin/cv-serve -l $(LISTEN) -S out/features.db \
	    -m out/book-models.db -d out/cvpipe.db -g pipelines/grade.conf \
	    -r pipelines/segments.csv -w pipelines/warn.conf

bench: all
	scripts/bench

fuzz:
	scripts/fuzz

# The long campaign (not in CI): each target to 10 million executions
# (FUZZ_RUNS), from the corpus the runs before kept in build/fuzz/; hours
# for the Avro reader, which parses a schema at every input.
fuzz-long:
	FUZZ_RUNS=$${FUZZ_RUNS:-10000000} scripts/fuzz

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/cvpipe/schemas \
		$(DESTDIR)$(PREFIX)/share/cvpipe/serve
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin
	for m in filters/*.1; do [ -e "$$m" ] && install -m 644 $$m \
		$(DESTDIR)$(PREFIX)/share/man/man1; done; true
	install -m 644 $(SCHEMAS) $(DESTDIR)$(PREFIX)/share/cvpipe/schemas
	install -m 644 filters/cv-serve/page/* \
		$(DESTDIR)$(PREFIX)/share/cvpipe/serve

clean:
	rm -rf build bin

# Objects made by a chain of pattern rules are intermediates, which make
# deletes; the next make, told by the .d files that they exist, rebuilt them.
.SECONDARY: $(PROG_OBJ) $(UNIT_OBJ) $(B)/lib/schemas_embedded.c

-include $(shell find $(B) -name '*.d' 2>/dev/null)
