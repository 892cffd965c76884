//! The builtin rule families through the real binary: `policy show --rules`
//! (human and JSON), and a checksummed token found, verified and blocked by
//! the installed pre-commit hook, while the same shape with a broken
//! checksum only warns.

use crate::common;

use common::Repo;

#[test]
fn policy_show_rules_lists_every_rule_and_counts_services() {
    let repo = Repo::new();
    let run = repo.tollgate(&["policy", "show", "--rules", "--format", "json"]);
    run.success();
    let v: serde_json::Value = serde_json::from_str(&run.out()).expect("json");
    assert_eq!(v["schema"], "tollgate/v1");
    let rules = v["rules"].as_array().expect("rules");
    assert_eq!(v["rule_count"].as_u64(), Some(rules.len() as u64));
    assert!(rules.len() >= 200, "{} rules", rules.len());
    for r in rules {
        let conf = r["confidence"].as_str().unwrap_or_default();
        let sev = r["severity"].as_str().unwrap_or_default();
        assert!(
            (conf == "high" && sev == "block") || (conf == "medium" && sev == "warn"),
            "{r}"
        );
        assert!(!r["service"].as_str().unwrap_or("-").is_empty());
    }
    let services = v["service_count"].as_u64().expect("count");
    assert!(services >= 150, "{services} services");
    let human = repo.tollgate(&["policy", "show", "--rules"]);
    human.success();
    let out = human.out();
    assert!(
        out.contains("github-token") && out.contains("GitHub"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{} secret rules, {services} distinct services",
            rules.len()
        )),
        "{out}"
    );
}

#[test]
fn format_needs_rules() {
    Repo::new()
        .tollgate(&["policy", "show", "--format", "json"])
        .code(2);
}

/// `ghp_` + 30 characters + their CRC32 in 6 base62 digits.
fn github_token(payload: &str) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32fast::hash(payload.as_bytes());
    let mut tail = [b'0'; 6];
    for d in tail.iter_mut().rev() {
        *d = B62[(n % 62) as usize];
        n /= 62;
    }
    format!("ghp_{payload}{}", String::from_utf8_lossy(&tail))
}

#[test]
fn the_hook_blocks_a_verified_github_token_and_warns_on_a_broken_checksum() {
    let repo = Repo::installed();
    let good = github_token("Wd4Rk9Tq2Zx7Vm3Lp8Yc1Nb6Hs5Jf0");
    repo.write("release.sh", format!("export GITHUB_TOKEN={good}\n"));
    repo.git(&["add", "release.sh"]).success();
    let run = repo.git(&["commit", "-q", "-m", "release"]);
    run.code(1)
        .stderr_has("github-token")
        .stderr_has("checksum: verified")
        .never_shows(&good);
    // One character changed: a shape GitHub never issued. A warning, which
    // `--yes`-style acknowledgement lets through.
    let bad = good.replacen('W', "w", 1);
    repo.write("release.sh", format!("export GITHUB_TOKEN={bad}\n"));
    repo.git(&["add", "release.sh"]).success();
    let run = repo.tollgate_env(&["check", "--staged", "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&run.out()).expect("json");
    let f = v["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["constraint"] == "github-token"))
        .unwrap_or_else(|| panic!("no github-token finding: {run}"));
    assert_eq!(f["severity"], "warn", "{f}");
    assert!(
        f["evidence"]
            .as_str()
            .unwrap_or_default()
            .contains("checksum: failed"),
        "{f}"
    );
}

/// `docs/rules.md` is the generated rule reference of `builtin:recommended`:
/// it must be exactly what the binary generates now (a rule added, removed
/// or changed in `policies/secrets/` without regenerating fails here), and
/// it lists every rule with its service, confidence and severity.
#[test]
fn the_checked_in_rule_reference_is_up_to_date() {
    let repo = Repo::new();
    // A policy of the repository's own must not change what is generated.
    repo.policy("[[secret]]\nid = \"local-only\"\nregex = 'LOCAL_[0-9]{8}'\n");
    let generated = repo.tollgate(&[
        "policy",
        "show",
        "--rules",
        "--format",
        "markdown",
        "--builtin",
        "recommended",
    ]);
    generated.success();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let checked_in = std::fs::read_to_string(&path).expect("docs/rules.md is checked in");
    assert!(
        checked_in == generated.out(),
        "docs/rules.md is out of date; regenerate it with\n  \
         cargo run -q -- policy show --rules --format markdown --builtin recommended > docs/rules.md"
    );
    assert!(!checked_in.contains("local-only"));

    let json = repo.tollgate(&[
        "policy",
        "show",
        "--rules",
        "--format",
        "json",
        "--builtin",
        "recommended",
    ]);
    json.success();
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    let rules = v["rules"].as_array().unwrap();
    assert!(rules.len() >= 200);
    assert!(checked_in.contains(&format!(
        "{} rules for {} distinct services",
        rules.len(),
        v["service_count"]
    )));
    for r in rules {
        let row = format!(
            "| `{}` | {} | {} | {} | ",
            r["id"].as_str().unwrap(),
            // A `|` in a cell is escaped (`Wolfram|Alpha`).
            r["service"].as_str().unwrap().replace('|', "\\|"),
            r["confidence"].as_str().unwrap(),
            r["severity"].as_str().unwrap()
        );
        assert!(checked_in.contains(&row), "no row `{row}` in docs/rules.md");
    }

    repo.tollgate(&["policy", "show", "--rules", "--builtin", "nope"])
        .code(2)
        .stderr_has("unknown builtin pack `nope`");
}
