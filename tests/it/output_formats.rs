//! Machine-readable output of `tollgate check`: the JSON report
//! (`tollgate/v1`, snapshot-tested with temp paths and shas filtered) and
//! SARIF 2.1.0, validated against the official schema.
//!
//! `tests/fixtures/sarif-schema-2.1.0.json` is the OASIS SARIF 2.1.0 schema
//! (`$id` `https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json`),
//! taken verbatim from the `serde-sarif` 0.8.0 crate on crates.io, which
//! ships it as `src/schema.json`.

use crate::common;

use common::{aws_line, Repo, AWS_KEY};
use serde_json::Value;
use tollgate::report::sarif::{Level, Rule, SarifBuilder, SarifResult, Suppression};

/// The recommended pack plus one warning-only secret, so that one check
/// yields both a blocker and a warning.
const POLICY: &str = r#"
extends = ["builtin:recommended"]

[settings]
warnings = "print"

[[secret]]
id = "todo-token"
description = "Placeholder tokens must not be committed"
severity = "warn"
regex = 'TODO_TOKEN_[0-9]+'
"#;

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sarif-schema-2.1.0.json"),
    )
    .expect("the SARIF schema is kept under tests/fixtures");
    // The official schema's `run.language` pattern has a stray `]`: a
    // literal in the ECMA-262 regexes JSON Schema uses, an error for the
    // Rust engine that checks patterns. It is escaped here (same meaning);
    // the file stays verbatim.
    const STRAY: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert!(text.contains(STRAY), "the schema file changed");
    let text = text.replace(STRAY, r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#);
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

#[track_caller]
fn assert_valid_sarif(log: &Value) {
    let validator = schema_validator();
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF does not validate:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(log).unwrap()
    );
}

/// A repository with one commit, then a staged AWS key and a staged
/// placeholder token (one blocker, one warning).
fn repo_with_staged_findings() -> Repo {
    let repo = Repo::new();
    repo.policy(POLICY);
    repo.write("README", "hello\n");
    repo.git(&["add", "README"]).success();
    repo.git(&["commit", "-q", "--no-verify", "-m", "first"])
        .success();
    repo.write("config.txt", aws_line());
    repo.write("notes/todo file.md", "call TODO_TOKEN_42 later\n");
    repo.git(&["add", "config.txt", "notes"]).success();
    repo
}

fn filters(repo: &Repo) -> Vec<(String, &'static str)> {
    vec![
        (
            regex_escape(&repo.tmp.path().display().to_string()),
            "[TMP]",
        ),
        (r"\b[0-9a-f]{40}\b".to_string(), "[SHA]"),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn json_of_a_blocked_staged_check() {
    let repo = repo_with_staged_findings();
    let run = repo.tollgate(&["check", "--format", "json"]);
    run.code(1).never_shows(AWS_KEY);
    let out = run.out();
    assert!(!out.contains('\x1b'), "no colour codes in JSON");
    let v: Value = serde_json::from_str(&out).expect("stdout is JSON");
    assert_eq!(v["schema"], "tollgate/v1");
    let f = filters(&repo);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => f }, {
        insta::assert_snapshot!("check_json_blocked", out);
    });
}

#[test]
fn json_of_a_clean_staged_check() {
    let repo = Repo::new();
    repo.write("README", "hello\n");
    repo.git(&["add", "README"]).success();
    let run = repo.tollgate(&["check", "--format", "json"]);
    run.success();
    insta::assert_snapshot!("check_json_pass", run.out());
}

#[test]
fn json_of_a_range_names_the_commits() {
    let repo = Repo::new();
    repo.policy(POLICY);
    let first = repo.commit_unchecked("README", "hello\n", "first");
    repo.commit_unchecked("config.txt", aws_line(), "add config");
    let run = repo.tollgate(&[
        "check",
        "--range",
        &format!("{first}..HEAD"),
        "--format",
        "json",
    ]);
    run.code(1).never_shows(AWS_KEY);
    let f = filters(&repo);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => f }, {
        insta::assert_snapshot!("check_json_range", run.out());
    });
}

#[test]
fn sarif_of_a_staged_check_validates_and_carries_policy_metadata() {
    let repo = repo_with_staged_findings();
    let run = repo.tollgate(&["check", "--format", "sarif"]);
    run.code(1).never_shows(AWS_KEY);
    let log: Value = serde_json::from_str(&run.out()).expect("stdout is JSON");
    assert_valid_sarif(&log);

    assert_eq!(log["version"], "2.1.0");
    let run0 = &log["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    // One rule per constraint of the effective policy.
    let aws = rules
        .iter()
        .find(|r| r["id"] == "aws-access-key-id")
        .expect("a rule for the pack's AWS constraint");
    assert_eq!(aws["defaultConfiguration"]["level"], "error");
    assert_eq!(aws["properties"]["kind"], "secret");
    assert_eq!(aws["properties"]["origin"], "builtin:recommended");
    let todo = rules.iter().find(|r| r["id"] == "todo-token").unwrap();
    assert_eq!(todo["defaultConfiguration"]["level"], "warning");
    assert_eq!(
        todo["shortDescription"]["text"],
        "Placeholder tokens must not be committed"
    );

    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{results:#?}");
    let json = repo.tollgate(&["check", "--format", "json"]);
    let report: Value = serde_json::from_str(&json.out()).unwrap();
    for (res, finding) in results.iter().zip(report["findings"].as_array().unwrap()) {
        assert_eq!(res["ruleId"], finding["constraint"]);
        // partialFingerprints carry the same fingerprint a token is bound to.
        assert_eq!(
            res["partialFingerprints"]["tollgateFingerprint/v1"],
            finding["fingerprint"]
        );
        let index = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], res["ruleId"]);
        assert!(res.get("suppressions").is_none());
    }
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "config.txt"
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    assert_eq!(results[1]["level"], "warning");
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "notes/todo%20file.md"
    );
}

#[test]
fn sarif_of_a_clean_check_validates() {
    let repo = Repo::new();
    repo.write("README", "hello\n");
    repo.git(&["add", "README"]).success();
    let run = repo.tollgate(&["check", "--format", "sarif"]);
    run.success();
    let log: Value = serde_json::from_str(&run.out()).unwrap();
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
}

#[test]
fn sarif_builder_output_with_suppressions_and_ref_locations_validates() {
    // What `verify` and `audit log` will write: a blocker covered by a
    // signed audit record, and a push finding that has a ref but no path.
    let mut log = SarifBuilder::new("9.9.9");
    log.rule(
        Rule::new("no-force-push-protected", "Force pushes", Level::Error)
            .property("kind", "force-push"),
    );
    let mut covered = SarifResult::new("no-force-push-protected", Level::Error, "forced update");
    covered.logical = Some("refs/heads/main".into());
    covered.fingerprint = Some("f".repeat(64));
    covered.suppression = Some(Suppression {
        justification: "audit record by alice@example.com: hotfix".into(),
    });
    covered
        .properties
        .insert("commit".into(), Value::String("a".repeat(40)));
    log.result(covered);
    let mut plain = SarifResult::new("unknown-rule", Level::Note, "note");
    plain.path = Some("dir/ä b.txt".into());
    plain.line = Some(3);
    log.result(plain);
    let v = log.to_value();
    assert_valid_sarif(&v);
    assert_eq!(
        v["runs"][0]["results"][0]["suppressions"][0]["kind"],
        "external"
    );
}

#[test]
fn sarif_validator_rejects_a_broken_log() {
    // The schema check must be able to fail: a result without a message.
    let mut v = SarifBuilder::new("1.0.0").to_value();
    v["runs"][0]["results"] = serde_json::json!([{ "ruleId": "x", "level": "fatal" }]);
    let validator = schema_validator();
    assert!(validator.iter_errors(&v).next().is_some());
}

#[test]
fn verify_and_audit_log_sarif_validate_and_carry_suppressions() {
    let repo = Repo::installed();
    repo.signing_key("author");
    repo.write("README", "hello\n");
    let base = repo.commit_all("base");
    let covered = common::commit_secret_with_override(&repo, "covered.py");
    let head = repo.commit_unchecked("uncovered.py", "second AKIAZ7Q2LMNOPQRS3TUW\n", "skip");
    repo.git(&[
        "notes",
        "--ref=refs/notes/tollgate",
        "add",
        "-m",
        "{not a record",
        &head,
    ])
    .success();

    let r = repo.tollgate(&[
        "verify", "--base", &base, "--head", &head, "--format", "sarif",
    ]);
    r.code(1);
    let log: Value = serde_json::from_str(&r.out()).unwrap();
    assert_valid_sarif(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{r}");
    let covered_result = results
        .iter()
        .find(|x| x["properties"]["commit"] == covered.as_str())
        .unwrap();
    let why = covered_result["suppressions"][0]["justification"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("fixture for the demo") && why.contains("author@example.com"),
        "{why}"
    );
    let uncovered = results
        .iter()
        .find(|x| x["ruleId"] == "aws-access-key-id" && x["properties"]["commit"] == head.as_str())
        .unwrap();
    assert!(uncovered.get("suppressions").is_none());
    assert!(results
        .iter()
        .any(|x| x["ruleId"] == "tollgate/invalid-audit-record" && x["level"] == "error"));
    assert!(!r.out().contains(AWS_KEY));

    let r = repo.tollgate(&["audit", "log", "--format", "sarif"]);
    r.success();
    let log: Value = serde_json::from_str(&r.out()).unwrap();
    assert_valid_sarif(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results
        .iter()
        .any(|x| x["level"] == "note"
            && x["suppressions"][0]["justification"] == "fixture for the demo"));
}

#[test]
fn json_of_a_verify_with_an_uncovered_blocker_and_an_invalid_record() {
    let repo = Repo::new();
    repo.policy(POLICY);
    let base = repo.commit_unchecked(".tollgate.toml", POLICY, "policy");
    let head = repo.commit_unchecked("config.txt", aws_line(), "add config");
    repo.git(&[
        "notes",
        "--ref=refs/notes/tollgate",
        "add",
        "-m",
        "{not a record",
        &head,
    ])
    .success();
    let run = repo.tollgate(&[
        "verify", "--base", &base, "--head", &head, "--ref", "main", "--format", "json",
    ]);
    run.code(1).never_shows(AWS_KEY);
    assert!(!run.out().contains('\x1b'), "no colour codes in JSON");
    let f = filters(&repo);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => f }, {
        insta::assert_snapshot!("verify_json_uncovered", run.out());
    });
}

/// Findings from commits carry the column (in code points), the commit's
/// author, author date (to the second) and subject, in `check --range`,
/// `check --history` and `verify` JSON, and in SARIF; staged findings have
/// the column but no commit to take the rest from.
#[test]
fn json_findings_carry_column_author_date_and_subject() {
    let repo = Repo::new();
    repo.policy(POLICY);
    let first = repo.commit_unchecked(".tollgate.toml", POLICY, "policy");
    // `clé: ` is five code points and six bytes: the column is 6.
    let head = repo.commit_unchecked(
        "config.txt",
        format!("a = 1\nclé: {AWS_KEY}\n"),
        "add config\n\nwith a body line",
    );
    let check = |f: &Value| {
        assert_eq!(f["constraint"], "aws-access-key-id", "{f:#}");
        assert_eq!(f["location"]["line"], 2, "{f:#}");
        assert_eq!(f["location"]["column"], 6, "{f:#}");
        assert_eq!(f["author"], "Test Author <author@example.com>", "{f:#}");
        assert_eq!(f["date"], "2023-11-14T22:13:20Z", "{f:#}");
        assert_eq!(f["subject"], "add config", "{f:#}");
    };
    let range = format!("{first}..HEAD");
    for args in [
        vec!["check", "--range", range.as_str(), "--format", "json"],
        vec!["check", "--history", "--format", "json"],
    ] {
        let run = repo.tollgate(&args);
        run.code(1).never_shows(AWS_KEY);
        let v: Value = serde_json::from_str(&run.out()).expect("stdout is JSON");
        let findings = v["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{args:?}: {findings:#?}");
        check(&findings[0]);
    }
    let run = repo.tollgate(&[
        "verify", "--base", &first, "--head", &head, "--ref", "main", "--format", "json",
    ]);
    run.code(1).never_shows(AWS_KEY);
    let v: Value = serde_json::from_str(&run.out()).expect("stdout is JSON");
    check(&v["blockers"][0]);

    let run = repo.tollgate(&["check", "--range", &range, "--format", "sarif"]);
    run.code(1);
    let log: Value = serde_json::from_str(&run.out()).unwrap();
    assert_valid_sarif(&log);
    let result = &log["runs"][0]["results"][0];
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 2, "{result:#}");
    assert_eq!(region["startColumn"], 6, "{result:#}");
    assert_eq!(log["runs"][0]["columnKind"], "unicodeCodePoints");
    assert_eq!(
        result["properties"]["author"],
        "Test Author <author@example.com>"
    );
    assert_eq!(result["properties"]["date"], "2023-11-14T22:13:20Z");
    assert_eq!(result["properties"]["subject"], "add config");

    // Staged: the column, and no commit to name an author, date or subject.
    repo.write("staged.txt", format!("    {AWS_KEY}\n"));
    repo.git(&["add", "staged.txt"]).success();
    let run = repo.tollgate(&["check", "--format", "json"]);
    run.code(1);
    let v: Value = serde_json::from_str(&run.out()).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["location"]["column"], 5, "{f:#}");
    for absent in ["author", "date", "subject"] {
        assert!(
            f.get(absent).is_none(),
            "{absent} in a staged finding: {f:#}"
        );
    }
}

/// Runs `command` (a shell command line) under `script`, in a pseudo-terminal
/// of its own, with the hermetic environment, `env` on top and the progress
/// delay at zero (so a short scan counts as a long one); returns everything
/// the terminal showed.
fn in_pty(repo: &Repo, command: &str, env: &[(&str, &str)]) -> String {
    let mut c = repo.command("script");
    c.args(["-qefc", command, "/dev/null"])
        .env("TOLLGATE_TEST_PROGRESS_AFTER_MS", "0");
    for (k, v) in env {
        c.env(k, v);
    }
    let run = Repo::output(c);
    assert!(
        matches!(run.code, Some(0 | 1)),
        "`{command}` under script: {}",
        run.all()
    );
    run.out()
}

/// Long scans (`check --history`, `--range`, `verify`, `scan`) show a
/// progress line on the terminal's stderr; never on stdout, never with
/// `-q` or `NO_COLOR`, never without a terminal.
#[test]
fn long_scans_show_progress_on_a_terminal_only() {
    let repo = Repo::new();
    repo.policy(POLICY);
    let first = repo.commit_unchecked(".tollgate.toml", POLICY, "policy");
    repo.commit_unchecked("a.txt", "one\n", "a");
    let head = repo.commit_unchecked("config.txt", aws_line(), "add config");
    let bin = common::tollgate_bin().display().to_string();
    let json = repo.path("out.json");
    let cases = [
        (
            format!("{bin} check --history"),
            "scanning commit 1/3 (33%)",
        ),
        (
            format!("{bin} check --range {first}..{head}"),
            "scanning commit 1/2 (50%)",
        ),
        (
            format!("{bin} verify --base {first} --head {head} --ref main"),
            "scanning commit 1/2 (50%)",
        ),
        (format!("{bin} scan a.txt config.txt"), "scanned 1 file"),
    ];
    for (cmd, line) in &cases {
        let shown = in_pty(&repo, cmd, &[]);
        assert!(
            shown.contains(&format!("tollgate: {line}")),
            "{cmd}: {shown:?}"
        );
        // The line is erased before the findings are listed.
        assert!(shown.contains("\r\x1b[K"), "{cmd}: {shown:?}");
        assert!(shown.contains("B1"), "{cmd}: {shown:?}");

        // Never on stdout: JSON sent to a file holds no progress.
        let shown = in_pty(
            &repo,
            &format!("{cmd} --format json > {}", json.display()),
            &[],
        );
        assert!(shown.contains("tollgate: "), "{cmd}: {shown:?}");
        let out = std::fs::read_to_string(&json).unwrap();
        assert!(!out.contains("scann"), "{cmd}: {out}");
        serde_json::from_str::<Value>(&out).expect("stdout is JSON only");

        for (quiet, env) in [
            (format!("{cmd} -q"), &[][..]),
            (cmd.clone(), &[("NO_COLOR", "1")][..]),
        ] {
            let shown = in_pty(&repo, &quiet, env);
            assert!(!shown.contains("scann"), "{quiet} {env:?}: {shown:?}");
            assert!(shown.contains("B1"), "{quiet} {env:?}: {shown:?}");
        }

        // Without a terminal: nothing.
        let args: Vec<&str> = cmd.split(' ').skip(1).collect();
        let run = repo.tollgate_env(&args, &[("TOLLGATE_TEST_PROGRESS_AFTER_MS", "0")]);
        run.code(1).stderr_lacks("scann").stderr_has("B1");
    }
}
