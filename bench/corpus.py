#!/usr/bin/env python3
"""Builds tollgate's benchmark corpora, deterministically, from a `cargo vendor`
tree of tollgate's own dependencies.

  history  a scratch repository: the vendored crates committed crate by crate
           (at most FILES_PER_COMMIT files a commit), fixed author and dates
  typical  a shared clone of `history` with a typical change staged:
           10 files (5 edited, 5 new), 500 added lines, no secret
  big      a fresh repository with a ~2,000-file, ~50 MB change staged, with
           FAKE secrets planted in it, and a manifest of where they are
  busy     the shape of real work: one commit of a large tree (every vendored
           file, topped up to BUSY_FILES files), then BUSY_COMMITS commits
           that each touch 1-5 files (edits of real source lines, some new
           files, a few deletions and renames)

The fake secrets are generated here, at run time, from a seeded generator:
they have the shape of real credentials so that scanners match them, but no
service ever issued them, and none is stored in tollgate's repository.
"""

import argparse
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

FILES_PER_COMMIT = 20
MAX_FILE = 512 * 1024
SKIP_NAMES = {".cargo-checksum.json", ".cargo_vcs_info.json", "Cargo.toml.orig"}
EPOCH = 1_700_000_000
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": f"{EPOCH} +0000",
    "GIT_COMMITTER_DATE": f"{EPOCH} +0000",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_SYSTEM": "/dev/null",
}


def git(repo, *args, **kw):
    return subprocess.run(["git", "-C", str(repo), *args], env=ENV, check=True, **kw)


def is_text(data):
    return b"\0" not in data[:8000]


def vendor_files(vendor):
    """(crate, relative path, bytes) of every text file, sorted."""
    out = []
    for crate in sorted(os.listdir(vendor)):
        base = vendor / crate
        for p in sorted(base.rglob("*")):
            if not p.is_file() or p.is_symlink() or p.name in SKIP_NAMES:
                continue
            data = p.read_bytes()
            if len(data) > MAX_FILE or not is_text(data):
                continue
            out.append((crate, p.relative_to(base).as_posix(), data))
    return out


def rust_sources(vendor):
    return [f for f in vendor_files(vendor) if f[1].endswith(".rs")]


def fresh_repo(path):
    if path.exists():
        subprocess.run(["rm", "-rf", str(path)], check=True)
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Bench")
    git(path, "config", "user.email", "bench@example.invalid")
    git(path, "config", "commit.gpgsign", "false")


def build_history(vendor, repo):
    """Crate by crate into `repo` with git fast-import (fast, exact dates)."""
    fresh_repo(repo)
    files = vendor_files(vendor)
    commits = []
    by_crate = {}
    for crate, rel, data in files:
        by_crate.setdefault(crate, []).append((rel, data))
    for crate in sorted(by_crate):
        items = by_crate[crate]
        for i in range(0, len(items), FILES_PER_COMMIT):
            part = items[i : i + FILES_PER_COMMIT]
            n = i // FILES_PER_COMMIT + 1
            commits.append((f"Add {crate} (part {n})", [(f"crates/{crate}/{r}", d) for r, d in part]))
    stream = bytearray()
    for n, (msg, entries) in enumerate(commits, 1):
        when = EPOCH + n * 60
        m = msg.encode()
        stream += b"commit refs/heads/main\n"
        stream += f"mark :{n}\n".encode()
        stream += f"author Bench <bench@example.invalid> {when} +0000\n".encode()
        stream += f"committer Bench <bench@example.invalid> {when} +0000\n".encode()
        stream += f"data {len(m)}\n".encode() + m + b"\n"
        if n > 1:
            stream += f"from :{n - 1}\n".encode()
        for path, data in entries:
            stream += f"M 100644 inline {path}\n".encode()
            stream += f"data {len(data)}\n".encode() + data + b"\n"
        stream += b"\n"
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"], input=bytes(stream), env=ENV, check=True
    )
    git(repo, "checkout", "-q", "-f", "main")
    total = sum(len(d) for _, e in commits for _, d in e)
    print(f"history: {len(commits)} commits, {len(files)} files, {total / 1e6:.1f} MB", file=sys.stderr)


PRE_COMMIT_CONFIG = """repos:
- repo: local
  hooks:
  - id: trivial
    name: trivial
    entry: "true"
    language: system
    pass_filenames: false
"""


def build_typical(vendor, history, repo, at=None):
    """5 edited + 5 new files, 50 added lines each, staged; no secret. With
    `at`, the clone is first reset to the history's `at`-th commit (a small
    repository)."""
    if repo.exists():
        subprocess.run(["rm", "-rf", str(repo)], check=True)
    git(history.parent, "clone", "-q", "--shared", str(history), str(repo))
    if at:
        revs = git(repo, "rev-list", "--reverse", "HEAD", capture_output=True, text=True).stdout.split()
        git(repo, "reset", "-q", "--hard", revs[at - 1])
    git(repo, "config", "user.name", "Bench")
    git(repo, "config", "user.email", "bench@example.invalid")
    # The pre-commit framework's run needs its config committed; one trivial
    # local hook measures the framework's own cost.
    (repo / ".pre-commit-config.yaml").write_text(PRE_COMMIT_CONFIG)
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "-m", "Add a pre-commit config")
    rng = random.Random(6)
    lines = [l for _, _, d in rust_sources(vendor)[:400] for l in d.decode("utf-8", "replace").splitlines()]
    lines = [l for l in lines if l.strip() and len(l) < 100 and "key" not in l.lower()]
    tracked = sorted(
        p for p in git(repo, "ls-files", "*.rs", capture_output=True, text=True).stdout.split()
    )
    edited = rng.sample(tracked, 5)
    for p in edited:
        with open(repo / p, "a") as f:
            start = rng.randrange(len(lines) - 50)
            f.write("\n".join(lines[start : start + 50]) + "\n")
    for i in range(5):
        start = rng.randrange(len(lines) - 50)
        (repo / f"src/new_{i}.rs").parent.mkdir(parents=True, exist_ok=True)
        (repo / f"src/new_{i}.rs").write_text("\n".join(lines[start : start + 50]) + "\n")
    git(repo, "add", "-A")
    stat = git(repo, "diff", "--cached", "--shortstat", capture_output=True, text=True).stdout.strip()
    files = len(git(repo, "ls-files", capture_output=True, text=True).stdout.splitlines())
    print(f"typical: {stat} in a repository of {files} files", file=sys.stderr)


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
UPPER32 = string.ascii_uppercase + "234567"


def fake_secrets(rng):
    """(type, line of code holding it) for each kind of fake credential."""
    b64 = ALNUM + "+/"
    pem_body = "\n".join(rand(rng, b64, 64) for _ in range(6))
    return [
        ("aws-access-key-id", f'let aws_key_id = "AKIA{rand(rng, UPPER32, 16)}";'),
        ("github-pat", f'let gh = "ghp_{rand(rng, ALNUM, 36)}";'),
        ("github-fine-grained-pat", f'let gh = "github_pat_{rand(rng, ALNUM + "_", 82)}";'),
        ("gitlab-pat", f'let gl = "glpat-{rand(rng, ALNUM, 20)}";'),
        ("slack-bot-token", f'let slack = "xoxb-{rand(rng, string.digits, 12)}-{rand(rng, string.digits, 13)}-{rand(rng, ALNUM, 24)}";'),
        ("stripe-live-key", f'let stripe = "sk_live_{rand(rng, ALNUM, 24)}";'),
        ("google-api-key", f'let gcp = "AIza{rand(rng, ALNUM + "_-", 35)}";'),
        ("npm-token", f'let npm = "npm_{rand(rng, ALNUM, 36)}";'),
        ("sendgrid-api-key", f'let sg = "SG.{rand(rng, ALNUM, 22)}.{rand(rng, ALNUM, 43)}";'),
        ("twilio-api-key", f'let twilio_key = "SK{rand(rng, HEX, 32)}";'),
        ("digitalocean-token", f'let digitalocean = "dop_v1_{rand(rng, HEX, 64)}";'),
        ("shopify-token", f'let shop = "shpat_{rand(rng, HEX, 32)}";'),
        ("huggingface-token", f'let hf = "hf_{rand(rng, string.ascii_letters, 34)}";'),
        ("anthropic-api-key", f'let anthropic = "sk-ant-api03-{rand(rng, ALNUM, 93)}AA";'),
        ("openai-api-key", f'let openai = "sk-proj-{rand(rng, ALNUM, 74)}T3BlbkFJ{rand(rng, ALNUM, 74)}";'),
        ("pulumi-token", f'let pulumi = "pul-{rand(rng, HEX, 40)}";'),
        ("postman-api-key", f'let postman = "PMAK-{rand(rng, HEX, 24)}-{rand(rng, HEX, 34)}";'),
        ("rubygems-api-key", f'let gem = "rubygems_{rand(rng, HEX, 48)}";'),
        ("databricks-token", f'let databricks = "dapi{rand(rng, HEX, 32)}";'),
        ("linear-api-key", f'let linear = "lin_api_{rand(rng, ALNUM, 40)}";'),
        ("private-key", f'const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----";'),
        ("generic-password", f'let password = "{rand(rng, ALNUM + "!#%", 24)}";'),
    ]


def build_big(vendor, repo, manifest, files=2000, target_mb=50, per_kind=4):
    fresh_repo(repo)
    (repo / "README.md").write_text("benchmark corpus\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "init")
    sources = rust_sources(vendor)
    rng = random.Random(2000)
    per_file = target_mb * 1_000_000 // files
    # Which files get a planted secret, and which secret.
    kinds = []
    for _ in range(per_kind):
        kinds += fake_secrets(rng)
    hosts = sorted(rng.sample(range(files), len(kinds)))
    plant = dict(zip(hosts, kinds))
    planted = []
    cursor = 0
    for i in range(files):
        buf = bytearray()
        while len(buf) < per_file:
            buf += sources[cursor % len(sources)][2]
            cursor += 1
        text = buf[:per_file].decode("utf-8", "ignore")
        text = text[: text.rfind("\n") + 1] if "\n" in text else text + "\n"
        path = f"src/bulk/{i // 100:02}/file_{i:04}.rs"
        if i in plant:
            kind, line = plant[i]
            lines = text.split("\n")
            at = rng.randrange(1, max(2, len(lines) - 1))
            lines.insert(at, line)
            text = "\n".join(lines)
            # 1-based line of the secret's first character.
            planted.append({"kind": kind, "path": path, "line": at + 1})
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    manifest.write_text(json.dumps(planted, indent=1) + "\n")
    stat = git(repo, "diff", "--cached", "--shortstat", capture_output=True, text=True).stdout.strip()
    print(f"big: {stat}; {len(planted)} fake secrets planted", file=sys.stderr)


BUSY_FILES = 10_000
BUSY_COMMITS = 300


def build_busy(vendor, repo, files=BUSY_FILES, commits=BUSY_COMMITS):
    """A large tree committed at once, then many small commits on it."""
    fresh_repo(repo)
    rng = random.Random(16)
    tree = {}
    for crate, rel, data in vendor_files(vendor):
        tree[f"crates/{crate}/{rel}"] = data
    # Topped up with second copies of the first crates' files (real text).
    extra = sorted(tree.items())[: max(0, files - len(tree))]
    for path, data in extra:
        tree["mirror/" + path] = data
    while len(tree) > files:
        tree.pop(max(tree))
    lines = [
        l
        for _, _, d in rust_sources(vendor)[:800]
        for l in d.decode("utf-8", "replace").splitlines()
        if l.strip() and len(l) < 120
    ]
    stream = bytearray()

    def commit(n, msg, ops):
        when = EPOCH + n * 600
        m = msg.encode()
        stream.extend(b"commit refs/heads/main\n")
        stream.extend(f"mark :{n}\n".encode())
        stream.extend(f"author Bench <bench@example.invalid> {when} +0000\n".encode())
        stream.extend(f"committer Bench <bench@example.invalid> {when} +0000\n".encode())
        stream.extend(f"data {len(m)}\n".encode() + m + b"\n")
        if n > 1:
            stream.extend(f"from :{n - 1}\n".encode())
        for op in ops:
            stream.extend(op)
        stream.extend(b"\n")

    def modify(path, data):
        return f"M 100644 inline {path}\n".encode() + f"data {len(data)}\n".encode() + data + b"\n"

    commit(1, "Import the tree", [modify(p, d) for p, d in sorted(tree.items())])
    sources = sorted(p for p in tree if p.endswith(".rs"))
    touched = 0
    for n in range(2, commits + 2):
        ops = []
        for _ in range(rng.randint(1, 5)):
            roll = rng.random()
            if roll < 0.03 and sources:
                # A deletion.
                path = sources.pop(rng.randrange(len(sources)))
                del tree[path]
                ops.append(f"D {path}\n".encode())
            elif roll < 0.06 and sources:
                # An exact rename.
                path = sources.pop(rng.randrange(len(sources)))
                new = path[: -len(".rs")] + "_moved.rs"
                if new in tree:
                    continue
                tree[new] = tree.pop(path)
                sources.append(new)
                ops.append(f"R {path} {new}\n".encode())
            elif roll < 0.16:
                # A new file of real source lines.
                path = f"src/feature_{n}_{len(ops)}.rs"
                start = rng.randrange(len(lines) - 80)
                data = ("\n".join(lines[start : start + rng.randint(20, 80)]) + "\n").encode()
                tree[path] = data
                sources.append(path)
                ops.append(modify(path, data))
            else:
                # An edit: a few lines replaced and a few added, at one place.
                path = rng.choice(sources)
                old = tree[path].decode("utf-8", "replace").split("\n")
                at = rng.randrange(len(old))
                start = rng.randrange(len(lines) - 30)
                new_lines = lines[start : start + rng.randint(2, 30)]
                old[at : at + rng.randint(0, 5)] = new_lines
                data = "\n".join(old).encode()
                tree[path] = data
                ops.append(modify(path, data))
            touched += 1
        commit(n, f"Change {n}", ops)
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"], input=bytes(stream), env=ENV, check=True
    )
    git(repo, "checkout", "-q", "-f", "main")
    print(f"busy: {len(tree)} files, 1 import + {commits} commits touching {touched} files", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["history", "typical", "big", "busy"])
    ap.add_argument("--vendor", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--history", type=Path)
    ap.add_argument("--manifest", type=Path)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--at", type=int)
    a = ap.parse_args()
    a.vendor, a.out = a.vendor.resolve(), a.out.resolve()
    a.history = a.history and a.history.resolve()
    if a.what == "history":
        build_history(a.vendor, a.out)
    elif a.what == "typical":
        build_typical(a.vendor, a.history, a.out, a.at)
    elif a.what == "busy":
        build_busy(a.vendor, a.out)
    else:
        build_big(a.vendor, a.out, a.manifest, a.files, a.mb)


if __name__ == "__main__":
    main()
