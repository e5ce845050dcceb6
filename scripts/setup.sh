#!/usr/bin/env bash
# Installs what emotic needs at run time and in its tests, on a Debian machine:
#   - ONNX Runtime's shared library, pinned to ORT_VERSION, taken from the official
#     `onnxruntime` wheel on PyPI and checked against its sha256;
#   - ffmpeg (Debian package), used for video, webcam and stream input;
#   - chromium and chromium-driver (Debian packages), for the service's browser test.
# It is idempotent: what is already there is left alone. The library goes to
# $EMOTIC_HOME/onnxruntime/<version>/ (default ~/.local/share/emotic-rs/...), where the
# program finds it by itself (crates/emotic/src/engine/runtime.rs).
set -euo pipefail

ORT_VERSION=1.31.1
# The manylinux x86_64 wheel; its library does not depend on the Python version, so we always
# fetch the same file and can pin its hash.
ORT_WHEEL="onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
ORT_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f

data_home="${XDG_DATA_HOME:-$HOME/.local/share}/emotic-rs"
root="${EMOTIC_HOME:-$data_home}"
dest="$root/onnxruntime/$ORT_VERSION"
lib="$dest/libonnxruntime.so.$ORT_VERSION"

say() { printf 'setup: %s\n' "$*" >&2; }

install_onnxruntime() {
    if [ -f "$lib" ]; then
        say "ONNX Runtime $ORT_VERSION already at $lib"
        return
    fi
    if [ "$(uname -m)" != "x86_64" ]; then
        say "only x86_64 Linux is set up automatically; put libonnxruntime.so.$ORT_VERSION in $dest or set ORT_DYLIB_PATH"
        exit 1
    fi
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    say "downloading onnxruntime==$ORT_VERSION from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.11 --platform manylinux_2_28_x86_64 \
        "onnxruntime==$ORT_VERSION" -d "$tmp"
    echo "$ORT_SHA256  $tmp/$ORT_WHEEL" | sha256sum --check --quiet
    mkdir -p "$dest"
    # Extract to a temporary name in the destination, then rename: a half-written library is
    # never left where the program looks.
    python3 - "$tmp/$ORT_WHEEL" "$dest" "$ORT_VERSION" <<'PY'
import os, sys, zipfile
wheel, dest, version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in (f"onnxruntime/capi/libonnxruntime.so.{version}",
                 "onnxruntime/capi/libonnxruntime_providers_shared.so"):
        target = os.path.join(dest, os.path.basename(name))
        partial = target + ".partial"
        with z.open(name) as src, open(partial, "wb") as out:
            out.write(src.read())
        os.replace(partial, target)
PY
    say "installed $lib"
}

install_ffmpeg() {
    if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "ffmpeg is missing; install it with: sudo apt-get install ffmpeg"
        return
    fi
    say "installing ffmpeg (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
}

# Headless Chromium and its WebDriver, for the web page's browser test (crates/emotic-serve);
# Debian packages both at the same version. Skipped when already installed.
install_chromium() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "chromium is missing (only the browser test needs it); install it with: sudo apt-get install chromium chromium-driver"
        return
    fi
    say "installing chromium and chromium-driver (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
}

install_onnxruntime
install_ffmpeg
install_chromium
