#!/usr/bin/env bash
# Packs one release asset and records its checksum; the release workflow runs
# it once per target, and the tests run it on a local build.
#
#   scripts/release-package.sh BINARY TARGET VERSION OUT_DIR
#
# writes OUT_DIR/tollgate-vVERSION-TARGET.tar.gz (.zip for Windows targets)
# holding tollgate-vVERSION-TARGET/{tollgate, LICENSE-MIT, LICENSE-APACHE,
# THIRD-PARTY-NOTICES.md, README.md, CHANGELOG.md, man/*.1}, and the line
# `<sha256>  <asset>` into OUT_DIR/tollgate-vVERSION-TARGET.tar.gz.sha256.
# The names match `[package.metadata.binstall]` in Cargo.toml.
set -euo pipefail

[ $# -eq 4 ] || {
  echo "usage: $0 BINARY TARGET VERSION OUT_DIR" >&2
  exit 2
}
bin=$1 target=$2 version=${3#v} out=$4
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$bin" ] || {
  echo "error: \`$bin\` is not an executable" >&2
  exit 2
}
# The binary must be the version being released.
"$bin" --version | grep -q "^tollgate $version " || {
  echo "error: \`$bin --version\` says \`$("$bin" --version)\`, not tollgate $version" >&2
  exit 2
}

name="tollgate-v$version-$target"
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/man"
exe=tollgate
case "$target" in *windows*) exe=tollgate.exe ;; esac
cp "$bin" "$stage/$name/$exe"
for f in LICENSE-MIT LICENSE-APACHE THIRD-PARTY-NOTICES.md README.md CHANGELOG.md; do
  cp "$root/$f" "$stage/$name/"
done
# Man pages come from the host's build of the same source when the binary
# is for another architecture and cannot run here.
"${TOLLGATE_MAN_BIN:-$bin}" man --out-dir "$stage/$name/man" >/dev/null 2>&1 || {
  echo "error: cannot generate the man pages (set TOLLGATE_MAN_BIN to a tollgate that runs here)" >&2
  exit 2
}

case "$target" in
  *windows*)
    asset="$name.zip"
    rm -f "$out/$asset"
    (cd "$stage" && if command -v 7z >/dev/null 2>&1; then 7z a -tzip -bd "$out/$asset" "$name" >/dev/null; else zip -qr "$out/$asset" "$name"; fi)
    ;;
  *)
    asset="$name.tar.gz"
    # GNU tar (gtar on macOS) with fixed order, owner and times, so the same
    # inputs give the same archive; a plain tar otherwise.
    tar=$(command -v gtar || command -v tar)
    if "$tar" --version 2>/dev/null | grep -q 'GNU tar'; then
      "$tar" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-0}" \
        -C "$stage" -cf - "$name" | gzip -n -9 >"$out/$asset"
    else
      "$tar" -C "$stage" -cf - "$name" | gzip -n -9 >"$out/$asset"
    fi
    ;;
esac
if command -v sha256sum >/dev/null 2>&1; then
  (cd "$out" && sha256sum "$asset" >"$asset.sha256")
else
  (cd "$out" && shasum -a 256 "$asset" >"$asset.sha256")
fi
echo "$out/$asset"
