# polysock as a MicroPython user C module:
#   make -C $MICROPY_SRC/ports/unix USER_C_MODULES=<polysock>/bindings/micropython \
#        POLYSOCK_LIB=<dir of libpolysock.a> [POLYSOCK_INCLUDE=<dir of polysock.h>]
# POLYSOCK_LIB defaults to the repository's target/release (cargo build
# --release); libpolysock.a is linked in statically.
POLYSOCK_MOD_DIR := $(USERMOD_DIR)
POLYSOCK_LIB ?= $(POLYSOCK_MOD_DIR)/../../../target/release
POLYSOCK_INCLUDE ?= $(POLYSOCK_MOD_DIR)/../../../include

SRC_USERMOD_C += $(POLYSOCK_MOD_DIR)/modpolysock.c
CFLAGS_USERMOD += -I$(POLYSOCK_INCLUDE)
LDFLAGS_USERMOD += $(POLYSOCK_LIB)/libpolysock.a -lpthread -ldl -lm

# Relink when the library changes (the port's link rule knows only its
# own objects).
$(BUILD)/$(PROG): $(POLYSOCK_LIB)/libpolysock.a
