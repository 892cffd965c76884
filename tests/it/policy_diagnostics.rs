//! Policy diagnostics end to end: the real binary runs `policy check` on each
//! fixture in `tests/fixtures/policies/`, copied into a fresh repository as
//! `.tollgate.toml`.
//!
//! Every invalid fixture must exit 2 and point at the offending text with
//! `file:line:column` and a caret; its stderr is snapshotted (insta) so that a
//! message change is a visible diff. Every valid fixture must pass, and
//! `policy show` must print a policy that loads again.

use crate::common;

use std::path::{Path, PathBuf};

use common::Repo;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policies")
}

/// `tollgate --color never ARGS…` in the repository.
fn tollgate(repo: &Repo, args: &[&str]) -> common::Run {
    let mut all = vec!["--color", "never"];
    all.extend_from_slice(args);
    repo.tollgate(&all)
}

/// Copies a fixture to `.tollgate.toml` at the repository root.
fn install_policy(repo: &Repo, fixture: &Path) {
    std::fs::copy(fixture, repo.root.join(".tollgate.toml")).expect("copy fixture");
}

/// Insta filters that replace this repository's temporary paths.
fn filters(repo: &Repo) -> Vec<(String, &'static str)> {
    let mut paths = vec![repo.tmp.path().to_path_buf()];
    if let Ok(c) = repo.tmp.path().canonicalize() {
        paths.push(c);
    }
    paths
        .iter()
        .map(|p| (regex::escape(&p.display().to_string()), "[TMP]"))
        .collect()
}

/// The `line:column` of every `--> .tollgate.toml:L:C` in `stderr`.
fn locations(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> .tollgate.toml:"))
        .map(str::to_string)
        .collect()
}

/// Runs `policy check` on an invalid fixture: exit 2, one diagnostic at each
/// expected `line:column`, each with a caret, `message` among them, and a
/// snapshot of the whole stderr.
fn check_invalid(name: &str, expected: &[&str], message: &str) {
    let repo = Repo::new();
    install_policy(
        &repo,
        &fixtures().join("invalid").join(format!("{name}.toml")),
    );
    let out = tollgate(&repo, &["policy", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.code, Some(2), "{name}: exit code\n{stderr}");
    assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    assert_eq!(
        locations(&stderr),
        expected,
        "{name}: diagnostic locations\n{stderr}"
    );
    let carets = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with('|') && l.contains('^'))
        .count();
    assert_eq!(
        carets,
        expected.len(),
        "{name}: one caret line per diagnostic\n{stderr}"
    );
    assert!(
        stderr.contains(message),
        "{name}: expected `{message}` in\n{stderr}"
    );
    let n = expected.len();
    let summary = format!(
        "error: the policy has {n} problem{}; nothing was checked",
        if n == 1 { "" } else { "s" }
    );
    assert!(
        stderr.contains(&summary),
        "{name}: expected `{summary}` in\n{stderr}"
    );
    let filters = filters(&repo);
    let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!(name, stderr);
    });
}

macro_rules! invalid_fixtures {
    ($($test:ident: $file:literal at [$($loc:literal),+ $(,)?] says $msg:literal;)+) => {
        $(
            #[test]
            fn $test() {
                check_invalid($file, &[$($loc),+], $msg);
            }
        )+
        /// Every invalid fixture that has a test above.
        const INVALID: &[&str] = &[$($file),+];
    };
}

invalid_fixtures! {
    unknown_top_level_key: "unknown-top-level-key" at ["2:3"]
        says "unknown key `secrets`, expected one of";
    unknown_top_level_scalar: "unknown-top-level-scalar" at ["2:1"]
        says "unknown key `polcy`";
    misspelled_key_in_secret: "misspelled-key-in-secret" at ["4:1"]
        says "unknown field `regx`, expected one of";
    bad_regex: "bad-regex" at ["3:9"]
        says "invalid regex: unclosed group";
    bad_allow_regex: "bad-allow-regex" at ["4:28"]
        says "invalid regex:";
    bad_branch_glob: "bad-branch-glob" at ["3:21"]
        says "invalid glob `release/[a`: unclosed character class";
    bad_path_glob: "bad-path-glob" at ["3:24"]
        says "invalid glob `a/{b`: unclosed alternate group";
    duplicate_id: "duplicate-id" at ["6:6"]
        says "duplicate constraint id `no-dumps` (first defined on line 2)";
    wrong_type_bytes: "wrong-type-bytes" at ["3:9"]
        says "invalid type: string \"big\"";
    wrong_type_branches: "wrong-type-branches" at ["3:12"]
        says "invalid type: string \"main\", expected a sequence";
    empty_branches: "empty-branches" at ["3:12"]
        says "`branches` must list at least one branch or glob";
    id_not_kebab: "id-not-kebab" at ["2:6"]
        says "constraint id `No_Force_Push` must be kebab-case";
    ttl_too_long: "ttl-too-long" at ["2:11"]
        says "`25h` is too long: maximum duration is 24 hours";
    constraint_ttl_too_long: "constraint-ttl-too-long" at ["4:11"]
        says "maximum duration is 24 hours";
    unknown_pack: "unknown-pack" at ["1:12"]
        says "unknown policy pack `builtin:nope`, expected one of `builtin:recommended`";
    two_key_without_approvers: "two-key-without-approvers" at ["4:12"]
        says "a two-key constraint needs `approvers`";
    approvers_without_two_key: "approvers-without-two-key" at ["5:14"]
        says "`approvers` only applies to `override = \"two-key\"`";
    missing_id: "missing-id" at ["1:1"]
        says "missing field `id`";
    unknown_branch_op: "unknown-branch-op" at ["4:7"]
        says "unknown variant `merge`, expected one of `commit`, `push`, `delete`";
    entropy_out_of_range: "entropy-out-of-range" at ["4:11"]
        says "`entropy` is in bits per byte, between 0 and 8";
    kind_not_array_of_tables: "kind-not-array-of-tables" at ["1:1"]
        says "`force-push` must be an array of tables: write `[[force-push]]`";
    syntax_error: "syntax-error" at ["2:25"]
        says "invalid basic string";
    non_ascii_column: "non-ascii-column" at ["4:21"]
        says "invalid glob `fëature/[x`";
    tab_indented: "tab-indented" at ["3:10"]
        says "invalid type: string \"big\"";
    several_problems: "several-problems" at ["6:11", "10:12", "14:9", "19:16", "22:6", "26:6", "27:9"]
        says "duplicate constraint id `internal-token` (first defined on line 13)";
}

/// The names of the `*.toml` files in a fixture folder, sorted.
fn fixture_names(kind: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join(kind))
        .expect("fixture folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_invalid_fixture_has_a_snapshot_test() {
    let mut listed: Vec<String> = INVALID.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(fixture_names("invalid"), listed);
}

#[test]
fn valid_fixtures_pass_policy_check() {
    let names = fixture_names("valid");
    assert!(names.len() >= 2, "expected valid fixtures, found {names:?}");
    for name in names {
        let repo = Repo::new();
        install_policy(
            &repo,
            &fixtures().join("valid").join(format!("{name}.toml")),
        );
        let out = tollgate(&repo, &["policy", "check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.code, Some(0), "{name}: {stderr}");
        assert!(stderr.contains("policy ok:"), "{name}: {stderr}");
        assert!(stderr.contains(".tollgate.toml"), "{name}: {stderr}");
    }
}

#[test]
fn extending_a_pack_lists_both_sources() {
    let repo = Repo::new();
    install_policy(
        &repo,
        &fixtures().join("valid/extends-recommended-replace.toml"),
    );
    let out = tollgate(&repo, &["policy", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, Some(0), "{stderr}");
    assert!(
        stderr.contains("from builtin:recommended, .tollgate.toml"),
        "{stderr}"
    );
}

#[test]
fn no_policy_file_checks_the_recommended_pack() {
    let repo = Repo::new();
    let out = tollgate(&repo, &["policy", "check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.code, Some(0), "{stderr}");
    assert!(stderr.contains("from builtin:recommended"), "{stderr}");
}

/// `policy show` of the repository's policy, then `policy check --policy`
/// of that output; returns both `show` outputs without their header lines.
fn show_round_trip(repo: &Repo) -> (String, String) {
    let shown = tollgate(repo, &["policy", "show"]);
    assert_eq!(
        shown.code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let text = String::from_utf8(shown.stdout).expect("utf-8");
    assert!(
        text.starts_with("# effective policy, merged from: "),
        "{text}"
    );
    std::fs::write(repo.root.join("shown.toml"), &text).expect("write shown.toml");

    let check = tollgate(repo, &["policy", "check", "--policy", "shown.toml"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.code, Some(0), "{stderr}\n--- shown.toml:\n{text}");
    assert!(stderr.contains("from shown.toml"), "{stderr}");

    let again = tollgate(repo, &["policy", "show", "--policy", "shown.toml"]);
    assert_eq!(again.code, Some(0));
    let again = String::from_utf8(again.stdout).expect("utf-8");
    let body = |s: &str| {
        s.split_once('\n')
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    };
    (body(&text), body(&again))
}

#[test]
fn policy_show_reloads_for_every_valid_fixture() {
    for name in fixture_names("valid") {
        let repo = Repo::new();
        install_policy(
            &repo,
            &fixtures().join("valid").join(format!("{name}.toml")),
        );
        let (first, second) = show_round_trip(&repo);
        // Showing the shown policy changes nothing but the header.
        assert_eq!(first, second, "{name}");
    }
}

#[test]
fn policy_show_reloads_for_the_recommended_pack() {
    let repo = Repo::new();
    let (first, second) = show_round_trip(&repo);
    assert_eq!(first, second);
    assert!(
        first.contains("id = \"no-force-push-protected\""),
        "{first}"
    );
}

#[test]
fn policy_show_keeps_the_replacement_not_the_pack_constraint() {
    let repo = Repo::new();
    install_policy(
        &repo,
        &fixtures().join("valid/extends-recommended-replace.toml"),
    );
    let (shown, _) = show_round_trip(&repo);
    assert_eq!(
        shown.matches("id = \"no-force-push-protected\"").count(),
        1,
        "{shown}"
    );
    assert!(
        shown.contains("branches = [\"main\", \"master\", \"develop\", \"release/*\"]"),
        "{shown}"
    );
    assert!(shown.contains("max-ttl = \"2h\""), "{shown}");
    assert!(shown.contains("warnings = \"print\""), "{shown}");
}
