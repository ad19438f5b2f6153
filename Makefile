# lanes: one binary per cmd/<tool>/, all linked against common/liblanes.a.
# `make` builds, `make check` runs every test and the lint, `make lint`, `make asan`,
# `make tsan`, `make bench`, `make install PREFIX=... DESTDIR=...`.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
BIN ?= bin
CC ?= cc
SAN ?=

# Debian packages the build and tests need; installed when missing (as root).
APT_BUILD = pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev \
	libsqlite3-dev libxml2-dev libpoppler-glib-dev libzip-dev libpq-dev
APT_TEST = jq sqlite3 shellcheck python3 util-linux procps time curl gnuplot-nox \
	zlib1g-dev groff qpdf pandoc poppler-utils libtasn1-doc postgresql postgresql-client
PKGS = libcurl libcjson yaml-0.1 sqlite3 libxml-2.0 poppler-glib libzip libpq

TOOLS := $(notdir $(wildcard cmd/*))
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/liblanes.a

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(SAN) \
	-Icommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/%)
FUZZ_SECONDS ?= 60
DOUBLE_SRC := $(wildcard tests/llmd/*.c)
DOUBLE_BIN := $(if $(DOUBLE_SRC),$(BUILD)/tests/llmd)

.PHONY: all deps test-deps check lint lint-build asan tsan fuzz soak bench run install uninstall clean
all: deps $(TOOLS:%=$(BIN)/%)

DEPS_STAMP := $(BUILD)/.deps
deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	@mkdir -p $(BUILD)
	@if ! pkg-config --exists $(PKGS) 2>/dev/null; then \
		echo "lanes: installing build dependencies: $(APT_BUILD)"; \
		tests/apt-install $(APT_BUILD); \
	fi
	@touch $@

test-deps: deps
	@tests/apt-install --missing $(APT_TEST)

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Per tool: its objects; main.o stays out of the unit tests. Flags and libraries
# are escaped ($$) so they are expanded when the tool is linked, after `deps`
# has installed the packages pkg-config asks about, not when make reads this.
define tool_rules
$(1)_SRC := $$(wildcard cmd/$(1)/*.c cmd/$(1)/*/*.c)
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/%.o)
$(1)_LIBOBJ := $$(filter-out $(BUILD)/cmd/$(1)/main.o,$$($(1)_OBJ))
$(BIN)/$(1): $$($(1)_OBJ) $(LIB)
	@mkdir -p $(BIN)
	$$(CC) $$(ALL_CFLAGS) -Icmd/$(1) -o $$@ $$($(1)_OBJ) $(LIB) $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rules,$(t))))

# tests/unit/test_<tool>_*.c also link that tool's objects.
tool_of = $(firstword $(foreach t,$(TOOLS),$(if $(filter test_$(t)_%,$(1)),$(t))))
$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(foreach t,$(TOOLS),$($(t)_LIBOBJ))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(foreach t,$(call tool_of,$*),-Icmd/$(t)) \
		-o $@ $< $(foreach t,$(call tool_of,$*),$($(t)_LIBOBJ)) $(LIB) $(LDLIBS)

# segment loads poppler-glib at its first PDF (dlopen): by its soname.
$(BUILD)/cmd/segment/segment_pdf.o: ALL_CFLAGS += -DPOPPLER_GLIB_SONAME='"$(shell \
	objdump -p $$(pkg-config --variable=libdir poppler-glib)/libpoppler-glib.so 2>/dev/null \
	| awk '/SONAME/ { print $$2 }')"'

# Fuzz targets of segment's readers as plain programs: tests/fuzz/replay.c
# replays the corpus (tests/fuzz/corpus/<target>/) in make check.
$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(segment_LIBOBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icmd/segment -o $@ $< tests/fuzz/replay.c $(segment_LIBOBJ) $(LIB) $(LDLIBS)

# The same targets under libFuzzer (clang), each run FUZZ_SECONDS on a copy
# of its corpus; a crash leaves its input in build/fuzz/<target>/.
fuzz: deps
	@mkdir -p $(BUILD)/fuzz
	@for t in $(FUZZ_SRC:tests/fuzz/%.c=%); do \
		clang -std=c11 -D_GNU_SOURCE -pthread -g -O1 -fsanitize=fuzzer,address,undefined \
			-Icommon -Icmd/segment $$(pkg-config --cflags $(PKGS)) -o $(BUILD)/fuzz/$$t \
			tests/fuzz/$$t.c $(filter-out cmd/segment/main.c,$(wildcard cmd/segment/*.c)) \
			$(COMMON_SRC) $$(pkg-config --libs $(PKGS)) -lm || exit 1; \
		mkdir -p $(BUILD)/fuzz/$${t}_corpus $(BUILD)/fuzz/$$t.crashes; \
		cp tests/fuzz/corpus/$${t#fuzz_}/* $(BUILD)/fuzz/$${t}_corpus/; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=200000 -rss_limit_mb=2048 \
			-artifact_prefix=$(BUILD)/fuzz/$$t.crashes/ $(BUILD)/fuzz/$${t}_corpus || exit 1; \
	done

$(BUILD)/tests/llmd: $(DOUBLE_SRC) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/llmd -o $@ $(DOUBLE_SRC) $(LIB) $(LDLIBS) -lz

check: all test-deps $(UNIT_BIN) $(DOUBLE_BIN) $(FUZZ_BIN)
	@LANES_BIN=$(abspath $(BIN)) LANES_BUILD=$(abspath $(BUILD)) \
		LANES_SANITIZER=$(LANES_SANITIZER) tests/run.sh

# What the style promises (tests/lint.sh): a -Werror build of everything,
# ShellCheck with .shellcheckrc, tests/lint-pipelines, tests/banned. make
# check runs it too, as its suite "lint" (not under the sanitizers).
lint: deps
	@LANES_BUILD=$(abspath $(BUILD)) tests/lint.sh

lint-build: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)/lint BIN=$(BUILD)/lint/bin SAN= \
		CFLAGS="-O2 -g -Werror" all $(UNIT_BIN:$(BUILD)/%=$(BUILD)/lint/%) \
		$(FUZZ_BIN:$(BUILD)/%=$(BUILD)/lint/%) \
		$(if $(DOUBLE_BIN),$(BUILD)/lint/tests/llmd)

asan: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan BIN=$(BUILD)/asan/bin \
		CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LANES_SANITIZER=asan check

tsan: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan BIN=$(BUILD)/tsan/bin \
		CFLAGS="-O1 -g" SAN="-fsanitize=thread" LANES_SANITIZER=tsan check

# The main job: the example documents into the store lanes.db (rerun: no
# work is redone). With an LLM server (llm.base_url, OLLAMA_HOST, ...) it
# mines and embeds with it; without one it asks for offline mode
# (--offline=auto: the hash embedder, no mining), which ingest.sh otherwise
# never falls back to.
RUN_DB ?= lanes.db
run: all
	@LANES_BIN=$(abspath $(BIN)) pipelines/ingest.sh --offline=auto --db $(RUN_DB) pipelines/examples/docs

# The long proof of issue 8 (not in check): SOAK_KILLS (200) random stops
# of ingest.sh runs against the double with 20-50% faults, then reruns.
soak: all $(DOUBLE_BIN)
	@LANES_BIN=$(abspath $(BIN)) LANES_BUILD=$(abspath $(BUILD)) tests/shell/soak_ingest.sh

bench: all $(DOUBLE_BIN)
	@LANES_BIN=$(abspath $(BIN)) LANES_BUILD=$(abspath $(BUILD)) tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
		$(DESTDIR)$(PREFIX)/share/lanes
	install -m 755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5
	$(if $(wildcard man/*.7),install -m 644 $(wildcard man/*.7) $(DESTDIR)$(PREFIX)/share/man/man7)
	cp -R pipelines/. $(DESTDIR)$(PREFIX)/share/lanes/

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(PREFIX)/bin/%)
	rm -rf $(DESTDIR)$(PREFIX)/share/lanes

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
