#!/bin/sh
# tollgate in CI: turns one GitHub Actions event into one `tollgate verify`.
#
# Reads GITHUB_EVENT_NAME and the event payload at GITHUB_EVENT_PATH (jq is
# on every GitHub-hosted runner). Run it from the repository's checkout,
# made with the whole history (`fetch-depth: 0`). Needs no secret: it only
# fetches from the repository (and, for a pull request from a fork, from
# the fork) over the checkout's credentials or anonymously.
#
#   push           --old before --new after --ref ref: the anchor is the
#                  default branch as the remote had it (`before` for a push
#                  to the default branch, else the merge-base with it)
#     force push   the old tip is fetched by sha when the clone lacks it
#     new branch   judged from its merge-base with the default branch
#     orphan       no merge-base: its whole history is judged by the
#                  default branch's policy (`--anchor origin/<default>`)
#     tag          like a new branch
#     deletion     the ref update alone (protected-branch `delete`)
#   pull_request   --base PR base --head PR head --anchor PR base: the
#                  target branch's tip judges, never the PR's own policy;
#                  from a fork, the fork's audit records are fetched too
#   merges         a squash or rebase merge is a push to the target branch;
#                  records on the PR's commits carry over when the change
#                  is the same, so the PR heads (`refs/pull/*/head`) are
#                  fetched for tollgate to re-scan them
#
# Exit codes are tollgate's: 0 pass, 1 blocked or uncovered, 2 error.
set -eu

tg=${TOLLGATE:-tollgate}
remote=${TOLLGATE_REMOTE:-origin}
notes=refs/notes/tollgate
zero=0000000000000000000000000000000000000000

event=${GITHUB_EVENT_NAME:?GITHUB_EVENT_NAME is not set}
payload=${GITHUB_EVENT_PATH:?GITHUB_EVENT_PATH is not set}
[ -r "$payload" ] || { echo "error: cannot read the event payload \`$payload\`" >&2; exit 2; }

# A payload field, or nothing when it is absent or null.
field() { jq -r "$1 // empty" "$payload"; }

has_commit() { git cat-file -e "$1^{commit}" 2>/dev/null; }

# Fetch a commit by sha when this clone lacks it (GitHub serves any commit
# of the repository by sha, a force-pushed old tip included).
need_commit() {
    has_commit "$1" && return 0
    git fetch -q --no-tags "$remote" "$1" 2>/dev/null || true
    has_commit "$1" || echo "warning: commit $1 is not in this clone and \`$remote\` did not serve it" >&2
}

git fetch -q --no-tags "$remote" "+$notes:$notes" 2>/dev/null ||
    echo "tollgate ci: \`$remote\` has no audit records yet" >&2
# The heads of pull requests: records made on them carry over to the
# commits a squash or rebase merge writes.
git fetch -q --no-tags "$remote" "+refs/pull/*/head:refs/remotes/$remote/pull/*" 2>/dev/null || true

default=$(field .repository.default_branch)
if [ -z "$default" ]; then
    default=$(git symbolic-ref -q --short "refs/remotes/$remote/HEAD" 2>/dev/null | sed "s|^$remote/||" || true)
fi
default=${default:-main}

case "$event" in
push)
    ref=$(field .ref)
    before=$(field .before)
    after=$(field .after)
    [ -n "$ref" ] && [ -n "$before" ] && [ -n "$after" ] || {
        echo "error: the push payload lacks \`ref\`, \`before\` or \`after\`" >&2
        exit 2
    }
    [ "$(field .deleted)" = "true" ] && after=$zero
    [ "$before" != "$zero" ] && need_commit "$before"
    set -- verify --old "$before" --new "$after" --ref "$ref"
    if [ "$before" = "$zero" ] && [ "$after" != "$zero" ] && [ "$ref" != "refs/heads/$default" ]; then
        need_commit "$after"
        if ! git merge-base "$after" "$remote/$default" >/dev/null 2>&1; then
            echo "tollgate ci: \`$ref\` shares no history with \`$default\`: its whole history is judged by \`$remote/$default\`'s policy" >&2
            set -- "$@" --anchor "$remote/$default"
        fi
    fi
    ;;
pull_request | pull_request_target)
    base=$(field .pull_request.base.sha)
    head=$(field .pull_request.head.sha)
    number=$(field .number)
    [ -n "$base" ] && [ -n "$head" ] || {
        echo "error: the pull_request payload lacks \`pull_request.base.sha\` or \`pull_request.head.sha\`" >&2
        exit 2
    }
    need_commit "$base"
    if ! has_commit "$head" && [ -n "$number" ]; then
        git fetch -q --no-tags "$remote" "+refs/pull/$number/head:refs/remotes/$remote/pull/$number" 2>/dev/null || true
    fi
    head_repo=$(field .pull_request.head.repo.clone_url)
    base_repo=$(field .pull_request.base.repo.clone_url)
    if [ -n "$head_repo" ] && [ "$head_repo" != "$base_repo" ]; then
        # A fork: its records live on the fork. Merged into this clone's
        # notes only (union of lines, as `tollgate notes` merges).
        if git fetch -q --no-tags "$head_repo" "+$notes:refs/notes/tollgate-fork" 2>/dev/null; then
            if git rev-parse -q --verify "$notes" >/dev/null; then
                git -c user.name=tollgate-ci -c user.email=ci@localhost \
                    notes --ref="$notes" merge -q -s cat_sort_uniq refs/notes/tollgate-fork
            else
                git update-ref "$notes" refs/notes/tollgate-fork
            fi
        else
            echo "tollgate ci: the fork has no audit records" >&2
        fi
        need_commit "$head"
    fi
    set -- verify --base "$base" --head "$head" --anchor "$base"
    ;;
*)
    echo "error: tollgate's CI recipe handles \`push\` and \`pull_request\`, not \`$event\`" >&2
    exit 2
    ;;
esac

echo "tollgate ci: $tg $*" >&2
exec "$tg" "$@"
