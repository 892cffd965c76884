//! Tests of policy loading and diagnostics.

use super::load::compile_secret;
use super::*;
use std::ops::Range;

fn load_str(text: &str) -> Result<Policy, Diagnostics> {
    load(
        Some(Source::new("t.toml", text)),
        crate::clock::now().date_naive(),
    )
}

fn ok(text: &str) -> Policy {
    load_str(text).unwrap_or_else(|d| panic!("expected a valid policy, got:\n{d}"))
}

fn problems(text: &str) -> Vec<Diagnostic> {
    match load_str(text) {
        Ok(p) => panic!(
            "expected problems, got a policy with {} constraints",
            p.constraints.len()
        ),
        Err(d) => d.0,
    }
}

/// The only problem in `text`: its message and `(line, column)`.
fn one_problem(text: &str) -> (String, (usize, usize)) {
    let d = problems(text);
    assert_eq!(
        d.len(),
        1,
        "expected one problem, got:\n{}",
        Diagnostics(d.clone())
    );
    (d[0].message.clone(), d[0].line_col())
}

fn ids(p: &Policy) -> Vec<&str> {
    p.constraints.iter().map(|c| c.id.as_str()).collect()
}

/// The recommended pack's constraints, as loaded with no policy file.
fn recommended() -> Policy {
    load(None, crate::clock::now().date_naive()).unwrap_or_else(|d| panic!("{d}"))
}

/// The path set of a one-constraint policy `[[forbidden-path]] paths = globs`.
fn path_set(globs: &[&str]) -> PathSet {
    let list = globs
        .iter()
        .map(|g| format!("{g:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let p = ok(&format!(
        "[[forbidden-path]]\nid = \"p\"\npaths = [{list}]\n"
    ));
    match &p.constraints[0].kind {
        Kind::ForbiddenPath { paths } => paths.clone(),
        k => panic!("unexpected kind {}", k.name()),
    }
}

/// The branch set of a one-constraint policy `[[force-push]] branches = globs`.
fn branch_set(globs: &[&str]) -> BranchSet {
    let list = globs
        .iter()
        .map(|g| format!("{g:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let p = ok(&format!(
        "[[force-push]]\nid = \"b\"\nbranches = [{list}]\n"
    ));
    match &p.constraints[0].kind {
        Kind::ForcePush { branches } => branches.clone(),
        k => panic!("unexpected kind {}", k.name()),
    }
}

fn secret_spec(p: &Policy, id: &str) -> SecretSpec {
    match &p.constraint(id).expect("constraint").kind {
        Kind::Secret(s) => (**s).clone(),
        k => panic!("unexpected kind {}", k.name()),
    }
}

// ---------------------------------------------------------------------------
// Loading and merging
// ---------------------------------------------------------------------------

#[test]
fn no_file_loads_the_recommended_pack() {
    let p = recommended();
    assert_eq!(p.sources, ["builtin:recommended"]);
    let text = builtin_pack("recommended").expect("recommended pack");
    // The pack is its main file plus every rule family file, and the
    // builtin policy-change constraint.
    let headers = std::iter::once(text)
        .chain(builtin_parts("recommended").iter().map(|(_, t)| *t))
        .flat_map(str::lines)
        .filter(|l| l.starts_with("[["))
        .count();
    assert_eq!(p.constraints.len(), headers + 1);
    assert_eq!(
        p.constraints.last().map(|c| c.id.as_str()),
        Some(POLICY_CHANGE_ID)
    );
    assert!(!SECRET_FAMILIES.is_empty());
    assert!(matches!(
        p.constraint("no-force-push-protected").map(|c| &c.kind),
        Some(Kind::ForcePush { .. })
    ));
    assert!(matches!(
        p.constraint("no-delete-protected").map(|c| &c.kind),
        Some(Kind::ProtectedBranch { .. })
    ));
    assert!(matches!(
        p.constraint("no-env-files").map(|c| &c.kind),
        Some(Kind::ForbiddenPath { .. })
    ));
    assert!(matches!(
        p.constraint("aws-access-key-id").map(|c| &c.kind),
        Some(Kind::Secret(_))
    ));
    assert!(p
        .constraints
        .iter()
        .all(|c| c.origin == "builtin:recommended" || c.id == POLICY_CHANGE_ID));
    assert_eq!(p.warnings, WarningMode::Acknowledge);
    assert_eq!(p.max_ttl, None);
}

#[test]
fn a_file_constraint_replaces_the_packs_in_place() {
    let base = recommended();
    let p = ok(r#"
extends = ["builtin:recommended"]

[[force-push]]
id = "no-force-push-protected"
severity = "warn"
branches = ["develop"]
"#);
    assert_eq!(p.sources, ["builtin:recommended", "t.toml"]);
    // Same ids in the same order: replaced, not appended.
    assert_eq!(ids(&p), ids(&base));
    let c = p
        .constraint("no-force-push-protected")
        .expect("replaced constraint");
    assert_eq!(c.origin, "t.toml");
    assert_eq!(c.severity, Severity::Warn);
    let Kind::ForcePush { branches } = &c.kind else {
        panic!("kind {}", c.kind.name())
    };
    assert!(branches.matches_ref("refs/heads/develop"));
    assert!(
        !branches.matches_ref("refs/heads/main"),
        "the pack's branches are gone"
    );
    assert_eq!(
        p.constraints
            .iter()
            .filter(|c| c.id == "no-force-push-protected")
            .count(),
        1
    );
}

#[test]
fn a_new_file_constraint_is_appended_after_the_pack() {
    let base = recommended();
    let p = ok(r#"
extends = ["builtin:recommended"]

[[forbidden-path]]
id = "no-dumps"
paths = ["*.sql.gz"]
"#);
    assert_eq!(p.constraints.len(), base.constraints.len() + 1);
    // After the pack's, before the builtin policy-change constraint.
    assert_eq!(
        p.constraints.iter().rev().nth(1).map(|c| c.id.as_str()),
        Some("no-dumps")
    );
}

#[test]
fn a_file_without_extends_has_only_its_own_constraints() {
    let p = ok("[[forbidden-path]]\nid = \"no-dumps\"\npaths = [\"*.sql.gz\"]\n");
    assert_eq!(ids(&p), ["no-dumps", POLICY_CHANGE_ID]);
    assert_eq!(p.sources, ["t.toml"]);
}

fn policy_change(p: &Policy) -> (&Constraint, &PolicyChangeSpec) {
    let c = p.constraint(POLICY_CHANGE_ID).expect("always present");
    let Kind::PolicyChange(spec) = &c.kind else {
        panic!("{c:?}")
    };
    (c, spec)
}

#[test]
fn the_policy_change_constraint_survives_extends_and_cannot_be_lowered() {
    for text in ["extends = []\n", "", "[settings]\nwarnings = \"print\"\n"] {
        let p = ok(text);
        let (c, spec) = policy_change(&p);
        assert_eq!(c.severity, Severity::Block);
        assert_eq!(c.override_mode, OverrideMode::Token);
        for path in [
            ".tollgate.toml",
            ".tollgate/allowed_signers",
            ".tollgate/baseline.json",
            ".github/workflows/ci.yml",
            ".gitlab-ci.yml",
            ".pre-commit-config.yaml",
        ] {
            assert!(spec.guards(path.as_bytes()), "{path}");
        }
        assert!(!spec.guards(b"src/main.rs"));
        assert!(!spec.guards(b"sub/.gitlab-ci.yml"));
    }
    // A policy may add paths; the builtin ones stay.
    let p = ok("[[policy-change]]\nid = \"tollgate-policy-change\"\npaths = [\"deploy/**\"]\n");
    let (_, spec) = policy_change(&p);
    assert!(spec.guards(b"deploy/prod.yml") && spec.guards(b".tollgate.toml"));
    assert_eq!(p.constraints.len(), 1);
    // Never lowered: not a warning, not `never`, no allow rule, no other kind under its id.
    for (text, needle) in [
        ("[[policy-change]]\nid = \"tollgate-policy-change\"\nseverity = \"warn\"\n", "always a blocker"),
        ("[[policy-change]]\nid = \"tollgate-policy-change\"\noverride = \"never\"\n", "could then never change"),
        ("[[forbidden-path]]\nid = \"tollgate-policy-change\"\npaths = [\"x\"]\n", "only a `[[policy-change]]` entry"),
        ("[[allow]]\nconstraint = \"tollgate-policy-change\"\npaths = [\".tollgate.toml\"]\nreason = \"r\"\nexpires = 2026-12-31\n", "no allow rule relaxes it"),
    ] {
        let d = load_str(text).expect_err(text).to_string();
        assert!(d.contains(needle), "{text}\n{d}");
    }
}

#[test]
fn the_policy_change_constraint_takes_the_strictest_approval_in_the_policy() {
    let p = ok(r#"
[[force-push]]
id = "no-force-main"
branches = ["main"]
override = "two-key"
approvers = ["*@security.example.com"]

[[secret]]
id = "k"
regex = "k[0-9]{8}"
override = "two-key"
approvers = ["lead@example.com", "*@security.example.com"]

[[policy-change]]
id = "tollgate-policy-change"
override = "token"
"#);
    let (c, _) = policy_change(&p);
    assert_eq!(c.override_mode, OverrideMode::TwoKey);
    assert_eq!(c.approvers, ["*@security.example.com", "lead@example.com"]);
    // The effective policy shows it as it is enforced.
    let shown = p.to_toml();
    assert!(shown.contains("[[policy-change]]"), "{shown}");
    assert!(shown.contains("override = \"two-key\""), "{shown}");
}

#[test]
fn every_builtin_pack_loads() {
    assert!(!BUILTIN_PACKS.is_empty());
    for (name, _) in BUILTIN_PACKS {
        let p = load_str(&format!("extends = [\"builtin:{name}\"]\n"))
            .unwrap_or_else(|d| panic!("builtin:{name} does not load:\n{d}"));
        assert!(
            !p.constraints.is_empty(),
            "builtin:{name} has no constraints"
        );
        assert!(
            p.sources.contains(&format!("builtin:{name}")),
            "{:?}",
            p.sources
        );
        assert_eq!(p.sources.last().map(String::as_str), Some("t.toml"));
    }
}

#[test]
fn strict_adds_to_recommended() {
    let base = recommended();
    let p = ok("extends = [\"builtin:strict\"]\n");
    assert_eq!(
        p.sources,
        ["builtin:recommended", "builtin:strict", "t.toml"]
    );
    // The pack's constraints in order (the builtin policy-change one is last).
    let n = base.constraints.len() - 1;
    assert_eq!(&ids(&p)[..n], &ids(&base)[..n]);
    assert!(p.constraint("no-direct-commit-protected").is_some());
    assert!(p.constraint("max-file-size").is_some());
}

#[test]
fn a_pack_extended_twice_is_merged_once() {
    let strict = ok("extends = [\"builtin:strict\"]\n");
    let p = ok("extends = [\"builtin:strict\", \"builtin:recommended\"]\n");
    assert_eq!(ids(&p), ids(&strict));
    assert_eq!(
        p.sources,
        ["builtin:recommended", "builtin:strict", "t.toml"]
    );
}

#[test]
fn unknown_pack_is_reported_at_its_name() {
    let (msg, at) = one_problem("extends = [\"builtin:recommended\", \"builtin:nope\"]\n");
    assert!(
        msg.starts_with("unknown policy pack `builtin:nope`"),
        "{msg}"
    );
    assert!(
        msg.contains("`builtin:recommended`") && msg.contains("`builtin:strict`"),
        "{msg}"
    );
    assert_eq!(at, (1, 35));
}

#[test]
fn settings_and_overrides_are_read() {
    let p = ok(r#"
[settings]
warnings = "print"

[overrides]
max-ttl = "2h"
reasons = ["hotfix", "false-positive"]
"#);
    assert_eq!(p.warnings, WarningMode::Print);
    assert_eq!(p.max_ttl, Some(Duration::from_secs(7200)));
    assert_eq!(p.reasons, ["hotfix", "false-positive"]);
}

#[test]
fn defaults_of_a_constraint() {
    let p = ok("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\n");
    let c = &p.constraints[0];
    assert_eq!(c.severity, Severity::Block);
    assert_eq!(c.override_mode, OverrideMode::Token);
    assert_eq!(c.max_ttl, None);
    assert!(c.approvers.is_empty());
    assert_eq!(c.description, "");
}

// ---------------------------------------------------------------------------
// Problems
// ---------------------------------------------------------------------------

#[test]
fn every_problem_is_reported_before_stopping() {
    let text = r#"
[overrides]
max-ttl = "0m"
reasons = ["Hot Fix"]

[[force-push]]
id = "Bad_Id"
branches = []

[[force-push]]
id = "fp-two"
branches = ["main"]
approvers = ["a@example.com"]

[[force-push]]
id = "fp-two"
branches = ["main"]

[[force-push]]
id = "fp-three"
branches = "main"
"#;
    let d = problems(text);
    let found: Vec<(usize, &str)> = d
        .iter()
        .map(|d| (d.line_col().0, d.message.as_str()))
        .collect();
    assert_eq!(d.len(), 7, "{}", Diagnostics(d.clone()));
    assert_eq!(
        found.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [3, 4, 7, 8, 13, 16, 21],
        "{}",
        Diagnostics(d.clone())
    );
    assert!(found[0].1.contains("greater than zero"));
    assert!(found[1].1.contains("kebab-case"));
    assert!(found[2].1.contains("must be kebab-case"));
    assert!(found[3].1.contains("`branches` must list at least one"));
    assert!(found[4].1.contains("`approvers` only applies"));
    assert_eq!(
        found[5].1,
        "duplicate constraint id `fp-two` (first defined on line 11)"
    );
    assert!(found[6].1.contains("invalid type"));
}

#[test]
fn problems_are_in_file_order_when_kinds_interleave() {
    let d = problems(
        "[[secret]]\nid = \"a\"\nregex = \"(x\"\n\n[[force-push]]\nid = \"B\"\nbranches = [\"main\"]\n\n[[secret]]\nid = \"c\"\nregex = \"(y\"\n",
    );
    let lines: Vec<usize> = d.iter().map(|d| d.line_col().0).collect();
    assert_eq!(lines, [3, 6, 11]);
}

#[test]
fn duplicate_id_is_reported_even_when_the_first_entry_is_malformed() {
    let d = problems(
        "[[force-push]]\nid = \"a\"\nbranches = \"main\"\n\n[[forbidden-path]]\nid = \"a\"\npaths = [\"x\"]\n",
    );
    assert_eq!(d.len(), 2, "{}", Diagnostics(d.clone()));
    assert!(
        d[1].message.starts_with("duplicate constraint id `a`"),
        "{}",
        d[1].message
    );
}

#[test]
fn unknown_keys_are_errors_at_the_key() {
    let (msg, at) = one_problem("[[secrets]]\nid = \"a\"\n");
    assert!(msg.starts_with("unknown key `secrets`"), "{msg}");
    assert_eq!(at, (1, 3));
    let (msg, at) = one_problem("[[secret]]\nid = \"a\"\nregx = \"x\"\n");
    assert!(msg.starts_with("unknown field `regx`"), "{msg}");
    assert_eq!(at, (3, 1));
    let (msg, at) = one_problem("[settings]\nwarning = \"print\"\n");
    assert!(msg.starts_with("unknown field `warning`"), "{msg}");
    assert_eq!(at, (2, 1));
}

#[test]
fn duplicate_ids_across_kinds_are_refused() {
    let (msg, at) = one_problem(
        "[[force-push]]\nid = \"same\"\nbranches = [\"main\"]\n\n[[forbidden-path]]\nid = \"same\"\npaths = [\"x\"]\n",
    );
    assert_eq!(
        msg,
        "duplicate constraint id `same` (first defined on line 2)"
    );
    assert_eq!(at, (6, 6));
}

#[test]
fn kebab_case_ids() {
    for good in ["a", "no-force-push", "v2-keys"] {
        ok(&format!(
            "[[force-push]]\nid = \"{good}\"\nbranches = [\"main\"]\n"
        ));
    }
    for bad in ["", "No", "a_b", "a--b", "-a", "a-", "a b", "é"] {
        let (msg, _) = one_problem(&format!(
            "[[force-push]]\nid = \"{bad}\"\nbranches = [\"main\"]\n"
        ));
        assert!(msg.contains("must be kebab-case"), "{bad:?}: {msg}");
    }
}

#[test]
fn approvers_only_with_two_key() {
    let (msg, at) = one_problem(
        "[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\napprovers = [\"*@sec.example.com\"]\n",
    );
    assert_eq!(
        msg,
        "`approvers` only applies to `override = \"two-key\"` (or `approval = \"two-key\"`)"
    );
    assert_eq!(at, (4, 14));
    let (msg, _) = one_problem(
        "[[force-push]]\nid = \"fp\"\noverride = \"never\"\nbranches = [\"main\"]\napprovers = [\"a@b\"]\n",
    );
    assert!(msg.contains("only applies"), "{msg}");

    let (msg, at) =
        one_problem("[[force-push]]\nid = \"fp\"\noverride = \"two-key\"\nbranches = [\"main\"]\n");
    assert!(
        msg.starts_with("a two-key constraint needs `approvers`"),
        "{msg}"
    );
    assert_eq!(at, (3, 12));

    let p = ok(
        "[[force-push]]\nid = \"fp\"\noverride = \"two-key\"\nbranches = [\"main\"]\napprovers = [\"*@sec.example.com\"]\n",
    );
    assert_eq!(p.constraints[0].override_mode, OverrideMode::TwoKey);
    assert_eq!(p.constraints[0].approvers, ["*@sec.example.com"]);
}

#[test]
fn protected_branch_needs_an_operation() {
    let (msg, at) =
        one_problem("[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = []\n");
    assert!(msg.contains("`on` must name at least one"), "{msg}");
    assert_eq!(at, (4, 6));
}

#[test]
fn max_file_size_must_be_positive() {
    let (msg, at) = one_problem("[[max-file-size]]\nid = \"m\"\nbytes = 0\n");
    assert_eq!(msg, "`bytes` must be greater than 0");
    assert_eq!(at, (3, 9));
}

#[test]
fn forbidden_path_needs_a_glob() {
    let (msg, _) = one_problem("[[forbidden-path]]\nid = \"f\"\npaths = []\n");
    assert!(msg.contains("`paths` must list at least one glob"), "{msg}");
    let (msg, at) = one_problem("[[forbidden-path]]\nid = \"f\"\npaths = [\"a\", \"\"]\n");
    assert_eq!(msg, "empty glob");
    assert_eq!(at, (3, 15));
}

// ---------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------

#[test]
fn durations() {
    assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(30 * 60)));
    assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(2 * 3600)));
    assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
    assert_eq!(parse_duration(" 2h "), Ok(Duration::from_secs(7200)));
    assert!(parse_duration("0m")
        .unwrap_err()
        .contains("greater than zero"));
    let e = parse_duration("5x").unwrap_err();
    assert!(e.contains("`5x`") && e.contains("unit must be"), "{e}");
    for bad in [
        "",
        "m",
        "h2",
        "2",
        "-1h",
        "1.5h",
        "2 h",
        "2H",
        "99999999999999999999d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn token_lifetimes_are_at_most_a_day() {
    assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_ttl("24h"), Ok(MAX_TTL));
    assert_eq!(parse_ttl("1d"), Ok(MAX_TTL));
    assert_eq!(parse_ttl("86400s"), Ok(MAX_TTL));
    for long in ["25h", "86401s", "1441m", "2d", "18446744073709551615d"] {
        let e = parse_ttl(long).unwrap_err();
        assert!(e.contains("maximum duration is 24 hours"), "{long}: {e}");
    }
    assert!(parse_ttl("0m").unwrap_err().contains("greater than zero"));
    assert!(parse_ttl("5x").is_err());
}

#[test]
fn ttl_problems_point_at_the_value() {
    let (msg, at) = one_problem("[overrides]\nmax-ttl = \"25h\"\n");
    assert_eq!(msg, "`25h` is too long: maximum duration is 24 hours");
    assert_eq!(at, (2, 11));
    let (msg, at) =
        one_problem("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\nmax-ttl = \"5x\"\n");
    assert!(msg.contains("unit must be"), "{msg}");
    assert_eq!(at, (4, 11));
    let p = ok("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\nmax-ttl = \"30m\"\n");
    assert_eq!(p.constraints[0].max_ttl, Some(Duration::from_secs(1800)));
}

// ---------------------------------------------------------------------------
// Globs
// ---------------------------------------------------------------------------

#[test]
fn a_path_glob_without_a_slash_matches_at_any_depth() {
    let s = path_set(&[".env"]);
    assert!(s.matches(b".env"));
    assert!(s.matches(b"a/.env"));
    assert!(s.matches(b"a/b/.env"));
    assert!(!s.matches(b"a/b/.env.example"));
    assert!(!s.matches(b"x.env"));
    assert!(!s.matches(b".env/x"));

    let s = path_set(&["*.p12"]);
    assert!(s.matches(b"cert.p12"));
    assert!(s.matches(b"deep/er/cert.p12"));
    assert!(!s.matches(b"cert.p12.txt"));
}

#[test]
fn a_path_glob_with_a_slash_is_anchored() {
    let s = path_set(&["config/*.key"]);
    assert!(s.matches(b"config/a.key"));
    assert!(!s.matches(b"x/config/a.key"), "anchored at the root");
    assert!(!s.matches(b"config/sub/a.key"), "`*` does not cross `/`");

    let s = path_set(&["/config/*.key"]);
    assert!(s.matches(b"config/a.key"));
    assert!(!s.matches(b"x/config/a.key"));

    let s = path_set(&["secrets/**"]);
    assert!(s.matches(b"secrets/a"));
    assert!(s.matches(b"secrets/a/b/c"));
    assert!(!s.matches(b"x/secrets/a"));

    let s = path_set(&["**/fixtures/*.pem"]);
    assert!(s.matches(b"fixtures/a.pem"));
    assert!(s.matches(b"a/b/fixtures/a.pem"));
    assert!(!s.matches(b"a/fixtures/b/a.pem"));
}

#[test]
fn path_globs_match_non_utf8_paths() {
    let s = path_set(&["*.key"]);
    assert!(s.matches(b"dir/\xff\xfe.key"));
    assert!(!s.matches(b"dir/\xff\xfe.txt"));
}

#[test]
fn a_trailing_slash_glob_matches_the_directory_or_is_refused() {
    match load_str("[[forbidden-path]]\nid = \"p\"\npaths = [\"secrets/\"]\n") {
        Err(_) => {}
        Ok(p) => {
            let Kind::ForbiddenPath { paths } = &p.constraints[0].kind else {
                panic!()
            };
            assert!(
                paths.matches(b"secrets/a.txt"),
                "`secrets/` silently matches nothing"
            );
        }
    }
}

#[test]
fn invalid_globs_point_at_the_pattern() {
    let (msg, at) = one_problem("[[forbidden-path]]\nid = \"p\"\npaths = [\"ok\", \"a/{b\"]\n");
    assert!(msg.starts_with("invalid glob `a/{b`"), "{msg}");
    assert_eq!(at, (3, 16));
    let (msg, at) = one_problem("[[force-push]]\nid = \"fp\"\nbranches = [\"release/[a\"]\n");
    assert!(msg.starts_with("invalid glob `release/[a`"), "{msg}");
    assert_eq!(at, (3, 13));
}

#[test]
fn short_branch_patterns_match_heads_only() {
    let s = branch_set(&["release/*"]);
    assert!(s.matches_ref("refs/heads/release/1.0"));
    assert!(
        !s.matches_ref("refs/heads/release/1/2"),
        "`*` does not cross `/`"
    );
    assert!(!s.matches_ref("refs/tags/release/1"));
    assert!(!s.matches_ref("refs/remotes/origin/release/1.0"));
    assert!(!s.matches_ref("release/1.0"), "a full ref name is expected");

    let s = branch_set(&["main"]);
    assert!(s.matches_ref("refs/heads/main"));
    assert!(!s.matches_ref("refs/heads/main2"));
    assert!(!s.matches_ref("refs/heads/feature/main"));
    assert!(!s.matches_ref("refs/tags/main"));
    assert_eq!(s.patterns(), ["main"]);
}

#[test]
fn full_ref_patterns_match_full_refs() {
    let s = branch_set(&["main", "refs/tags/v*"]);
    assert!(s.matches_ref("refs/tags/v1.2.3"));
    assert!(s.matches_ref("refs/heads/main"));
    assert!(!s.matches_ref("refs/heads/v1"));
    assert!(!s.matches_ref("refs/tags/x1"));
    assert!(!s.matches_ref("refs/tags/v1/rc"));
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

#[test]
fn oversized_regexes_are_refused() {
    for regex in [r"a{1000}{1000}", r"\\w{5000}"] {
        let (msg, at) = one_problem(&format!("[[secret]]\nid = \"s\"\nregex = \"{regex}\"\n"));
        assert!(msg.contains("too large"), "{regex}: {msg}");
        assert_eq!(at, (3, 9));
    }
}

#[test]
fn invalid_regexes_say_why_in_one_line() {
    let (msg, at) = one_problem("[[secret]]\nid = \"s\"\nregex = '''tok_([a-z]'''\n");
    assert_eq!(msg, "invalid regex: unclosed group");
    assert_eq!(at, (3, 9));
    let (msg, at) =
        one_problem("[[secret]]\nid = \"s\"\nregex = \"x\"\nallow-regex = [\"ok\", \"[z\"]\n");
    assert!(
        msg.starts_with("invalid regex:") && !msg.contains('\n'),
        "{msg}"
    );
    assert_eq!(at, (4, 22));
}

#[test]
fn secret_group_must_exist() {
    let (msg, at) = one_problem("[[secret]]\nid = \"s\"\nregex = \"(a)(b)\"\nsecret-group = 3\n");
    assert_eq!(
        msg,
        "`secret-group` is 3 but the regex has 2 capture group(s)"
    );
    assert_eq!(at, (4, 16));
    let (msg, _) = one_problem("[[secret]]\nid = \"s\"\nregex = \"ab\"\nsecret-group = 1\n");
    assert!(msg.contains("has 0 capture group"), "{msg}");

    let p = ok(r#"
[[secret]]
id = "explicit"
regex = "(a)(b)"
secret-group = 2

[[secret]]
id = "default-first-group"
regex = "x(a)"

[[secret]]
id = "default-whole-match"
regex = "xa"

[[secret]]
id = "group-zero"
regex = "x(a)"
secret-group = 0
"#);
    assert_eq!(secret_spec(&p, "explicit").secret_group, 2);
    assert_eq!(secret_spec(&p, "default-first-group").secret_group, 1);
    assert_eq!(secret_spec(&p, "default-whole-match").secret_group, 0);
    assert_eq!(secret_spec(&p, "group-zero").secret_group, 0);
}

#[test]
fn secret_fields_are_compiled() {
    let p = ok(r#"
[[secret]]
id = "s"
regex = '''^tok_(\w+)$'''
keywords = ["TOK_", "Key"]
entropy = 3.5
paths = ["src/**"]
exclude-paths = ["*.md"]
allow-regex = ["EXAMPLE"]
"#);
    let s = secret_spec(&p, "s");
    assert_eq!(s.keywords, ["tok_", "key"], "keywords are lower-cased");
    assert_eq!(s.entropy, Some(3.5));
    assert!(s.regex.is_match(b"x\ntok_abc\ny"), "multi-line mode");
    assert!(s.paths.as_ref().is_some_and(|p| p.matches(b"src/a/b.rs")));
    assert!(s
        .exclude_paths
        .as_ref()
        .is_some_and(|p| p.matches(b"src/README.md")));
    assert_eq!(s.allow.len(), 1);
}

#[test]
fn secret_values_are_checked() {
    let (msg, at) = one_problem("[[secret]]\nid = \"s\"\nregex = \"x\"\nentropy = 8.5\n");
    assert!(msg.contains("between 0 and 8"), "{msg}");
    assert_eq!(at, (4, 11));
    let (msg, at) =
        one_problem("[[secret]]\nid = \"s\"\nregex = \"x\"\nkeywords = [\"a\", \"\"]\n");
    assert_eq!(msg, "keywords must not be empty");
    assert_eq!(at, (4, 18));
}

// ---------------------------------------------------------------------------
// Show and digest
// ---------------------------------------------------------------------------

#[test]
fn to_toml_loads_again_with_the_same_constraints() {
    for text in [
        "extends = [\"builtin:strict\"]\n[settings]\nwarnings = \"print\"\n[overrides]\nmax-ttl = \"1h\"\nreasons = [\"hotfix\"]\n",
        "[[force-push]]\nid = \"fp\"\noverride = \"two-key\"\napprovers = [\"*@x\"]\nmax-ttl = \"10m\"\nbranches = [\"main\"]\n",
    ] {
        let p = ok(text);
        let again = ok(&p.to_toml());
        let mut a = ids(&p);
        let mut b = ids(&again);
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        assert_eq!(again.warnings, p.warnings);
        assert_eq!(again.max_ttl, p.max_ttl);
        assert_eq!(again.reasons, p.reasons);
        for c in &p.constraints {
            let d = again.constraint(&c.id).expect("same id");
            assert_eq!((d.severity, d.override_mode, d.max_ttl), (c.severity, c.override_mode, c.max_ttl));
            assert_eq!(d.approvers, c.approvers);
            assert_eq!(d.kind.name(), c.kind.name());
        }
    }
}

#[test]
fn digest_is_stable_and_sees_changes() {
    let a = ok("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\n");
    let b = ok("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\n");
    let c = ok("[[force-push]]\nid = \"fp\"\nbranches = [\"master\"]\n");
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert_eq!(a.digest().len(), 64);
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// The display column (tab stops every 8) reached after `s`.
fn display_width(s: &str) -> usize {
    s.chars().fold(0, |col, c| {
        if c == '\t' {
            (col / 8 + 1) * 8
        } else {
            col + 1
        }
    })
}

#[test]
fn rendered_diagnostic_has_location_and_caret() {
    let d = &problems("[[max-file-size]]\nid = \"m\"\nbytes = \"big\"\n")[0];
    let text = d.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("error: invalid type"), "{text}");
    assert_eq!(lines[1], "  --> t.toml:3:9");
    assert_eq!(lines[3], "3 | bytes = \"big\"");
    assert_eq!(lines[4], "  |         ^^^^^");
}

#[test]
fn caret_lines_up_under_tab_indented_text() {
    let d = &problems("[[max-file-size]]\nid = \"m\"\n\tbytes = \"big\"\n")[0];
    let text = d.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let source_line = lines[3];
    let caret_line = lines[4];
    let value_at = source_line.find("\"big\"").expect("value on the line");
    let caret_at = caret_line.find('^').expect("caret");
    assert_eq!(
        display_width(&caret_line[..caret_at]),
        display_width(&source_line[..value_at]),
        "caret not under the value:\n{text}"
    );
}

#[test]
fn override_budgets_are_read_and_checked() {
    let p = ok("[[force-push]]\nid = \"f\"\nbranches = [\"main\"]\nmax-overrides-per-week = 3\n");
    assert_eq!(p.constraints[0].max_overrides_per_week, Some(3));
    let (msg, at) = one_problem(
        "[[force-push]]\nid = \"f\"\nbranches = [\"main\"]\nmax-overrides-per-week = 0\n",
    );
    assert!(msg.contains("must be at least 1"), "{msg}");
    assert_eq!(at, (4, 26));
    let (msg, _) = one_problem(
        "[[force-push]]\nid = \"f\"\nbranches = [\"main\"]\noverride = \"never\"\nmax-overrides-per-week = 2\n",
    );
    assert!(
        msg.contains("does not apply to `override = \"never\"`"),
        "{msg}"
    );
}

/// An `[[allow]]` for the recommended pack's AWS rule, with `extra` keys
/// and an expiry `days` ahead of today.
fn allow_policy(paths: &str, days: i64, extra: &str) -> String {
    let expires = (crate::clock::now() + chrono::Duration::days(days)).date_naive();
    format!(
        "extends = [\"builtin:recommended\"]\n{extra}\n[[allow]]\nconstraint = \"aws-access-key-id\"\npaths = [{paths}]\nreason = \"fake keys for the detector's tests\"\nexpires = {expires}\n"
    )
}

#[test]
fn allow_rules_load_and_name_themselves() {
    let p = ok(&allow_policy("\"tests/fixtures/keys.txt\"", 30, ""));
    assert_eq!(p.allows.len(), 1);
    assert_eq!(p.allows[0].name, "t.toml:3");
    assert_eq!(p.allows[0].constraint, "aws-access-key-id");
}

#[test]
fn over_broad_allow_rules_are_refused() {
    for broad in ["\"*\"", "\"**\"", "\"**/*\"", "\"*/\"", "\"*/**\""] {
        let (msg, _) = one_problem(&allow_policy(broad, 30, ""));
        assert!(
            msg.contains("too broad for an allow rule"),
            "{broad}: {msg}"
        );
    }
    // A narrow glob is fine.
    ok(&allow_policy("\"tests/fixtures/*.pem\"", 30, ""));
}

#[test]
fn allow_rules_need_a_reason_and_a_near_expiry() {
    let text = allow_policy("\"a.txt\"", 30, "")
        .replace("reason = \"fake keys for the detector's tests\"\n", "");
    let (msg, _) = one_problem(&text);
    assert!(msg.contains("needs a `reason`"), "{msg}");
    let text = allow_policy("\"a.txt\"", 30, "");
    let text = &text[..text.find("expires").unwrap()];
    let (msg, _) = one_problem(text);
    assert!(msg.contains("needs `expires`"), "{msg}");
    let (msg, _) = one_problem(&allow_policy("\"a.txt\"", 200, ""));
    assert!(msg.contains("more than 180 days ahead"), "{msg}");
    // The ceiling is the policy's to set.
    ok(&allow_policy(
        "\"a.txt\"",
        200,
        "[overrides]\nmax-allow-days = 365\n",
    ));
    let (msg, _) = one_problem(&allow_policy(
        "\"a.txt\"",
        20,
        "[overrides]\nmax-allow-days = 10\n",
    ));
    assert!(msg.contains("more than 10 days ahead"), "{msg}");
}

#[test]
fn allow_rules_never_relax_a_never_constraint_or_an_unknown_one() {
    let never =
        "[[forbidden-path]]\nid = \"aws-access-key-id\"\npaths = [\"x\"]\noverride = \"never\"\n";
    let (msg, _) = one_problem(&allow_policy("\"a.txt\"", 30, never));
    assert!(msg.contains("no allow rule relaxes it"), "{msg}");
    let text = allow_policy("\"a.txt\"", 30, "").replace(
        "constraint = \"aws-access-key-id\"",
        "constraint = \"no-such-rule\"",
    );
    let (msg, _) = one_problem(&text);
    assert!(msg.contains("unknown constraint `no-such-rule`"), "{msg}");
}

#[test]
fn an_over_size_regex_is_refused_with_its_position() {
    let (msg, at) = one_problem("[[secret]]\nid = \"huge\"\nregex = '''(\\w{500}){500}'''\n");
    assert!(msg.contains("too large once compiled"), "{msg}");
    assert_eq!(at.0, 3);
}

#[test]
fn builtin_patterns_are_valid_and_counted() {
    // Loading trusts the builtin packs' patterns (`Pattern::trusted`): this
    // is where each is parsed, size-checked and compiled, and where the
    // scan that counts their groups is checked against the parser.
    for (name, text) in BUILTIN_PACKS {
        let p = ok(&format!("extends = [\"builtin:{name}\"]\n"));
        let mut seen = 0;
        for c in &p.constraints {
            let Kind::Secret(s) = &c.kind else { continue };
            for pattern in std::iter::once(&s.regex).chain(&s.allow) {
                let checked = match Pattern::new(pattern.as_str()) {
                    Ok(checked) => checked,
                    Err(e) => panic!("{name}: `{}`: {e:?}", c.id),
                };
                assert!(
                    !checked.is_compiled(),
                    "{name}: `{}` is near the size limit",
                    c.id
                );
                assert_eq!(
                    checked.explicit_captures(),
                    pattern.explicit_captures(),
                    "{name}: `{}`",
                    c.id
                );
                assert!(regex::bytes::RegexBuilder::new(pattern.as_str())
                    .multi_line(true)
                    .size_limit(1 << 20)
                    .build()
                    .is_ok());
                // Builtin patterns run in ASCII mode (`Pattern::trusted`);
                // each must build there, with no fall-back to Unicode.
                assert!(
                    regex::bytes::RegexBuilder::new(pattern.as_str())
                        .multi_line(true)
                        .unicode(false)
                        .size_limit(1 << 20)
                        .build()
                        .is_ok(),
                    "{name}: `{}` does not build in ASCII mode",
                    c.id
                );
                seen += 1;
            }
        }
        assert!(seen > 0 || !text.contains("[[secret]]"), "{name}");
        // The same texts under another name are not trusted: they are
        // parsed (and a copy of a family file needs no confidence).
        let whole: String = std::iter::once(*text)
            .chain(builtin_parts(name).iter().map(|(_, t)| *t))
            .collect::<Vec<_>>()
            .join("\n");
        let copy = ok(&whole);
        assert_eq!(copy.constraints.len(), p.constraints.len());
    }
}

#[test]
fn builtin_secret_patterns_compile_on_first_use() {
    // Loading the pack must stay cheap: a hook on a typical commit compiles
    // only the patterns whose keywords occur in it.
    for (name, _) in BUILTIN_PACKS {
        let p = ok(&format!("extends = [\"builtin:{name}\"]\n"));
        for c in &p.constraints {
            if let Kind::Secret(s) = &c.kind {
                assert!(!s.regex.is_compiled(), "{name}: `{}`", c.id);
                assert!(
                    s.allow.iter().all(|a| !a.is_compiled()),
                    "{name}: `{}`",
                    c.id
                );
            }
        }
    }
}

#[test]
fn approval_tiers_are_read_and_only_raise() {
    let p = ok("[overrides]\napproval = \"presence\"\n\n[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\n\n[[force-push]]\nid = \"fp2\"\nbranches = [\"release\"]\napproval = \"two-key\"\napprovers = [\"*@sec.example.com\"]\n");
    assert_eq!(p.approval, Tier::Presence);
    let fp = p.constraint("fp").unwrap();
    assert_eq!(p.tier_for(fp), Tier::Presence);
    let fp2 = p.constraint("fp2").unwrap();
    // `approval = "two-key"` means what `override = "two-key"` means.
    assert_eq!(fp2.override_mode, OverrideMode::TwoKey);
    assert_eq!(p.tier_for(fp2), Tier::TwoKey);
    assert_eq!(p.strictest_tier(), Tier::TwoKey);
    // A constraint's own `challenge` cannot lower the policy's floor.
    let p = ok("[overrides]\napproval = \"presence\"\n\n[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\napproval = \"challenge\"\n");
    assert_eq!(p.tier_for(p.constraint("fp").unwrap()), Tier::Presence);
    // The default is `challenge`.
    let p = ok("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\n");
    assert_eq!(p.tier_for(p.constraint("fp").unwrap()), Tier::Challenge);
}

#[test]
fn contradictory_approval_settings_are_refused_where_written() {
    let (msg, at) = one_problem(
        "[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\noverride = \"two-key\"\napprovers = [\"a@b\"]\napproval = \"presence\"\n",
    );
    assert!(
        msg.contains("contradicts `override = \"two-key\"`"),
        "{msg}"
    );
    assert_eq!(at, (6, 12));
    let (msg, at) = one_problem(
        "[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\noverride = \"never\"\napproval = \"presence\"\n",
    );
    assert!(
        msg.contains("does not apply to `override = \"never\"`"),
        "{msg}"
    );
    assert_eq!(at, (5, 12));
    let (msg, _) =
        one_problem("[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\napproval = \"two-key\"\n");
    assert!(msg.contains("needs `approvers`"), "{msg}");
    let (msg, at) = one_problem("[overrides]\napproval = \"two-key\"\n");
    assert!(msg.contains("needs `approvers` in `[overrides]`"), "{msg}");
    assert_eq!(at, (2, 12));
    let (msg, _) = one_problem("[overrides]\napproval = \"touch\"\n");
    assert!(msg.contains("unknown variant `touch`"), "{msg}");
}

// ---------------------------------------------------------------------------
// Rule families: confidence, service, checksum
// ---------------------------------------------------------------------------

const SECRET: &str = "[[secret]]\nid = \"s\"\nregex = '''tok_[a-z]{8}'''\n";

#[test]
fn confidence_service_and_checksum_load() {
    let p = ok(&format!(
        "{SECRET}confidence = \"medium\"\nservice = \"Acme\"\nchecksum = \"github-crc32\"\nseverity = \"block\"\n"
    ));
    let s = secret_spec(&p, "s");
    assert_eq!(s.confidence, Some(Confidence::Medium));
    assert_eq!(s.service.as_deref(), Some("Acme"));
    assert_eq!(s.checksum, Some(crate::detect::Checksum::GithubCrc32));
    // A user's policy may block on a medium rule: only builtin packs are held
    // to the mapping.
    assert_eq!(p.constraints[0].severity, Severity::Block);
}

#[test]
fn a_bad_confidence_is_refused_at_its_position() {
    let (msg, at) = one_problem(&format!("{SECRET}confidence = \"certain\"\n"));
    assert!(msg.contains("unknown variant `certain`"), "{msg}");
    assert_eq!(at, (4, 14));
}

#[test]
fn an_unknown_checksum_is_refused_with_the_names() {
    let (msg, at) = one_problem(&format!("{SECRET}checksum = \"crc64\"\n"));
    assert!(msg.starts_with("unknown checksum `crc64`"), "{msg}");
    assert!(
        msg.contains("`github-crc32`") && msg.contains("`npm-crc32`"),
        "{msg}"
    );
    assert_eq!(at, (4, 12));
}

#[test]
fn an_empty_service_is_refused() {
    let (msg, at) = one_problem(&format!("{SECRET}service = \"  \"\n"));
    assert!(msg.contains("`service` must name"), "{msg}");
    assert_eq!(at, (4, 11));
}

#[test]
fn builtin_rules_must_pair_confidence_with_severity() {
    // The check runs for trusted (builtin) text only; exercise it directly.
    let text = "id = \"s\"\nregex = 'tok_[a-z]{8}'\nservice = \"Acme\"\nconfidence = \"medium\"\nseverity = \"block\"\n";
    let raw: model::RawSecret = toml::from_str(text).expect("deserializes");
    let mut diags = Vec::new();
    let mut fail = |span: Range<usize>, message: String| diags.push((span, message));
    let spec = compile_secret(&raw, &raw.id, raw.severity, true, &mut fail);
    assert!(
        spec.is_some(),
        "the spec itself compiles; the caller drops it"
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(
        diags[0].1,
        "a builtin rule of confidence `medium` must have severity `warn`"
    );
    assert_eq!(&text[diags[0].0.clone()], "\"medium\"");
    // Without confidence and service, both are asked for.
    let raw: model::RawSecret = toml::from_str("id = \"s\"\nregex = 'x'\n").expect("deserializes");
    let mut diags = Vec::new();
    let mut fail = |span: Range<usize>, message: String| diags.push((span, message));
    compile_secret(&raw, &raw.id, raw.severity, true, &mut fail);
    assert_eq!(diags.len(), 2, "{diags:?}");
}

#[test]
fn rule_list_counts_distinct_services() {
    let list = recommended().rule_list();
    assert_eq!(list.rule_count, list.rules.len());
    assert_eq!(list.service_count, list.services.len());
    assert!(list.services.iter().any(|s| s == "GitHub"));
    let mut lower: Vec<String> = list.services.iter().map(|s| s.to_lowercase()).collect();
    lower.dedup();
    assert_eq!(lower.len(), list.services.len(), "services are distinct");
    let text = list.to_text();
    assert!(text.contains(&format!("{} distinct services", list.service_count)));
    assert!(text.contains("github-token") && text.contains("[checksum: github-crc32]"));
}

#[test]
fn every_family_has_generated_code_equal_to_parsing_it() {
    // `build.rs` turns each family file into code that builds its raw
    // entries; the loader uses that code instead of parsing the TOML. It
    // must build exactly what parsing builds, spans included, and no family
    // may silently lose it (the hook would parse the file again).
    for (file, text) in SECRET_FAMILIES {
        let generated = super::packs::precompiled_family(text)
            .unwrap_or_else(|| panic!("{file}: build.rs generated no code for it"));
        let parsed = super::load::parsed_family(text);
        assert!(!parsed.is_empty(), "{file}");
        assert_eq!(generated.len(), parsed.len(), "{file}");
        for (g, p) in generated.iter().zip(&parsed) {
            assert_eq!(format!("{g:?}"), format!("{p:?}"), "{file}");
        }
    }
    // A text that is not one of the files has none.
    assert!(super::packs::precompiled_family("[[secret]]\nid = \"x\"\nregex = \"x\"\n").is_none());
}

#[test]
fn a_builtin_family_problem_is_still_reported_where_it_is() {
    // Under another name the same family text is parsed, so a bad entry
    // pasted into a user's policy gets the parser's position.
    let (file, text) = SECRET_FAMILIES[0];
    let bad = format!("{text}\n[[secret]]\nid = \"broken-rule\"\nregex = '''(unclosed'''\n");
    let (msg, (line, _)) = one_problem(&bad);
    assert!(msg.contains("invalid regex"), "{file}: {msg}");
    assert_eq!(line, bad.lines().count(), "{file}");
}

#[test]
fn every_builtin_glob_set_builds() {
    // Builtin path sets build their matcher on first use; the same globs
    // always build the same way, so building each one here proves none can
    // fail in a hook.
    let mut sets = 0;
    for (name, _) in BUILTIN_PACKS {
        let p = ok(&format!("extends = [\"builtin:{name}\"]\n"));
        for c in &p.constraints {
            let list: Vec<&glob::PathSet> = match &c.kind {
                Kind::Secret(s) => s.paths.iter().chain(&s.exclude_paths).collect(),
                Kind::MaxFileSize { paths, .. } => paths.iter().collect(),
                Kind::ForbiddenPath { paths } => vec![paths],
                _ => Vec::new(),
            };
            for set in list {
                assert!(set.builds(), "{name}: {}", c.id);
                sets += 1;
            }
        }
    }
    assert!(sets >= 5, "{sets}");
}
