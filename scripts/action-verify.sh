#!/usr/bin/env bash
# The shell logic of the tollgate GitHub Action (action.yml): install the
# release binary for this runner (checksum checked, signature checked when a
# release signer list is given), fetch the audit records and the history the
# range needs, and run `tollgate verify` for a push or a pull request.
#
# It reads what GitHub sets (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REF,
# GITHUB_WORKSPACE, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_OUTPUT,
# GITHUB_PATH) and the action's inputs as TOLLGATE_* variables, so it runs the
# same on a laptop, given those variables and an event payload file:
#
#   TOLLGATE_VERSION           release to install, `v0.2.0` or `0.2.0` (default: the action's ref)
#   TOLLGATE_BIN               use this binary as it is (no download, no checksum)
#   TOLLGATE_RELEASE_DIR       take the release assets from this folder instead of downloading
#   TOLLGATE_RELEASE_URL       base address of the release assets (default: the action repository's release of the version)
#   TOLLGATE_RELEASE_SIGNERS   allowed_signers file: the checksum file's SSHSIG (namespace `tollgate-release`) must verify against it
#   TOLLGATE_DEFAULT_RELEASE_SIGNERS  the same, used only when the file exists (the action's .github/release-signers)
#   TOLLGATE_INSTALL_FROM_SOURCE  `true`: `cargo install --locked` from TOLLGATE_SOURCE_DIR (the action's checkout) instead
#   TOLLGATE_ANCHOR            rev whose policy and signer list judge the range (needs a tollgate with `verify --anchor`)
#   TOLLGATE_FORMATS           comma list of `human`, `json`, `sarif` (default `human`); json/sarif go to files in TOLLGATE_OUTPUT_DIR
#   TOLLGATE_OUTPUT_DIR        where report files go (default RUNNER_TEMP, else a temp folder)
#   TOLLGATE_REMOTE            remote to fetch from (default `origin`)
#
# Exit codes follow tollgate's: 0 pass, 1 blocked, 2 error (including a
# download, checksum or signature that does not hold: fail closed).
set -euo pipefail

ZERO=0000000000000000000000000000000000000000
remote=${TOLLGATE_REMOTE:-origin}

die() {
  echo "error: $*" >&2
  exit 2
}
note() { echo "tollgate-action: $*" >&2; }

tmp_root() {
  if [ -n "${RUNNER_TEMP:-}" ]; then
    echo "$RUNNER_TEMP"
  else
    echo "${TMPDIR:-/tmp}"
  fi
}

# --- which release asset fits this runner ---------------------------------

# The target triple of the release asset for RUNNER_OS / RUNNER_ARCH (GitHub's
# names), else for `uname` on a machine that is not a runner.
runner_target() {
  local os=${RUNNER_OS:-} arch=${RUNNER_ARCH:-}
  if [ -z "$os" ]; then
    case "$(uname -s)" in
      Linux) os=Linux ;;
      Darwin) os=macOS ;;
      MINGW* | MSYS* | CYGWIN*) os=Windows ;;
      *) os=$(uname -s) ;;
    esac
  fi
  if [ -z "$arch" ]; then
    case "$(uname -m)" in
      x86_64 | amd64) arch=X64 ;;
      aarch64 | arm64) arch=ARM64 ;;
      *) arch=$(uname -m) ;;
    esac
  fi
  case "$os/$arch" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) die "no tollgate release binary for $os/$arch; set install-from-source: true" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# The expected sha256 of asset $2 in checksum file $1 (`<hex>  <name>` lines,
# as sha256sum writes them). Exactly one line must name it.
expected_sha256() {
  local sums=$1 name=$2 lines
  lines=$(awk -v n="$name" '{ f = $2; sub(/^\*/, "", f) } f == n { print $1 }' "$sums")
  [ -n "$lines" ] || die "\`$name\` is not listed in the checksum file"
  [ "$(printf '%s\n' "$lines" | wc -l)" -eq 1 ] || die "\`$name\` is listed more than once in the checksum file"
  printf '%s\n' "$lines" | tr 'A-F' 'a-f'
}

fetch_asset() { # name dest
  local name=$1 dest=$2
  if [ -n "${TOLLGATE_RELEASE_DIR:-}" ]; then
    [ -f "$TOLLGATE_RELEASE_DIR/$name" ] || die "release asset \`$name\` not found in \`$TOLLGATE_RELEASE_DIR\`"
    cp "$TOLLGATE_RELEASE_DIR/$name" "$dest"
  else
    curl --fail --silent --show-error --location --retry 3 --proto '=https' \
      --output "$dest" "$release_url/$name" || die "cannot download \`$release_url/$name\`"
  fi
}

# Downloads (or copies) the archive, checks it against SHA256SUMS (and
# SHA256SUMS.sig when a signer list is given), unpacks it, and prints the
# path of the binary.
install_release() {
  local version=$1 target tag dir archive ext bin
  tag=v${version#v}
  target=$(runner_target)
  ext=tar.gz
  bin=tollgate
  case "$target" in *windows*) ext=zip bin=tollgate.exe ;; esac
  archive="tollgate-$tag-$target.$ext"
  release_url=${TOLLGATE_RELEASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/${TOLLGATE_ACTION_REPOSITORY:-}/releases/download/$tag}
  if [ -z "${TOLLGATE_RELEASE_DIR:-}" ] && [ -z "${TOLLGATE_RELEASE_URL:-}" ] && [ -z "${TOLLGATE_ACTION_REPOSITORY:-}" ]; then
    die "no release source: set TOLLGATE_RELEASE_DIR or TOLLGATE_RELEASE_URL"
  fi
  dir=$(mktemp -d "$(tmp_root)/tollgate-install.XXXXXX")
  fetch_asset SHA256SUMS "$dir/SHA256SUMS"
  # An explicit signer list must exist; the action's own default is used
  # when the action ships one (.github/release-signers).
  if [ -z "${TOLLGATE_RELEASE_SIGNERS:-}" ] && [ -n "${TOLLGATE_DEFAULT_RELEASE_SIGNERS:-}" ] &&
    [ -f "$TOLLGATE_DEFAULT_RELEASE_SIGNERS" ]; then
    TOLLGATE_RELEASE_SIGNERS=$TOLLGATE_DEFAULT_RELEASE_SIGNERS
  fi
  if [ -n "${TOLLGATE_RELEASE_SIGNERS:-}" ]; then
    [ -f "$TOLLGATE_RELEASE_SIGNERS" ] || die "release signer list \`$TOLLGATE_RELEASE_SIGNERS\` not found"
    fetch_asset SHA256SUMS.sig "$dir/SHA256SUMS.sig"
    ssh-keygen -Y verify -f "$TOLLGATE_RELEASE_SIGNERS" -I tollgate-release -n tollgate-release \
      -s "$dir/SHA256SUMS.sig" <"$dir/SHA256SUMS" >&2 ||
      die "the signature of the checksum file does not verify against \`$TOLLGATE_RELEASE_SIGNERS\`"
  else
    echo "warning: no release signer list given; the checksum file's signature is not checked" >&2
  fi
  fetch_asset "$archive" "$dir/$archive"
  local want got
  want=$(expected_sha256 "$dir/SHA256SUMS" "$archive")
  got=$(sha256_of "$dir/$archive")
  [ "$want" = "$got" ] || die "checksum mismatch for \`$archive\`: expected $want, got $got; refusing to run it"
  note "checksum of \`$archive\` matches ($got)"
  case "$ext" in
    zip) (cd "$dir" && unzip -q "$archive") || die "cannot unpack \`$archive\`" ;;
    *) tar -xzf "$dir/$archive" -C "$dir" || die "cannot unpack \`$archive\`" ;;
  esac
  local path="$dir/tollgate-$tag-$target/$bin"
  [ -f "$path" ] || die "\`$archive\` holds no \`tollgate-$tag-$target/$bin\`"
  chmod +x "$path"
  printf '%s\n' "$path"
}

install_from_source() {
  local src=${TOLLGATE_SOURCE_DIR:-} root
  [ -n "$src" ] && [ -f "$src/Cargo.toml" ] || die "install-from-source needs the tollgate source (TOLLGATE_SOURCE_DIR)"
  command -v cargo >/dev/null 2>&1 || die "install-from-source needs cargo on PATH"
  root="$(tmp_root)/tollgate-source-install"
  cargo install --locked --quiet --root "$root" --path "$src" >&2 || die "cargo install of tollgate failed"
  printf '%s\n' "$root/bin/tollgate"
}

find_tollgate() {
  if [ -n "${TOLLGATE_BIN:-}" ]; then
    [ -x "$TOLLGATE_BIN" ] || die "TOLLGATE_BIN \`$TOLLGATE_BIN\` is not an executable"
    printf '%s\n' "$TOLLGATE_BIN"
  elif [ "${TOLLGATE_INSTALL_FROM_SOURCE:-false}" = true ]; then
    install_from_source
  else
    local version=${TOLLGATE_VERSION:-}
    case "$version" in
      v[0-9]* | [0-9]*) ;;
      "") die "no tollgate version to install: set the \`version\` input (e.g. v0.2.0) or install-from-source: true" ;;
      *) die "\`$version\` is not a release version (v0.2.0); pin the action to a release tag, set \`version\`, or install-from-source: true" ;;
    esac
    install_release "$version"
  fi
}

# --- the event -------------------------------------------------------------

event_field() { # jq filter; empty when absent or null
  jq -r "$1 // empty" "$GITHUB_EVENT_PATH"
}

have_commit() { git cat-file -e "$1^{commit}" 2>/dev/null; }

# Makes the commits named here present: unshallows a shallow checkout (a
# range and its merge base need history), then fetches any sha still missing.
fetch_history() {
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    note "unshallowing the checkout"
    git fetch --quiet --no-tags --unshallow "$remote" || die "cannot unshallow the checkout from \`$remote\`"
  fi
  local sha
  for sha in "$@"; do
    [ -z "$sha" ] || [ "$sha" = "$ZERO" ] && continue
    have_commit "$sha" && continue
    note "fetching $sha"
    git fetch --quiet --no-tags "$remote" "$sha" || die "commit $sha is not in the checkout and cannot be fetched from \`$remote\`"
  done
}

# Fetches refs/notes/tollgate. A remote without the ref is fine (no record
# yet: any blocker is then uncovered); any other failure is an error.
fetch_notes() {
  local out
  if out=$(git fetch --quiet --no-tags "$remote" '+refs/notes/tollgate:refs/notes/tollgate' 2>&1); then
    note "fetched refs/notes/tollgate"
  elif printf '%s' "$out" | grep -q "couldn't find remote ref"; then
    note "the remote has no audit records (refs/notes/tollgate) yet"
  else
    printf '%s\n' "$out" >&2
    die "cannot fetch refs/notes/tollgate from \`$remote\`"
  fi
}

# The one place that turns the event into `tollgate verify` arguments (into
# the array VERIFY_ARGS). Today's interface: `--base --head` for a pull
# request, `--old --new --ref [--base]` for a push.
verify_args() {
  VERIFY_ARGS=()
  case "$GITHUB_EVENT_NAME" in
    push)
      local before after ref default base
      before=$(event_field .before)
      after=$(event_field .after)
      ref=$(event_field .ref)
      ref=${ref:-${GITHUB_REF:-}}
      [ -n "$before" ] && [ -n "$after" ] && [ -n "$ref" ] || die "the push event has no before/after/ref"
      fetch_history "$before" "$after"
      if [ "$before" = "$ZERO" ]; then
        # A new branch or tag: judge it by the policy where it forked from
        # the default branch; an orphan (no common history) has no base.
        default=$(event_field .repository.default_branch)
        base=""
        if [ -n "$default" ] && [ "$after" != "$ZERO" ] &&
          git fetch --quiet --no-tags "$remote" "+refs/heads/$default:refs/remotes/$remote/$default" 2>/dev/null; then
          base=$(git merge-base "refs/remotes/$remote/$default" "$after" 2>/dev/null || true)
        fi
        VERIFY_ARGS+=(--old "$before" --new "$after" --ref "$ref")
        [ -z "$base" ] || VERIFY_ARGS+=(--base "$base")
      else
        # An update (forced or not) or a deletion: the old tip's policy judges.
        VERIFY_ARGS+=(--old "$before" --new "$after" --ref "$ref" --base "$before")
      fi
      ;;
    pull_request | pull_request_target)
      local b h
      b=$(event_field .pull_request.base.sha)
      h=$(event_field .pull_request.head.sha)
      [ -n "$b" ] && [ -n "$h" ] || die "the pull_request event has no base.sha/head.sha"
      fetch_history "$b" "$h"
      local mb
      mb=$(git merge-base "$b" "$h") || die "no merge base between $b and $h"
      VERIFY_ARGS+=(--base "$mb" --head "$h")
      ;;
    *) die "tollgate verify runs on push and pull_request events, not \`$GITHUB_EVENT_NAME\`" ;;
  esac
  if [ -n "${TOLLGATE_ANCHOR:-}" ]; then
    "$tollgate" verify --help 2>/dev/null | grep -q -- '--anchor' ||
      die "this tollgate has no \`verify --anchor\`; leave the anchor input empty or use a newer release"
    VERIFY_ARGS+=(--anchor "$TOLLGATE_ANCHOR")
  fi
}

output() { # key value
  [ -z "${GITHUB_OUTPUT:-}" ] || printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
}

main() {
  [ -n "${GITHUB_EVENT_NAME:-}" ] || die "GITHUB_EVENT_NAME is not set"
  [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ] || die "GITHUB_EVENT_PATH does not name the event payload file"
  command -v jq >/dev/null 2>&1 || die "jq is needed to read the event payload"
  if [ -n "${GITHUB_WORKSPACE:-}" ]; then cd "$GITHUB_WORKSPACE"; fi
  git rev-parse --git-dir >/dev/null 2>&1 || die "\`$(pwd)\` is not a git checkout"

  tollgate=$(find_tollgate)
  note "using $("$tollgate" --version)"
  [ -z "${GITHUB_PATH:-}" ] || dirname "$tollgate" >>"$GITHUB_PATH"
  output tollgate "$tollgate"

  fetch_notes
  verify_args
  note "tollgate verify ${VERIFY_ARGS[*]}"

  local outdir formats status=0 first=1 fmt rc
  outdir=${TOLLGATE_OUTPUT_DIR:-$(tmp_root)}
  mkdir -p "$outdir"
  formats=${TOLLGATE_FORMATS:-human}
  IFS=',' read -r -a fmts <<<"$formats"
  for fmt in "${fmts[@]}"; do
    fmt=$(printf '%s' "$fmt" | tr -d ' ')
    rc=0
    case "$fmt" in
      human) "$tollgate" verify "${VERIFY_ARGS[@]}" || rc=$? ;;
      json | sarif)
        "$tollgate" verify "${VERIFY_ARGS[@]}" --format "$fmt" >"$outdir/tollgate-verify.$fmt" || rc=$?
        output "$fmt-file" "$outdir/tollgate-verify.$fmt"
        note "wrote $outdir/tollgate-verify.$fmt"
        ;;
      *) die "unknown format \`$fmt\` (human, json, sarif)" ;;
    esac
    [ "$rc" -le 2 ] || rc=2
    if [ $first = 1 ]; then
      status=$rc
      first=0
    elif [ "$rc" != "$status" ]; then
      # The same verification in another format must end the same way.
      note "format $fmt ended with $rc, the first with $status"
      [ "$rc" -gt "$status" ] && status=$rc
    fi
  done
  case $status in
    0) output result pass ;;
    1) output result blocked ;;
    *) output result error ;;
  esac
  return "$status"
}

main "$@"
