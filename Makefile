# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# redeploy - one plain Makefile.  `make` builds the programs, `make check`
# installs missing Debian packages, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs every test.

CC	?= cc
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SHAREDIR ?= $(PREFIX)/share/redeploy
DESTDIR	?=
O	?= build

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
ifneq ($(SAN),)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

PKG_CONFIG ?= pkg-config
HOOK_PKGS = libgit2 inih libcurl jansson
# libcurl's headers only: the hook dlopens it when it calls the agent.
HOOK_LINK_PKGS = libgit2 inih jansson
AGENT_PKGS = libmicrohttpd jansson inih
TEST_PKGS = cmocka inih
pkgcflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkglibs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

CPPFLAGS += -D_GNU_SOURCE -Icommon -Iconf
ALL_CFLAGS = $(WARNINGS) $(CFLAGS)

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
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkglibs,$(HOOK_LINK_PKGS)) -lpthread -ldl

$(AGENT_BIN): $(AGENT_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkglibs,$(AGENT_PKGS))

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(call pkgcflags,$(HOOK_PKGS) $(AGENT_PKGS)) \
		$(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Unit tests link the module they test; hook modules come in through
# the hook objects minus main.
HOOK_LIB_OBJ = $(filter-out $(O)/hook/main.o,$(HOOK_OBJ))
AGENT_LIB_OBJ = $(filter-out $(O)/agent/main.o,$(AGENT_OBJ))
$(O)/tests/%: tests/unit/%.c $(COMMON_OBJ) $(HOOK_LIB_OBJ) $(AGENT_LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ihook -Iagent $(call pkgcflags,$(TEST_PKGS)) \
		$(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ \
		$(call pkglibs,$(TEST_PKGS) $(HOOK_LINK_PKGS) $(AGENT_PKGS)) \
		-lpthread -ldl

units: $(UNIT_BIN)

SAN_O = build/san
check: deps
	$(MAKE) O=$(SAN_O) SAN=1 HOOK_BIN=$(SAN_O)/bin/redeploy \
		AGENT_BIN=$(SAN_O)/bin/redeployd \
		$(SAN_O)/bin/redeploy $(SAN_O)/bin/redeployd units
	O=$(SAN_O) REDEPLOY=$(CURDIR)/$(SAN_O)/bin/redeploy \
		REDEPLOYD=$(CURDIR)/$(SAN_O)/bin/redeployd tests/run

deps:
	scripts/deps

bench: all
	scripts/deps bench
	scripts/bench

demo: deps all
	scripts/demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/redeploy
	install -m 0755 $(HOOK_BIN) $(DESTDIR)$(BINDIR)/redeploy
	install -m 0755 $(AGENT_BIN) $(DESTDIR)$(SBINDIR)/redeployd
	install -m 0644 doc/redeploy.1 $(DESTDIR)$(MANDIR)/man1/redeploy.1
	install -m 0644 doc/redeploy.ini.5 $(DESTDIR)$(MANDIR)/man5/redeploy.ini.5
	install -m 0644 doc/redeployd.8 $(DESTDIR)$(MANDIR)/man8/redeployd.8
	install -d $(DESTDIR)$(SHAREDIR)
	install -m 0755 scripts/install-gitolite-hook scripts/setup-authbind \
		$(DESTDIR)$(SHAREDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/redeploy/redeploy.ini ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/redeploy/redeploy.ini"; \
	else \
		install -m 0644 conf/redeploy.ini \
			$(DESTDIR)$(SYSCONFDIR)/redeploy/redeploy.ini; \
	fi
# The unit and the init script name the installed redeployd.  An init
# script that is there already is the admin's: never overwritten.
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(SYSCONFDIR)/init.d
	sed 's|/usr/sbin/redeployd|$(SBINDIR)/redeployd|g' scripts/redeployd@.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/redeployd@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/redeployd@.service
	@init=$(DESTDIR)$(SYSCONFDIR)/init.d/redeployd; \
	sub='s|/usr/sbin/redeployd|$(SBINDIR)/redeployd|g'; \
	if [ ! -e $$init ]; then \
		echo "installing $$init"; \
		sed "$$sub" scripts/redeployd.init >$$init && chmod 0755 $$init; \
	elif ! sed "$$sub" scripts/redeployd.init | cmp -s - $$init; then \
		echo "keeping existing $$init (not ours, or changed:" \
			"compare it with scripts/redeployd.init)"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/redeploy $(DESTDIR)$(SBINDIR)/redeployd \
		$(DESTDIR)$(MANDIR)/man1/redeploy.1 \
		$(DESTDIR)$(MANDIR)/man5/redeploy.ini.5 \
		$(DESTDIR)$(MANDIR)/man8/redeployd.8 \
		$(DESTDIR)$(SHAREDIR)/install-gitolite-hook \
		$(DESTDIR)$(SHAREDIR)/setup-authbind
	-rmdir $(DESTDIR)$(SHAREDIR) 2>/dev/null
	@echo "left $(DESTDIR)$(SYSCONFDIR)/redeploy/redeploy.ini in place"
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/redeployd@.service
	@init=$(DESTDIR)$(SYSCONFDIR)/init.d/redeployd; \
	sub='s|/usr/sbin/redeployd|$(SBINDIR)/redeployd|g'; \
	if sed "$$sub" scripts/redeployd.init | cmp -s - $$init; then \
		rm -f $$init; \
	elif [ -e $$init ]; then \
		echo "left $$init in place (not ours, or changed)"; \
	fi

lint:
	shellcheck -x scripts/deps scripts/bench scripts/demo tests/run \
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

.PHONY: all check deps bench demo install uninstall lint clean units

-include $(shell find $(O) -name '*.d' 2>/dev/null)
