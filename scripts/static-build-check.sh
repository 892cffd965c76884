#!/usr/bin/env bash
# Builds the release binary statically linked and checks that it runs and
# names its commit. Run by .ci/run.
#
# The release workflow builds with the musl targets. Here the musl standard
# library can only come from rustup's servers, which this machine cannot
# reach (Debian ships no rust-std for musl), so when the musl target is not
# installed this builds the glibc target with `+crt-static` instead: still
# one static ELF with no loader and no shared libraries, checked the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
arch=${host%%-*}
musl=$arch-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  target=$musl
  flags=""
else
  echo "note: rust-std for $musl is not installed (rustup target add needs its servers); building $host with +crt-static" >&2
  target=$host
  flags="-C target-feature=+crt-static"
fi

RUSTFLAGS="${RUSTFLAGS:-} $flags" nice -n 10 cargo build --release --locked --target "$target"
bin=target/$target/release/tollgate

info=$(file -b "$bin")
echo "$bin: $info" >&2
case "$info" in
  *"statically linked"* | *"static-pie linked"*) ;;
  *) echo "error: $bin is not statically linked" >&2; exit 1 ;;
esac
if command -v ldd >/dev/null 2>&1 && ldd "$bin" 2>&1 | grep -q '=>'; then
  ldd "$bin" >&2
  echo "error: $bin loads shared libraries" >&2
  exit 1
fi

# It runs with an empty environment, and its version names this checkout's HEAD.
version=$(env -i "$bin" --version)
echo "$version" >&2
want="tollgate $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1) ($(git rev-parse --short=7 HEAD) "
case "$version" in
  "$want"*) ;;
  *) echo "error: \`$bin --version\` says \`$version\`, expected it to start with \`$want\`" >&2; exit 1 ;;
esac
env -i "$bin" version --format json | jq -e --arg t "$target" '.target == $t and .profile == "release" and (.features | index("test-clock") | not)' >/dev/null || {
  echo "error: \`$bin version --format json\` does not describe a $target release build" >&2
  exit 1
}
echo "static release build of $target runs: $version" >&2
