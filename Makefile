# drlb: the README's two commands are `make demo` and `make test`.
#
#   make deps      install every package and pinned tool (idempotent)
#   make kernel    build (or reuse the cached) guest kernel
#   make -s kdir   print the kernel tree's path
#   make module    build drlb.ko against KDIR (default: the cached kernel)
#   make tools     build drlb-tool and vrrpd (release)
#   make test      host cargo tests, then every guest scenario (T=name for one)
#   make lifecycle the lifecycle scenario with 100 insmod/configure/traffic/rmmod
#                  cycles (DRLB_LIFECYCLE_CYCLES=N for another count)
#   make floods    the floods scenario with 60 s floods (FLOOD_SECONDS=N)
#   make demo      boot the guest and show drlb balancing between two nginx
#   make bench     drlb against IPVS-DR, plain forwarding and an ideal forwarder,
#                  on the bench kernel (no debug options) under QEMU -icount:
#                  results, table and plots in qemu-tests/out/bench-DATE/
#   make bench-kernel  build (or reuse the cached) bench kernel only
#   make bench-sync    only the bench's connection-sync throughput (sync.sh):
#                  the largest new-connection rate the standby follows within 1 s
#   make bench-smoke   the bench's arms for a few seconds on the test kernel
#                  (a scenario of make test too)
#   make fuzz      the genetlink fuzzer's long run: 100,000 messages as root and
#                  100,000 without CAP_NET_ADMIN (FUZZ_COUNT=N, FUZZ_SEED=S)
#   make fuzz-vrrp the advert parser's and receive checks' long fuzz run: 2,500,000
#                  cases of each of the 4 proptest targets, 10M executions
#                  (FUZZ_VRRP_CASES=N per target; `cargo test` runs 2,000)
#   make install   drlb-tool and vrrpd with their man pages (section 8), drlb-tool's
#                  completions, vrrpd's systemd unit, and drlb.ko through the
#                  kernel's modules_install (PREFIX=/usr/local, DESTDIR= for staging,
#                  UNITDIR=/lib/systemd/system, SYSCONFDIR=/etc, KDIR= the kernel tree,
#                  INSTALL_MOD_PATH= (default DESTDIR) the modules' root)
#   make install-tools / install-module   either half
#   make dkms-source   drlb.ko's source and dkms.conf as $(DESTDIR)/usr/src/drlb-VERSION,
#                  for `dkms install drlb/VERSION`

SHELL := /bin/bash
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
QT := $(TOP)/qemu-tests
ENV := . $(QT)/env.sh

.PHONY: all deps kernel kdir module tools test host-test guest-test lifecycle floods demo fuzz fuzz-vrrp install clean \
	bench bench-kernel bench-module bench-smoke bench-sync install-tools install-module dkms-source clean-module

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

# (dkms's CLEAN: the module's build products only)
clean-module:
	@$(ENV); kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$($(QT)/kernel.sh kdir); \
	[ ! -d "$$kdir" ] || $(MAKE) -C "$$kdir" M=$(TOP) "$${KMAKE_VARS[@]}" clean

tools:
	cargo build --release --locked -p drlb-tool -p vrrpd

host-test:
	cargo test --locked --workspace

guest-test: module tools
	@$(QT)/run.sh $(if $(T),$(T))

# qemu-tests/tests/lifecycle.sh with 100 cycles (make test runs 4): 16 min
# (967 s) on the 2-core machine with other guests running, hence the longer
# scenario time limit
DRLB_LIFECYCLE_CYCLES ?= 100
lifecycle: module tools
	@DRLB_LIFECYCLE_CYCLES=$(DRLB_LIFECYCLE_CYCLES) SCENARIO_TIMEOUT=$${SCENARIO_TIMEOUT:-3600} $(QT)/run.sh lifecycle

# qemu-tests/tests/floods.sh with 60 s floods (make test's are 10 s)
FLOOD_SECONDS ?= 60
floods: module tools
	@FLOOD_SECONDS=$(FLOOD_SECONDS) $(QT)/run.sh floods

# host tests first, then the guest scenarios; the last line is the combined count
test: deps
	@$(QT)/test.sh $(T)

demo: module tools
	@$(QT)/run.sh --demo

# The benchmark (qemu-tests/bench/): its own kernel, without the test
# kernel's debug options, and drlb.ko and the ideal forwarder built against
# it in target/bench-bench/ (the normal drlb.ko is untouched).
bench-kernel: deps
	@$(QT)/kernel.sh build bench

bench-module: bench-kernel
	@$(QT)/bench/build.sh bench >/dev/null

bench: bench-module tools
	@$(QT)/bench/run.sh

bench-smoke: module tools
	@$(QT)/run.sh bench-smoke

# connection sync's throughput alone (bench/sync.sh, a part of make bench):
# the stepped rates and the cost of queuing, in qemu-tests/out/bench-DATE/
bench-sync: bench-module tools
	@BENCH_BLOCKS=0 BENCH_EXTRAS=sync $(QT)/bench/run.sh

# (the scenario `make test` runs with 1000 messages each way)
FUZZ_COUNT ?= 100000
fuzz: module tools
	@FUZZ_COUNT=$(FUZZ_COUNT) SCENARIO_TIMEOUT=$${SCENARIO_TIMEOUT:-7200} $(QT)/run.sh fuzz

FUZZ_VRRP_CASES ?= 2500000
fuzz-vrrp:
	PROPTEST_CASES=$(FUZZ_VRRP_CASES) cargo test --locked --release -p vrrpd --test fuzz_advert -- --test-threads=1

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
INSTALL_MOD_PATH ?= $(DESTDIR)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(TOP)/Cargo.toml | head -n1)
BIN := $(TOP)/target/release
install: install-tools install-module

install-tools: tools
	install -D -m 755 $(BIN)/drlb-tool $(DESTDIR)$(PREFIX)/sbin/drlb-tool
	install -D -m 755 $(BIN)/vrrpd $(DESTDIR)$(PREFIX)/sbin/vrrpd
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/vrrpd $(DESTDIR)$(PREFIX)/share/doc/drlb/examples
	$(BIN)/drlb-tool manpage >$(DESTDIR)$(MANDIR)/man8/drlb-tool.8
	$(BIN)/vrrpd manpage >$(DESTDIR)$(MANDIR)/man8/vrrpd.8
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		$(TOP)/packaging/vrrpd.service.in >$(DESTDIR)$(UNITDIR)/vrrpd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/vrrpd.service $(DESTDIR)$(MANDIR)/man8/drlb-tool.8 $(DESTDIR)$(MANDIR)/man8/vrrpd.8
	install -m 644 $(TOP)/examples/vrrpd.toml $(DESTDIR)$(PREFIX)/share/doc/drlb/examples/vrrpd.toml
	$(BIN)/drlb-tool completions bash >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/drlb-tool
	$(BIN)/drlb-tool completions zsh >$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_drlb-tool
	$(BIN)/drlb-tool completions fish >$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/drlb-tool.fish

# drlb.ko into INSTALL_MOD_PATH/lib/modules/VERSION/updates/, then depmod, by
# the kernel's own modules_install, so that `modprobe drlb` finds it.
install-module: module
	@$(ENV); kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$($(QT)/kernel.sh kdir); \
	$(MAKE) -C "$$kdir" M=$(TOP) "$${KMAKE_VARS[@]}" INSTALL_MOD_PATH="$(INSTALL_MOD_PATH)" modules_install

# The module's source (what `make module` reads, without build products) and
# dkms.conf, for dkms: its build is `make module KDIR=<dkms's kernel tree>`.
DKMS_SRC := $(DESTDIR)/usr/src/drlb-$(VERSION)
dkms-source:
	@grep -q '^PACKAGE_VERSION="$(VERSION)"$$' $(TOP)/dkms.conf || \
		{ echo "dkms.conf's PACKAGE_VERSION is not $(VERSION), Cargo.toml's" >&2; exit 1; }
	install -d $(DKMS_SRC)
	tar -C $(TOP) --exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='*.cmd' --exclude='*.d' --exclude=bindings_generated.rs --exclude=target \
		-cf - Makefile Kbuild dkms.conf drlb_kmod qemu-tests/env.sh qemu-tests/kernel.sh | tar -C $(DKMS_SRC) -xf -

clean:
	@$(ENV); kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$($(QT)/kernel.sh kdir); \
	[ ! -d "$$kdir" ] || { $(MAKE) -C "$$kdir" M=$(TOP) "$${KMAKE_VARS[@]}" clean; \
		$(MAKE) -C "$$kdir" M=$(TOP)/qemu-tests/selftest/leak "$${KMAKE_VARS[@]}" clean; }
	cargo clean
