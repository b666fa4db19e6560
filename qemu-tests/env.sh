# Sourced by the build and test scripts: one place for tool paths and versions.
# DRLB_CACHE_DIR (default ~/.cache/drlb) holds the cached kernel and the pinned tools.
DRLB_CACHE_DIR=${DRLB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/drlb}
DRLB_TOOLS=$DRLB_CACHE_DIR/tools
BINDGEN_VERSION=0.73.2
VNG_VERSION=1.42
VIRTIOFSD_VERSION=1.14.0
# The kernel and the module are built with Debian's rustc-web, never rustup's.
RUSTC=/usr/bin/rustc
HOSTRUSTC=/usr/bin/rustc
BINDGEN=${BINDGEN:-$DRLB_TOOLS/bin/bindgen}
VNG=$DRLB_TOOLS/venv/bin/vng
# vng shares the host root through virtiofsd when it finds the Rust one on
# PATH (Debian 12 ships only QEMU's old C daemon, which vng cannot drive, so
# it fell back to 9p): process starts in the guest cost half as much.
VIRTIOFSD=$DRLB_TOOLS/bin/virtiofsd
RUST_LIB_SRC=$(ls -d /usr/src/rustc-*/library 2>/dev/null | sort -V | tail -n1 || true)
RUST_LIB_SRC=${RUST_LIB_SRC:-/usr/src/rustc-1.96.0/library}
KMAKE_VARS=(RUSTC="$RUSTC" HOSTRUSTC="$HOSTRUSTC" BINDGEN="$BINDGEN" RUST_LIB_SRC="$RUST_LIB_SRC")
export DRLB_CACHE_DIR
