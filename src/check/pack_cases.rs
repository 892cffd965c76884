//! The builtin `recommended` pack against its cases (every
//! `tests/fixtures/secret-cases/*.toml`, found by `build.rs`): every secret
//! constraint has a true positive that it finds and a near-miss negative
//! that it does not.

use serde::Deserialize;

use super::{AddedChunk, ContentChange, Engine, Finding, Findings};
use crate::policy::{self, Kind, Policy, Source};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Case {
    constraint: String,
    positive_path: String,
    positive: String,
    negative_path: String,
    negative: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

fn cases() -> Vec<Case> {
    crate::policy::SECRET_CASES
        .iter()
        .flat_map(|(file, text)| {
            toml::from_str::<Cases>(text)
                .unwrap_or_else(|e| panic!("secret-cases/{file} does not parse: {e}"))
                .case
        })
        .collect()
}

fn recommended() -> Policy {
    policy::load(
        Some(Source::new("t", "extends = [\"builtin:recommended\"]\n")),
        crate::clock::now().date_naive(),
    )
    .expect("the pack loads")
}

/// The findings when `text` is added as a new file at `path`.
fn scan(engine: &Engine<'_>, path: &str, text: &str) -> Vec<Finding> {
    let mut out = Findings::default();
    let added = [AddedChunk::lines(1, text.as_bytes())];
    engine.check_content(
        &ContentChange {
            path: path.as_bytes(),
            blob: "0000000000000000000000000000000000000000",
            size: text.len() as u64,
            commit: None,
            new_path: true,
            added: &added,
            unscanned: false,
        },
        &mut out,
    );
    out.into_vec()
}

/// Constraint ids found when `text` is added as a new file at `path`.
fn found(engine: &Engine<'_>, path: &str, text: &str) -> Vec<String> {
    scan(engine, path, text)
        .into_iter()
        .map(|f| f.constraint)
        .collect()
}

#[test]
fn every_builtin_secret_constraint_has_a_case() {
    let p = recommended();
    let mut ids: Vec<&str> = p
        .constraints
        .iter()
        .filter(|c| matches!(c.kind, Kind::Secret(_)))
        .map(|c| c.id.as_str())
        .collect();
    ids.sort_unstable();
    let cases = cases();
    let mut covered: Vec<&str> = cases.iter().map(|c| c.constraint.as_str()).collect();
    covered.sort_unstable();
    covered.dedup();
    let uncovered: Vec<&&str> = ids.iter().filter(|i| !covered.contains(i)).collect();
    let strays: Vec<&&str> = covered.iter().filter(|c| !ids.contains(c)).collect();
    assert!(
        uncovered.is_empty() && strays.is_empty(),
        "every builtin secret constraint needs a case (a positive and a near-miss negative); without one: {uncovered:?}; cases for no constraint: {strays:?}"
    );
    for c in &cases {
        assert!(
            !c.positive.trim().is_empty() && !c.negative.trim().is_empty(),
            "{}: a case needs both a positive and a negative",
            c.constraint
        );
    }
    assert!(
        ids.len() >= 30,
        "at least 30 secret formats, found {}",
        ids.len()
    );
}

#[test]
fn every_builtin_secret_finds_its_positive() {
    let p = recommended();
    let engine = Engine::new(&p);
    let missed: Vec<String> = cases()
        .iter()
        .filter(|c| !found(&engine, &c.positive_path, &c.positive).contains(&c.constraint))
        .map(|c| format!("{}: {:?}", c.constraint, c.positive))
        .collect();
    assert!(
        missed.is_empty(),
        "positives not found:\n{}",
        missed.join("\n")
    );
}

#[test]
fn no_builtin_secret_fires_on_its_near_miss() {
    let p = recommended();
    let engine = Engine::new(&p);
    let fired: Vec<String> = cases()
        .iter()
        .filter(|c| found(&engine, &c.negative_path, &c.negative).contains(&c.constraint))
        .map(|c| format!("{}: {:?}", c.constraint, c.negative))
        .collect();
    assert!(
        fired.is_empty(),
        "near misses that fired:\n{}",
        fired.join("\n")
    );
}

#[test]
fn evidence_never_holds_a_whole_positive_secret() {
    let p = recommended();
    let engine = Engine::new(&p);
    for c in cases() {
        for f in scan(&engine, &c.positive_path, &c.positive) {
            if f.kind != "secret" {
                continue;
            }
            let shown = f.evidence.split("…[redacted]").next().unwrap_or_default();
            assert!(
                shown.chars().count() <= 4,
                "{}: evidence `{}` shows too much",
                c.constraint,
                f.evidence
            );
        }
    }
}

#[test]
fn high_confidence_positives_block_and_medium_ones_warn() {
    // A positive is a value the vendor could have issued: a checksummed
    // format's positive carries a valid checksum, so it blocks.
    let p = recommended();
    let engine = Engine::new(&p);
    let mut wrong = Vec::new();
    for c in cases() {
        let Some(rule) = p.constraint(&c.constraint) else {
            continue;
        };
        let Kind::Secret(spec) = &rule.kind else {
            continue;
        };
        let want = spec
            .confidence
            .map_or(rule.severity, crate::policy::Confidence::builtin_severity);
        let hits: Vec<Finding> = scan(&engine, &c.positive_path, &c.positive)
            .into_iter()
            .filter(|f| f.constraint == c.constraint)
            .collect();
        if !hits.iter().any(|f| f.severity == want) {
            wrong.push(format!(
                "{}: {:?}",
                c.constraint,
                hits.iter()
                    .map(|f| (f.severity, f.evidence.clone()))
                    .collect::<Vec<_>>()
            ));
        }
        if spec.checksum.is_some()
            && !hits
                .iter()
                .any(|f| f.evidence.contains("(checksum: verified)"))
        {
            wrong.push(format!(
                "{}: checksum not verified on its positive",
                c.constraint
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "positives at the wrong severity:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_builtin_rule_names_a_service_and_a_confidence() {
    let p = recommended();
    let mut services: Vec<&str> = Vec::new();
    for c in &p.constraints {
        let Kind::Secret(spec) = &c.kind else {
            continue;
        };
        let conf = spec
            .confidence
            .unwrap_or_else(|| panic!("{}: no confidence", c.id));
        assert_eq!(conf.builtin_severity(), c.severity, "{}", c.id);
        let service = spec
            .service
            .as_deref()
            .unwrap_or_else(|| panic!("{}: no service", c.id));
        assert!(!service.is_empty(), "{}", c.id);
        for k in &spec.keywords {
            assert_eq!(
                k,
                &k.to_ascii_lowercase(),
                "{}: keyword `{k}` is not lower-case",
                c.id
            );
        }
        services.push(service);
    }
    services.sort_unstable();
    services.dedup();
    assert!(services.len() >= 50, "{} distinct services", services.len());
}

/// A GitHub token with a valid CRC32 tail for `payload`.
fn github_token(payload: &str) -> String {
    format!(
        "ghp_{payload}{}",
        crate::detect::checksum::base62(crc32fast::hash(payload.as_bytes()), 6)
    )
}

#[test]
fn a_verified_checksum_blocks_and_a_failed_one_only_warns() {
    let p = recommended();
    let engine = Engine::new(&p);
    let good = github_token("Kq3Zt8WmR2xVb7Lp4Yc9Nd6Hf1Js5G");
    let f: Vec<Finding> = scan(&engine, "ci.sh", &format!("GITHUB_TOKEN={good}\n"))
        .into_iter()
        .filter(|f| f.constraint == "github-token")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, crate::policy::Severity::Block);
    assert!(
        f[0].evidence.ends_with("(checksum: verified)"),
        "{}",
        f[0].evidence
    );
    // The same shape with one character changed: the tail no longer verifies.
    let bad = good.replacen('K', "k", 1);
    let f: Vec<Finding> = scan(&engine, "ci.sh", &format!("GITHUB_TOKEN={bad}\n"))
        .into_iter()
        .filter(|f| f.constraint == "github-token")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, crate::policy::Severity::Warn);
    assert!(
        f[0].evidence.contains("checksum: failed"),
        "{}",
        f[0].evidence
    );
}

#[test]
fn documented_example_values_are_never_reported() {
    let p = recommended();
    let engine = Engine::new(&p);
    for text in [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "AccountKey=C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==\n",
        "export VAULT_TOKEN=hvs.R0670sAqZnKX3yW40NddrPVk\n",
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
    ] {
        let f = found(&engine, "docs/setup.md", text);
        assert!(f.is_empty(), "{text}: {f:?}");
    }
}

#[test]
fn a_firebase_web_config_key_warns_and_the_same_key_elsewhere_blocks() {
    let p = recommended();
    let engine = Engine::new(&p);
    let key = "AIzaSyD3kQ8pZ1xW7vN5mB2cR9tY4uJ6hL0gF3e";
    let config = format!(
        "const firebaseConfig = {{\n  apiKey: \"{key}\",\n  authDomain: \"acme-prod.firebaseapp.com\",\n  projectId: \"acme-prod\",\n  appId: \"1:1234:web:abcd\"\n}};\n"
    );
    let f: Vec<Finding> = scan(&engine, "web/src/firebase.js", &config)
        .into_iter()
        .filter(|f| f.constraint == "google-api-key")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, crate::policy::Severity::Warn);
    assert!(
        f[0].evidence.contains("Firebase web config"),
        "{}",
        f[0].evidence
    );
    let server = format!("GOOGLE_MAPS_API_KEY={key}\n");
    let f: Vec<Finding> = scan(&engine, "deploy/prod.env", &server)
        .into_iter()
        .filter(|f| f.constraint == "google-api-key")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, crate::policy::Severity::Block);
}
