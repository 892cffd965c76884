//! `[[allow]]` rules through the installed hooks and `verify`: a rule
//! passes exactly its paths, names itself, and stops at its expiry (the
//! clock is injected).

use crate::common;

use common::{aws_line, Repo, AWS_KEY};

const NOW: &str = "2026-11-22T10:00:00Z";
const AFTER: &str = "2027-02-01T10:00:00Z";

const POLICY: &str = r#"extends = ["builtin:recommended"]

[[allow]]
id = "detector-fixtures"
constraint = "aws-access-key-id"
paths = ["tests/fixtures/keys.txt"]
reason = "fake keys the detector's tests need"
expires = 2027-01-31
approved-by = "security@example.com"

[[allow]]
id = "unused-rule"
constraint = "aws-access-key-id"
paths = ["docs/never-there.md"]
reason = "kept for a later fixture"
expires = 2027-01-31
"#;

fn at(when: &str) -> [(&'static str, &str); 1] {
    [("TOLLGATE_TEST_NOW", when)]
}

#[test]
fn an_allow_rule_passes_its_paths_names_itself_and_expires() {
    let repo = Repo::installed();
    repo.policy(POLICY);
    repo.write("tests/fixtures/keys.txt", aws_line());
    repo.git(&["add", "-A"]).success();
    repo.git_env(&["commit", "-qm", "fixtures"], &at(NOW))
        .success()
        .stderr_has("passed by allow rule `detector-fixtures` (fake keys the detector's tests need; until 2027-01-31)")
        .never_shows(AWS_KEY);

    // The same key anywhere else still blocks.
    repo.write("src/app.py", aws_line());
    repo.git(&["add", "-A"]).success();
    repo.git_env(&["commit", "-qm", "app"], &at(NOW))
        .code(1)
        .stderr_has("B1  blocker `aws-access-key-id`")
        .stderr_has("at `src/app.py:1`");
    repo.git(&["rm", "-q", "--cached", "src/app.py"]).success();
    std::fs::remove_file(repo.path("src/app.py")).unwrap();

    // JSON names the rule.
    let r = repo.tollgate_env(&["check", "--range", "HEAD", "--format", "json"], &at(NOW));
    r.success();
    let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap();
    assert_eq!(v["findings"][0]["allowed_by"], "detector-fixtures", "{r}");

    // After its expiry the rule stops applying.
    repo.write(
        "tests/fixtures/keys.txt",
        format!("{}second AKIAZ7Q2LMNOPQRS3TUW\n", aws_line()),
    );
    repo.git(&["add", "-A"]).success();
    repo.git_env(&["commit", "-qm", "more fixtures"], &at(NOW))
        .success();
    repo.write(
        "tests/fixtures/keys.txt",
        format!(
            "{}second AKIAZ7Q2LMNOPQRS3TUW\nthird AKIAZ7Q2LMNOPQRS3TUX\n",
            aws_line()
        ),
    );
    repo.git(&["add", "-A"]).success();
    repo.git_env(&["commit", "-qm", "expired"], &at(AFTER))
        .code(1)
        .stderr_has("at `tests/fixtures/keys.txt:3`");
}

#[test]
fn verify_honours_base_allow_rules_and_reports_unused_ones() {
    let repo = Repo::installed();
    repo.policy(POLICY);
    repo.write("README", "x\n");
    let base = repo.commit_all("base");
    let head = repo.commit_unchecked("tests/fixtures/keys.txt", aws_line(), "fixtures");
    let r = repo.tollgate_env(&["verify", "--base", &base, "--head", &head], &at(NOW));
    r.success()
        .stderr_has("allowed    B1  `aws-access-key-id` at `tests/fixtures/keys.txt:1`")
        .stderr_has("by allow rule `detector-fixtures`")
        .stderr_has("note: allow rule `unused-rule` (aws-access-key-id at docs/never-there.md) matched nothing here");
    repo.tollgate_env(&["verify", "--base", &base, "--head", &head], &at(AFTER))
        .code(1)
        .stderr_has("allow rule `detector-fixtures` expired on 2027-01-31")
        .stderr_has("uncovered B1");
}
