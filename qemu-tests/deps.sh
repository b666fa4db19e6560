#!/usr/bin/env bash
# Installs, idempotently, everything drlb needs on a Debian 12 machine:
# Debian packages, bindgen-cli, virtiofsd and virtme-ng (all pinned). Anything
# already present is skipped, so a second run takes a second or two.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

packages=(
	# kernel build
	linux-source-6.12 rustc-web rust-web-src libclang-dev gcc make flex bison bc
	libelf-dev libssl-dev cpio xz-utils dwarves
	# guest boot
	qemu-system-x86 busybox-static python3-venv libseccomp-dev libcap-ng-dev
	# test tools used inside the guest
	iproute2 iputils-ping ipvsadm keepalived nginx-light iperf3 tcpdump tshark
	socat kmod ethtool jq curl netsniff-ng
	# make bench's plots (Debian's python3, not a venv)
	python3-matplotlib
	# make bench's TCP connection rate (ab against nginx)
	apache2-utils
	# the packaging host scenario: the unit's sandbox (strace), an HTTPS
	# check's certificate, the man pages
	strace openssl man-db
)

missing=()
for p in "${packages[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "deps: installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# nginx/keepalived must not run on the host; tests start their own
	for s in nginx keepalived; do
		systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
	done
fi

mkdir -p "$DRLB_TOOLS"
if ! "$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	echo "deps: installing bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked --root "$DRLB_TOOLS" bindgen-cli --version "$BINDGEN_VERSION"
fi

if ! "$VIRTIOFSD" --version 2>/dev/null | grep -q "$VIRTIOFSD_VERSION"; then
	echo "deps: installing virtiofsd $VIRTIOFSD_VERSION"
	cargo install --quiet --locked --root "$DRLB_TOOLS" virtiofsd --version "$VIRTIOFSD_VERSION"
fi

if ! "$VNG" --version 2>/dev/null | grep -q "$VNG_VERSION"; then
	echo "deps: installing virtme-ng $VNG_VERSION"
	python3 -m venv "$DRLB_TOOLS/venv"
	"$DRLB_TOOLS/venv/bin/pip" install --quiet "virtme-ng==$VNG_VERSION"
fi
[ -d "$RUST_LIB_SRC" ] || { echo "deps: $RUST_LIB_SRC missing (rust-web-src)" >&2; exit 1; }
echo "deps: ok"
