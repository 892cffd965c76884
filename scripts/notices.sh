#!/usr/bin/env bash
# Writes THIRD-PARTY-NOTICES.md (or the file given) from the dependency tree:
# every crate compiled into tollgate on any target (`cargo tree -e normal
# --target all`: no dev-dependencies, no build-only crates), with its
# declared licence and the licence files it ships (LICENSE*, COPYING*,
# NOTICE*, UNLICENSE). Deterministic: same Cargo.lock, same file. Offline.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-THIRD-PARTY-NOTICES.md}
command -v jq >/dev/null 2>&1 || {
  echo "error: scripts/notices.sh needs jq" >&2
  exit 2
}

meta=$(cargo metadata --locked --offline --format-version 1)
crates=$(cargo tree --locked --offline -e normal --target all --prefix none --format '{p}' |
  sed 's/ (.*)$//; s/ (\*)$//' | grep -v '^tollgate v' | sort -u)

{
  echo "# Third-party notices"
  echo
  echo "tollgate's binaries contain the crates below (and libgit2, bundled by"
  echo "libgit2-sys). Generated from \`Cargo.lock\` by \`scripts/notices.sh\`; do not"
  echo "edit by hand."
  echo
  echo "| crate | version | licence |"
  echo "| --- | --- | --- |"
  while read -r name version; do
    [ -n "$name" ] || continue
    lic=$(printf '%s' "$meta" | jq -r --arg n "$name" --arg v "${version#v}" \
      '.packages[] | select(.name == $n and .version == $v) | .license // "see files"')
    echo "| $name | ${version#v} | $lic |"
  done <<<"$crates"
  echo
  while read -r name version; do
    [ -n "$name" ] || continue
    dir=$(printf '%s' "$meta" | jq -r --arg n "$name" --arg v "${version#v}" \
      '.packages[] | select(.name == $n and .version == $v) | .manifest_path' | sed 's#/Cargo.toml$##')
    echo "## $name ${version#v}"
    echo
    files=$(cd "$dir" && find . -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'LICENCE*' -o -iname 'COPYING*' -o -iname 'NOTICE*' -o -iname 'UNLICENSE' \) | sed 's#^\./##' | LC_ALL=C sort)
    if [ -z "$files" ]; then
      echo "(no licence file in the crate; licence: see the table above)"
      echo
    fi
    for f in $files; do
      echo "### $f"
      echo
      echo '```text'
      cat "$dir/$f"
      echo
      echo '```'
      echo
    done
    if [ "$name" = libgit2-sys ] && [ -f "$dir/libgit2/COPYING" ]; then
      # The bundled C library is GPL-2.0 with a linking exception and bundles
      # further code under its own licences, all in this file.
      echo "### libgit2/COPYING (the bundled libgit2 C library)"
      echo
      echo '```text'
      cat "$dir/libgit2/COPYING"
      echo '```'
      echo
    fi
  done <<<"$crates"
} >"$out"
