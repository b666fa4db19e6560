# drlb: the README's two commands are `make demo` and `make test`.
#
#   make deps      install every package and pinned tool (idempotent)
#   make kernel    build (or reuse the cached) guest kernel
#   make -s kdir   print the kernel tree's path
#   make module    build drlb.ko against KDIR (default: the cached kernel)
#   make tools     build drlb-tool and vrrpd (release)
#   make test      host cargo tests, then every guest scenario (T=name for one)
#   make demo      boot the guest and show drlb balancing between two nginx

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
QT := $(TOP)/qemu-tests
ENV := . $(QT)/env.sh

.PHONY: all deps kernel kdir module tools test host-test guest-test demo clean

all: module tools

deps:
	@$(QT)/deps.sh

kernel: deps
	@$(QT)/kernel.sh build

kdir:
	@$(QT)/kernel.sh kdir

# KDIR may name any CONFIG_RUST 6.12 tree; by default it is the cached kernel.
KDIR ?=
module:
	@$(ENV); kdir="$(KDIR)"; [ -n "$$kdir" ] || { $(MAKE) -s kernel >&2 && kdir=$$($(QT)/kernel.sh kdir); }; \
	$(MAKE) -C "$$kdir" M=$(TOP) "$${KMAKE_VARS[@]}" modules

tools:
	cargo build --release --locked -p drlb-tool -p vrrpd

host-test:
	cargo test --locked --workspace

guest-test: module tools
	@$(QT)/run.sh $(if $(T),$(T))

# host tests first, then the guest scenarios; the last line is the combined count
test: deps
	@$(QT)/test.sh $(T)

demo: module tools
	@$(QT)/run.sh --demo

clean:
	@$(ENV); kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$($(QT)/kernel.sh kdir); \
	[ ! -d "$$kdir" ] || $(MAKE) -C "$$kdir" M=$(TOP) "$${KMAKE_VARS[@]}" clean
	cargo clean
