# Builds and installs polysock as a C library, the way a distribution
# packages one:
#
#   make                                   # build into target/dist/lib
#   make install PREFIX=/usr DESTDIR=/tmp/pkg
#   make uninstall PREFIX=/usr DESTDIR=/tmp/pkg
#   make docs                              # target/apiref/index.html
#
# Installs include/polysock.h, lib/libpolysock.so.X.Y.Z with the links
# libpolysock.so.X (its SONAME) and libpolysock.so, lib/libpolysock.a, and
# lib/pkgconfig/polysock.pc. The version comes from Cargo.toml.
#
# cargo builds the static library with the `dist` profile (the release
# profile: LTO, one codegen unit); the shared library is linked from it
# here, with polysock.map as its only version script, because rustc gives
# every cdylib a version script of its own and linkers do not combine two.

PREFIX       ?= /usr/local
EXEC_PREFIX  ?= $(PREFIX)
LIBDIR       ?= $(EXEC_PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=

CARGO   ?= cargo
PYTHON3 ?= python3
STRIP   ?= strip
INSTALL ?= install
LN_S    ?= ln -sf

# `make` imports CC=cc by default; the environment's CC wins.
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
DIST       := $(TARGET_DIR)/dist
OUT        := $(DIST)/lib

cargo_field = $(shell sed -n '/^\[package\]/,/^\[/s/^$(1) *= *"\([^"]*\)".*/\1/p' Cargo.toml)
VERSION     := $(call cargo_field,version)
DESCRIPTION := $(call cargo_field,description)
MAJOR       := $(firstword $(subst ., ,$(VERSION)))
SONAME      := libpolysock.so.$(MAJOR)
REALNAME    := libpolysock.so.$(VERSION)

ifeq ($(VERSION),)
$(error no version found in Cargo.toml)
endif

.PHONY: all install uninstall docs clean-dist
all: $(OUT)/$(REALNAME) $(OUT)/libpolysock.a

# cargo's dep-info names every source file the static library was built
# from, so make rebuilds exactly when cargo would.
-include $(DIST)/libpolysock.d
# A source file that has since gone away means: rebuild (not an error).
%.rs: ;

# The libraries a static link needs besides libpolysock.a, as rustc reports
# them (cargo replays the note when nothing had to be rebuilt).
$(DIST)/libpolysock.a: Cargo.toml Cargo.lock build.rs cbindgen.toml
	@mkdir -p $(DIST)
	$(CARGO) rustc --profile dist --lib --crate-type staticlib --target-dir $(TARGET_DIR) \
	    -- --print native-static-libs 2>$(DIST)/cargo.log; \
	    status=$$?; cat $(DIST)/cargo.log >&2; exit $$status
	sed -n 's/^note: native-static-libs: //p' $(DIST)/cargo.log > $(DIST)/native-static-libs
	@test -s $(DIST)/native-static-libs || \
	    { echo "rustc did not report native-static-libs" >&2; rm -f $@; exit 1; }
	@touch $@

$(OUT)/libpolysock.a: $(DIST)/libpolysock.a
	@mkdir -p $(OUT)
	$(STRIP) --strip-debug -o $@ $<

# --whole-archive keeps every export; the version script then hides all
# but polysock_* and --gc-sections drops what nothing reaches.
$(OUT)/$(REALNAME): $(DIST)/libpolysock.a polysock.map
	@mkdir -p $(OUT)
	$(CC) -shared -o $@ -Wl,-soname,$(SONAME) -Wl,--version-script=polysock.map \
	    -Wl,--no-undefined -Wl,--gc-sections -Wl,--strip-debug -Wl,-z,relro,-z,now -Wl,-O1 \
	    $(LDFLAGS) -Wl,--whole-archive $< -Wl,--no-whole-archive \
	    $$(cat $(DIST)/native-static-libs)
	$(LN_S) $(REALNAME) $(OUT)/$(SONAME)
	$(LN_S) $(REALNAME) $(OUT)/libpolysock.so

# ${prefix}-relative paths where they lie under PREFIX, so the .pc file
# stays right when the tree is moved or read through a sysroot.
pc_path = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}$(patsubst $(PREFIX)%,%,$(1)),$(1))

install: all
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 $(DIST)/include/polysock.h $(DESTDIR)$(INCLUDEDIR)/polysock.h
	$(INSTALL) -m 644 $(OUT)/libpolysock.a $(DESTDIR)$(LIBDIR)/libpolysock.a
	$(INSTALL) -m 755 $(OUT)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	$(LN_S) $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(LN_S) $(REALNAME) $(DESTDIR)$(LIBDIR)/libpolysock.so
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@DESCRIPTION@|$(DESCRIPTION)|' \
	    -e "s|@LIBS_PRIVATE@|$$(cat $(DIST)/native-static-libs)|" \
	    polysock.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/polysock.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/polysock.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/polysock.h \
	    $(DESTDIR)$(LIBDIR)/libpolysock.a \
	    $(DESTDIR)$(LIBDIR)/$(REALNAME) \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libpolysock.so \
	    $(DESTDIR)$(PKGCONFIGDIR)/polysock.pc

# The C API reference, from include/polysock.h and README.md; fails on any
# warning (an undocumented or ungrouped function, a stale README name).
docs:
	$(PYTHON3) docs/apiref.py --out $(TARGET_DIR)/apiref

clean-dist:
	rm -rf $(DIST)
