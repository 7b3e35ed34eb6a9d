# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# redeploy - one plain Makefile.  `make` builds the programs; `make test`
# builds with AddressSanitizer and UndefinedBehaviorSanitizer and runs every
# test, offline, installing nothing; `make check` installs missing Debian
# packages (scripts/deps) and then runs `make test`.  `make install` /
# `make uninstall` take PREFIX, SYSCONFDIR, RUNSTATEDIR, SYSTEMDUNITDIR and
# DESTDIR; debian/ builds the package with the same targets.

CC	?= cc
PKG_CONFIG ?= pkg-config
# The one version number: --version, the man pages and debian/changelog
# (tests/e2e/t0100-lint.sh checks that they agree).
VERSION	:= $(shell cat VERSION)

# Paths for packagers.  They go into the binaries' defaults (config and
# token file), the systemd units, the init script and the man pages.
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/redeploy
DOCDIR	?= $(PREFIX)/share/doc/redeploy
SYSCONFDIR ?= /etc
RUNSTATEDIR ?= /run
SYSTEMDUNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir \
	systemd 2>/dev/null || echo /lib/systemd/system)
DESTDIR	?=
O	?= build

# CFLAGS, CPPFLAGS and LDFLAGS are the builder's (dpkg-buildflags, the
# command line): they are added to the project's own flags below, never
# replace them.
CFLAGS	?= -O2 -g
WARNINGS = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2 \
	-Wno-unused-parameter
# Messages are bounded on purpose: a truncated path in an error line is
# better than an allocation on an error path.  (gcc only; clang lacks it.)
WARNINGS += $(shell $(CC) -Werror -Wno-format-truncation -E -x c /dev/null \
	>/dev/null 2>&1 && echo -Wno-format-truncation)
ifneq ($(CI),)
WARNINGS += -Werror
endif
SAN_CFLAGS =
SAN_LDFLAGS =
ifneq ($(SAN),)
SAN_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
SAN_LDFLAGS = -fsanitize=address,undefined
endif

HOOK_PKGS = libgit2 inih libcurl jansson
# libcurl's headers only: the hook dlopens it when it calls the agent.
HOOK_LINK_PKGS = libgit2 inih jansson
AGENT_PKGS = libmicrohttpd jansson inih
TEST_PKGS = cmocka inih
pkgcflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkglibs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

ALL_CPPFLAGS = -D_GNU_SOURCE -Icommon -Iconf \
	-DREDEPLOY_VERSION='"$(VERSION)"' \
	-DREDEPLOY_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-DREDEPLOY_RUNSTATEDIR='"$(RUNSTATEDIR)"' $(CPPFLAGS)
ALL_CFLAGS = $(WARNINGS) $(CFLAGS) $(SAN_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_LDFLAGS)

COMMON_SRC = common/log.c common/logfmt.c common/ids.c common/fsutil.c common/token.c conf/config.c \
	conf/value.c
HOOK_SRC = $(wildcard hook/*.c)
AGENT_SRC = $(wildcard agent/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)

COMMON_OBJ = $(COMMON_SRC:%.c=$(O)/%.o)
HOOK_OBJ = $(HOOK_SRC:%.c=$(O)/%.o)
AGENT_OBJ = $(AGENT_SRC:%.c=$(O)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)

HOOK_BIN ?= hook/redeploy
AGENT_BIN ?= agent/redeployd

all: $(HOOK_BIN) $(AGENT_BIN)

$(HOOK_BIN): $(HOOK_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(HOOK_LINK_PKGS)) -lpthread -ldl

$(AGENT_BIN): $(AGENT_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(AGENT_PKGS))

# Objects are rebuilt when the flags, paths or version change.
sq = $(subst ','\'',$(1))
FLAGS_LINE = $(call sq,$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS))
$(O)/build-flags: FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_LINE)' | cmp -s - $@ || echo '$(FLAGS_LINE)' >$@

$(O)/%.o: %.c $(O)/build-flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(call pkgcflags,$(HOOK_PKGS) $(AGENT_PKGS)) \
		$(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Unit tests link the module they test; hook modules come in through
# the hook objects minus main.
HOOK_LIB_OBJ = $(filter-out $(O)/hook/main.o,$(HOOK_OBJ))
AGENT_LIB_OBJ = $(filter-out $(O)/agent/main.o,$(AGENT_OBJ))
$(O)/tests/%: tests/unit/%.c $(COMMON_OBJ) $(HOOK_LIB_OBJ) $(AGENT_LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) -Ihook -Iagent $(call pkgcflags,$(TEST_PKGS)) \
		$(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter-out $(O)/build-flags,$^) \
		$(call pkglibs,$(TEST_PKGS) $(HOOK_LINK_PKGS) $(AGENT_PKGS)) \
		-lpthread -ldl

units: $(UNIT_BIN)

SAN_O = build/san
# make test: every test, offline, installing nothing (the sanitizer build).
# make check: the Debian packages it needs (scripts/deps), then make test.
test:
	$(MAKE) O=$(SAN_O) SAN=1 HOOK_BIN=$(SAN_O)/bin/redeploy \
		AGENT_BIN=$(SAN_O)/bin/redeployd \
		$(SAN_O)/bin/redeploy $(SAN_O)/bin/redeployd units
	O=$(SAN_O) REDEPLOY=$(CURDIR)/$(SAN_O)/bin/redeploy \
		REDEPLOYD=$(CURDIR)/$(SAN_O)/bin/redeployd tests/run

check: deps
	$(MAKE) test

deps:
	scripts/deps

# --- fuzzing: libFuzzer targets in fuzz/ (clang), seed corpora in
# fuzz/corpus/NAME.  `make fuzz` builds and runs each for FUZZ_TIME
# seconds; `make check` runs each for FUZZ_CHECK_TIME (t0150) when clang is there.
# New inputs go to $(FUZZ_O)/corpus/NAME, crashes to $(FUZZ_O)/artifacts.
FUZZ_CC	?= clang
FUZZ_O	?= build/fuzz
FUZZ_TIME ?= 60
FUZZ_CHECK_TIME ?= 30
FUZZ_TARGETS = http config refs answer
FUZZ_PKGS = libmicrohttpd jansson inih libcurl libgit2
FUZZ_CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
	-Wno-unused-parameter -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_ARGS = -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
fuzz_http_SRC = agent/http.c agent/httpcheck.c agent/loop.c agent/ring.c \
	agent/authbind.c
fuzz_config_SRC =
fuzz_refs_SRC = hook/refs.c
fuzz_answer_SRC = hook/ops.c hook/client.c hook/reconcile.c \
	hook/release.c hook/restart.c hook/crashpoint.c hook/tip.c hook/links.c \
	hook/repo.c
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_O)/fuzz_%)

$(FUZZ_O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(ALL_CPPFLAGS) -Iagent -Ihook $(call pkgcflags,$(FUZZ_PKGS)) \
		$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

define FUZZ_template
$(FUZZ_O)/fuzz_$(1): fuzz/fuzz_$(1).c $$(patsubst %.c,$(FUZZ_O)/obj/%.o,$$(fuzz_$(1)_SRC) $(COMMON_SRC))
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(ALL_CPPFLAGS) -Iagent -Ihook $$(call pkgcflags,$$(FUZZ_PKGS)) \
		$$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ \
		$$(call pkglibs,$$(FUZZ_PKGS)) -lpthread
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_template,$(t))))

fuzz-build: $(FUZZ_BINS)

# Each target in turn; a crash, leak or sanitizer report fails with the
# end of its log and the input that did it.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_O)/corpus/$$t $(FUZZ_O)/artifacts; \
		echo "fuzz_$$t: $(FUZZ_TIME) s (log: $(FUZZ_O)/$$t.log)"; \
		if ! $(FUZZ_O)/fuzz_$$t $(FUZZ_ARGS) \
			-max_total_time=$(FUZZ_TIME) \
			-artifact_prefix=$(abspath $(FUZZ_O))/artifacts/$$t- \
			$(FUZZ_O)/corpus/$$t fuzz/corpus/$$t \
			>$(FUZZ_O)/$$t.log 2>&1; then \
			tail -n 60 $(FUZZ_O)/$$t.log; \
			echo "fuzz_$$t FAILED: see $(FUZZ_O)/artifacts/"; \
			exit 1; \
		fi; \
		grep -h 'stat::number_of_executed_units' $(FUZZ_O)/$$t.log | \
			sed "s/^/  /"; \
	done

# `make test` (and so `make check`) runs each target for FUZZ_CHECK_TIME
# seconds as the suite tests/e2e/t0150-fuzz.sh, beside the other suites.
.PHONY: fuzz fuzz-build

bench: all
	scripts/deps bench
	scripts/bench

demo: deps all
	scripts/demo

# --- install: the files that carry paths are written with this
# installation's paths into $(O)/inst first. ---
SUBST = sed -e 's|/usr/sbin/redeployd|$(SBINDIR)/redeployd|g' \
	-e 's|/usr/bin/redeploy\>|$(BINDIR)/redeploy|g' \
	-e 's|/etc/redeploy|$(SYSCONFDIR)/redeploy|g' \
	-e 's|/etc/init\.d/redeployd|$(SYSCONFDIR)/init.d/redeployd|g' \
	-e 's|/run/redeploy|$(RUNSTATEDIR)/redeploy|g' \
	-e 's|/usr/share/doc/redeploy|$(DOCDIR)|g' \
	-e 's|/usr/share/redeploy|$(SHAREDIR)|g' \
	-e 's|/lib/systemd/system/redeployd|$(SYSTEMDUNITDIR)/redeployd|g' \
	-e 's|"redeploy [0-9][0-9.]*"|"redeploy $(VERSION)"|'
INST = $(O)/inst
INST_FILES = $(INST)/redeploy.1 $(INST)/redeploy.ini.5 $(INST)/redeployd.8 \
	$(INST)/redeployd@.service $(INST)/redeployd.service \
	$(INST)/redeployd.init
PATHS_LINE = $(call sq,$(SUBST))
$(INST)/paths: FORCE
	@mkdir -p $(@D)
	@echo '$(PATHS_LINE)' | cmp -s - $@ || echo '$(PATHS_LINE)' >$@
$(INST)/%: doc/% $(INST)/paths
	$(SUBST) $< >$@
$(INST)/%: scripts/% $(INST)/paths
	$(SUBST) $< >$@

# One line per directory and file: scripts/install-tree (d DIR, f MODE SRC
# DEST, k for a file the admin may change).  Directories install makes are
# recorded in the manifest, and uninstall removes them again when empty.
MANIFEST = $(DESTDIR)$(SHAREDIR)/installed
D = $(DESTDIR)
define INSTALL_LIST
d $(D)$(BINDIR)
d $(D)$(SBINDIR)
d $(D)$(MANDIR)
d $(D)$(MANDIR)/man1
d $(D)$(MANDIR)/man5
d $(D)$(MANDIR)/man8
d $(D)$(SHAREDIR)
d $(D)$(DOCDIR)
d $(D)$(DOCDIR)/examples
d $(D)$(SYSTEMDUNITDIR)
d $(D)$(SYSCONFDIR)/init.d
f 0755 $(HOOK_BIN) $(D)$(BINDIR)/redeploy
f 0755 $(AGENT_BIN) $(D)$(SBINDIR)/redeployd
f 0644 $(INST)/redeploy.1 $(D)$(MANDIR)/man1/redeploy.1
f 0644 $(INST)/redeploy.ini.5 $(D)$(MANDIR)/man5/redeploy.ini.5
f 0644 $(INST)/redeployd.8 $(D)$(MANDIR)/man8/redeployd.8
f 0755 scripts/install-gitolite-hook $(D)$(SHAREDIR)/install-gitolite-hook
f 0755 scripts/setup-authbind $(D)$(SHAREDIR)/setup-authbind
f 0644 conf/redeploy.ini $(D)$(DOCDIR)/examples/redeploy.ini
f 0644 README.md $(D)$(DOCDIR)/README.md
f 0644 INSTALL $(D)$(DOCDIR)/INSTALL
f 0644 NEWS $(D)$(DOCDIR)/NEWS
f 0644 $(INST)/redeployd@.service $(D)$(SYSTEMDUNITDIR)/redeployd@.service
f 0644 $(INST)/redeployd.service $(D)$(SYSTEMDUNITDIR)/redeployd.service
k 0755 $(INST)/redeployd.init $(D)$(SYSCONFDIR)/init.d/redeployd
endef
export INSTALL_LIST

install: all $(INST_FILES)
	@printf '%s\n' "$$INSTALL_LIST" | scripts/install-tree install $(MANIFEST)

uninstall: $(INST_FILES)
	@printf '%s\n' "$$INSTALL_LIST" | scripts/install-tree uninstall $(MANIFEST)

lint:
	shellcheck -x scripts/deps scripts/bench scripts/demo scripts/ci-package \
		scripts/install-tree tests/run \
		tests/e2e/*.sh .ci/run
	@for page in doc/*.[1-8]; do \
		out=$$(LC_ALL=C.UTF-8 groff -ww -man -Tutf8 $$page 2>&1 >/dev/null); \
		[ -z "$$out" ] || { echo "$$page: $$out"; exit 1; }; \
		if command -v mandoc >/dev/null; then \
			mandoc -T lint -W warning $$page || exit 1; \
		fi; \
	done

clean:
	rm -rf build $(HOOK_BIN) $(AGENT_BIN)

FORCE:
.PHONY: all test check deps bench demo install uninstall lint clean units FORCE

-include $(shell find $(O) -name '*.d' 2>/dev/null)
