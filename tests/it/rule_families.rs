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
