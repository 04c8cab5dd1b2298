# amp2ph: move Amplitude's event history into PostHog.
#
#   make                  build every program into build/
#   make SANITIZE=1       the same with ASan+UBSan into build/san/
#   make check            install missing packages, build, run all tests
#                         (plain build, then the sanitizer build)
#   make demo             the main job end to end on sample data
#   make bench            scripts/bench
#   make fuzz             run each libFuzzer target (FUZZ_SECONDS=60)
#   make sdk-parity       re-record the real SDKs in Chromium, then compare
#   make install          PREFIX=/usr/local DESTDIR=

VERSION	= 0.1.0
PREFIX	= /usr/local
BINDIR	= $(PREFIX)/bin
MANDIR	= $(PREFIX)/share/man/man1

CC	= cc
OPT	= -O2
CFLAGS	= $(OPT) -g -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter
CPPFLAGS = -D_GNU_SOURCE -DAMP2PH_VERSION='"$(VERSION)"' -Icommon
LDLIBS	= -lz -ldeflate -lyajl -lcurl -lsqlite3 -ljq -luuid -lm -lpthread

BUILD	= build
ifeq ($(SANITIZE),1)
BUILD	= build/san
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

PROGS	= amp-export amp-unpack amp-convert ph-alias ph-batch ph-verify ph-report
TOOLS	= amp-sample sink
# common/, one concern a module, by layer.  Foundations: libc and libuuid.
BASE	= buf \
	  cli \
	  hours \
	  natsort \
	  outfile \
	  period \
	  retry \
	  secret \
	  stop \
	  timestamp \
	  utf8 \
	  uuid \
	  uuidset \
	  xalloc
# Each external library behind exactly one module.
WRAPS	= gunzip \
	  gzmem \
	  gzpool \
	  http \
	  jqprog \
	  journal \
	  json \
	  zip
# The contracts between programs (each header says who writes, who reads).
FORMATS	= ampevent \
	  jsonw \
	  lines \
	  phevent \
	  receipt \
	  rejects \
	  settle \
	  stage \
	  verifysum
# What the programs know of the world and show of it.
DOMAIN	= country \
	  distinct \
	  htmlw \
	  iso3166 \
	  keyset \
	  phapi \
	  progress \
	  src \
	  svgchart
COMMON	= $(BASE) $(WRAPS) $(FORMATS) $(DOMAIN)
COMMON_OBJ = $(COMMON:%=$(BUILD)/common/%.o)
HEADERS	= $(wildcard common/*.h)

all: $(PROGS:%=$(BUILD)/%) $(TOOLS:%=$(BUILD)/%)

$(BUILD)/common/%.o: common/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/cmd/%.o: cmd/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libamp2ph.a: $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $(COMMON_OBJ)

# ph-report and amp-convert are folders, a file per concern around the
# program's own header (report.h, convert.h).
FOLDERS	= amp-convert ph-report
PH_REPORT_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/ph-report/*.c))
AMP_CONVERT_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/amp-convert/*.c))

$(BUILD)/cmd/ph-report/%.o: cmd/ph-report/%.c \
	    $(wildcard cmd/ph-report/*.h) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/cmd/amp-convert/%.o: cmd/amp-convert/%.c \
	    $(wildcard cmd/amp-convert/*.h) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(filter-out $(FOLDERS:%=$(BUILD)/%),$(PROGS:%=$(BUILD)/%)): $(BUILD)/%: \
	    $(BUILD)/cmd/%.o $(BUILD)/libamp2ph.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libamp2ph.a $(LDLIBS)

$(BUILD)/ph-report: $(PH_REPORT_OBJ) $(BUILD)/libamp2ph.a
	$(CC) $(LDFLAGS) -o $@ $(PH_REPORT_OBJ) $(BUILD)/libamp2ph.a $(LDLIBS)

$(BUILD)/amp-convert: $(AMP_CONVERT_OBJ) $(BUILD)/libamp2ph.a
	$(CC) $(LDFLAGS) -o $@ $(AMP_CONVERT_OBJ) $(BUILD)/libamp2ph.a $(LDLIBS)

# The sample-export generator is a test and benchmark tool, not installed.
$(BUILD)/amp-sample: scripts/amp-sample.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ scripts/amp-sample.c -lz -lpthread

# The capture sink of scripts/bench: a benchmark tool, not installed.
$(BUILD)/sink: scripts/sink.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ scripts/sink.c -ldeflate

deps:
	scripts/install-deps

check: deps
	$(MAKE) all
	$(MAKE) SANITIZE=1 all
	tests/run

demo: deps
	$(MAKE) all
	scripts/demo

bench: deps
	$(MAKE) all
	scripts/bench

# Re-record one browser session of the real Amplitude SDK and posthog-js
# (tests/sdk/README), then print the parity table of amp-convert against
# it.  make check runs the comparison on the committed recording only.
sdk-parity: all
	scripts/install-deps sdk
	cd tests/sdk && npm ci --no-audit --no-fund && ./record.sh && \
	    AMP2PH_BUILD=$(BUILD) python3 parity.py

# libFuzzer targets (clang): FUZZ_SECONDS each; crashes are kept.
FUZZ_SECONDS = 60
fuzz:
	scripts/fuzz $(FUZZ_SECONDS)

lint:
	mandoc -Tlint -W warning man/*.1

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)
	for p in $(PROGS); do \
		cp $(BUILD)/$$p $(DESTDIR)$(BINDIR)/$$p && \
		chmod 755 $(DESTDIR)$(BINDIR)/$$p && \
		cp man/$$p.1 $(DESTDIR)$(MANDIR)/$$p.1 && \
		chmod 644 $(DESTDIR)$(MANDIR)/$$p.1 || exit 1; \
	done

uninstall:
	for p in $(PROGS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$p $(DESTDIR)$(MANDIR)/$$p.1; \
	done

clean:
	rm -rf build

.PHONY: all deps check demo bench fuzz lint install uninstall clean sdk-parity
