//! The builtin `recommended` pack against its cases
//! (`tests/fixtures/secret-cases.toml`): every secret constraint has a true
//! positive that it finds and a near-miss negative that it does not.

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
    toml::from_str::<Cases>(include_str!("../../tests/fixtures/secret-cases.toml"))
        .expect("secret-cases.toml parses")
        .case
}

fn recommended() -> Policy {
    policy::load(Some(Source::new(
        "t",
        "extends = [\"builtin:recommended\"]\n",
    )))
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
    assert_eq!(
        ids, covered,
        "one case per builtin secret constraint, no strays"
    );
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
            let shown = f.evidence.trim_end_matches("…[redacted]");
            assert!(
                shown.chars().count() <= 4,
                "{}: evidence `{}` shows too much",
                c.constraint,
                f.evidence
            );
        }
    }
}
