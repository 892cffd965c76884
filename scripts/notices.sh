#!/usr/bin/env bash
# Writes THIRD-PARTY-NOTICES.md (or the file given) from the dependency tree:
# every crate compiled into tollgate for the release targets (no
# dev-dependencies), grouped by licence with the licence texts, by
# cargo-about with about.toml and about.hbs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-THIRD-PARTY-NOTICES.md}
tools=${TOLLGATE_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/ci-tools}
export PATH="$tools/bin:$PATH"
command -v cargo-about >/dev/null 2>&1 || {
  echo "error: cargo-about is not installed; run scripts/licence-check.sh once, or cargo install --locked cargo-about --version 0.9.3" >&2
  exit 2
}
cargo about generate --locked --offline --config about.toml --output-file "$out" about.hbs

# libgit2-sys compiles the bundled libgit2 C library into tollgate. The
# crate says `MIT OR Apache-2.0`, but the C code is GPL-2.0 with a linking
# exception and bundles further code under its own licences: append the
# library's COPYING file as it ships in the crate.
copying=$(cargo metadata --locked --offline --format-version 1 |
  jq -r '.packages[] | select(.name == "libgit2-sys") | .manifest_path' |
  head -n1 | sed 's#/Cargo.toml$#/libgit2/COPYING#')
[ -f "$copying" ] || {
  echo "error: cannot find libgit2's COPYING in the libgit2-sys crate" >&2
  exit 2
}
version=$(cargo metadata --locked --offline --format-version 1 |
  jq -r '.packages[] | select(.name == "libgit2-sys") | .version' | head -n1)
{
  echo "## libgit2 (bundled by libgit2-sys $version)"
  echo
  echo '```text'
  cat "$copying"
  echo '```'
} >>"$out"
