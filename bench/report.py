#!/usr/bin/env python3
"""Prints bench/run's results: one table per scenario (median, mean ± σ,
ratios to the git floor and to gitleaks), the budgets of issues 6 and 16 met
or missed, and detection on the planted
fake secrets against gitleaks. Reads only what bench/run wrote."""

import json
import sys
from pathlib import Path

res = Path(sys.argv[1])
planted_path = Path(sys.argv[2])


def load(name):
    """One scenario's results, with those of its slow peers (fewer runs)."""
    rows = {}
    for p in (res / f"{name}.json", res / f"{name}-slow.json"):
        if p.exists():
            rows.update({r["command"]: r for r in json.loads(p.read_text())["results"]})
    return rows or None


def ms(s):
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.2f} s"


def cpu(r):
    return r["user"] + r["system"]


verdicts = []


def verdict(what, ok, detail):
    verdicts.append(f"| {what} | {'met' if ok else 'MISSED'} | {detail} |")


def table(title, rows, baseline, tollgate="tollgate"):
    print(f"\n### {title}\n")
    print(
        f"| command | median (wall) | mean ± σ | CPU (user+sys) | × {baseline} (wall) | × gitleaks (wall)"
        f" | × {tollgate} (wall) | × {baseline} (CPU) | × gitleaks (CPU) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = rows.get(baseline)
    tg = rows.get(tollgate)
    gl = rows.get("gitleaks")
    for name, r in rows.items():
        med = r["median"]
        rb = f"{med / base['median']:.2f}" if base else "–"
        rg = f"{med / gl['median']:.2f}" if gl else "–"
        rt = f"{med / tg['median']:.2f}" if tg else "–"
        rc = f"{cpu(r) / cpu(base):.2f}" if base else "–"
        rgc = f"{cpu(r) / cpu(gl):.2f}" if gl else "–"
        print(
            f"| {name} | {ms(med)} | {ms(r['mean'])} ± {ms(r['stddev'] or 0)} | {ms(cpu(r))}"
            f" | {rb} | {rg} | {rt} | {rc} | {rgc} |"
        )


def ratio(rows, a, b):
    """Wall and CPU ratio of command `a` to command `b`, or None."""
    if a in rows and b in rows:
        return rows[a]["median"] / rows[b]["median"], cpu(rows[a]) / cpu(rows[b])
    return None


def ratio_verdict(what, rows, a, b, limit):
    r = ratio(rows, a, b)
    if r:
        verdict(what, r[0] <= limit, f"{r[0]:.2f}× wall, {r[1]:.2f}× CPU")


# Issue 16's budget for each repository of the hook (ms added to `git commit`).
HOOK_BUDGET = {"commit-small": 10, "commit": 10, "commit-large": 15}
for name, where in [
    ("commit-small", "small repository"),
    ("commit", "large repository (vendored history)"),
    ("commit-large", "10,000-file repository"),
]:
    commit = load(name)
    if not commit or "none" not in commit:
        continue
    none = commit["none"]["median"]
    none_cpu = cpu(commit["none"])
    print(f"\n### Pre-commit hook, typical commit (10 files, 500 added lines), {where}: whole `git commit`\n")
    print("| hook | median `git commit` (wall) | added (wall) | CPU (user+sys) | added (CPU) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for n, r in commit.items():
        print(
            f"| {n} | {ms(r['median'])} | +{(r['median'] - none) * 1000:.1f} ms"
            f" | {ms(cpu(r))} | +{(cpu(r) - none_cpu) * 1000:.1f} ms |"
        )
    if "tollgate" in commit:
        added = (commit["tollgate"]["median"] - none) * 1000
        added_cpu = (cpu(commit["tollgate"]) - none_cpu) * 1000
        budget = HOOK_BUDGET[name]
        verdict(
            f"hooks add ≤ {budget} ms to `git commit` ({where})",
            added <= budget,
            f"+{added:.1f} ms wall, +{added_cpu:.1f} ms CPU",
        )

big = load("big")
if big:
    table("~50 MB staged change", big, "git diff --cached")
    if "tollgate" in big and "git diff --cached" in big:
        r = big["tollgate"]["median"] / big["git diff --cached"]["median"]
        verdict("50 MB staged ≤ 1.3× `git diff --cached`", r <= 1.3, f"{r:.2f}×")

for name, title, base in [
    ("range", "300-commit range (vendored history: whole crates a commit)", "git log -p (range)"),
    ("history", "whole history (vendored history)", "git log -p --all"),
    ("busy-range", "300 small commits on a 10,000-file tree (range)", "git log -p (range)"),
    ("busy-history", "whole history of the 10,000-file tree", "git log -p --all"),
]:
    rows = load(name)
    if rows:
        table(title, rows, base)
        ratio_verdict(f"{title} ≤ 0.5× gitleaks", rows, "tollgate", "gitleaks", 0.5)
        if name == "busy-range":
            ratio_verdict(f"{title} ≤ 1.2× `git log -p`", rows, "tollgate", base, 1.2)

trail = load("trail-range")
if trail:
    table("verify and check --range, 10,000 commits with 1,000 records (cold)", trail, "git log -p (range)", "check --range")
    ratio_verdict("verify ≤ 1.2× `check --range` (many records)", trail, "verify", "check --range", 1.2)

# tollgate's peak RSS on the 50 MB change when issue 16 began (RESULTS.md).
RSS_BEFORE_MIB = 12.1
rss = res / "rss.tsv"
if rss.exists():
    print("\n### Peak RSS on the 50 MB change\n")
    print("| command | peak RSS |")
    print("| --- | ---: |")
    for line in rss.read_text().splitlines():
        if "\t" not in line:
            continue
        name, kb = line.rsplit("\t", 1)
        if not kb.strip().isdigit():
            continue
        print(f"| {name} | {int(kb) / 1024:.1f} MiB |")
        if name == "tollgate":
            verdict("peak RSS < 64 MiB on the 50 MB change", int(kb) < 64 * 1024, f"{int(kb) / 1024:.1f} MiB")
            verdict(
                f"peak RSS on the 50 MB change not above issue 16's start ({RSS_BEFORE_MIB} MiB)",
                int(kb) / 1024 <= RSS_BEFORE_MIB,
                f"{int(kb) / 1024:.1f} MiB",
            )

# Detection: a planted secret is found when a finding is in its file within
# one line of it (tools differ on 0/1-based lines and multi-line keys).
if planted_path.exists():
    planted = json.loads(planted_path.read_text())

    def tollgate_findings(p):
        out = []
        for f in json.loads(p.read_text()).get("findings", []):
            loc = f.get("location", {})
            out.append((loc.get("path"), loc.get("line") or 0, f.get("constraint")))
        return out

    def gitleaks_findings(p):
        return [(f["File"], f["StartLine"], f["RuleID"]) for f in json.loads(p.read_text() or "[]")]

    results = {}
    for tool, parse in [("tollgate", tollgate_findings), ("gitleaks", gitleaks_findings)]:
        p = res / f"found-{tool}.json"
        if not p.exists() or not p.read_text().strip():
            continue
        found = parse(p)
        hit = set()
        fps = []
        for path, line, rule in found:
            match = [i for i, s in enumerate(planted) if s["path"] == path and abs(s["line"] - line) <= 1]
            if match:
                hit.update(match)
            else:
                fps.append((path, line, rule))
        missed = sorted({planted[i]["kind"] for i in range(len(planted)) if i not in hit})
        results[tool] = (len(hit), len(fps), missed, len(found))
    hist = {}
    for tool, parse in [("tollgate", tollgate_findings), ("gitleaks", gitleaks_findings)]:
        p = res / f"history-{tool}.json"
        if p.exists() and p.read_text().strip():
            hist[tool] = len(parse(p))
    print(f"\n### Detection on {len(planted)} planted fake secrets ({len({s['kind'] for s in planted})} kinds), 50 MB change\n")
    print("| tool | found | recall | other findings (false positives) | findings on the vendored history | kinds missed |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for tool, (hit, fp, missed, total) in results.items():
        print(
            f"| {tool} | {hit}/{len(planted)} | {hit / len(planted):.0%} | {fp} | {hist.get(tool, '–')} | {', '.join(missed) or '–'} |"
        )
    if "tollgate" in results and "gitleaks" in results:
        t, g = results["tollgate"], results["gitleaks"]
        verdict("recall ≥ gitleaks' on the planted set", t[0] >= g[0], f"{t[0]} vs {g[0]}")
        verdict("false positives ≤ gitleaks' (planted set)", t[1] <= g[1], f"{t[1]} vs {g[1]}")
        if "tollgate" in hist and "gitleaks" in hist:
            verdict(
                "findings on ordinary source (vendored history) ≤ gitleaks'",
                hist["tollgate"] <= hist["gitleaks"],
                f"{hist['tollgate']} vs {hist['gitleaks']}",
            )

skipped = res / "skipped.txt"
if skipped.exists():
    print("\n### Skipped peers\n")
    for line in skipped.read_text().splitlines():
        print(f"- {line.replace(chr(9), ': ')}")

print("\n### Budgets\n")
print("| budget | verdict | measured |")
print("| --- | --- | --- |")
print("\n".join(verdicts))
