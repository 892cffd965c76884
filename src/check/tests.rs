//! Engine tests on in-memory events.

use sha2::{Digest, Sha256};

use super::*;
use crate::policy::{load, Source};

/// 32 characters of high entropy, the body of a test token.
const BODY_A: &str = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6";
const BODY_B: &str = "z9y8x7w6v5u4t3s2r1q0p9o8n7m6l5k4";

fn tok(body: &str) -> String {
    format!("itok_{body}")
}

fn policy(text: &str) -> Policy {
    load(
        Some(Source::new("t.toml", text)),
        crate::clock::now().date_naive(),
    )
    .unwrap_or_else(|d| panic!("invalid test policy:\n{d}"))
}

/// A policy with one `[[secret]]` for `itok_` tokens plus `extra` TOML lines.
fn token_policy(extra: &str) -> Policy {
    policy(&format!(
        "[[secret]]\nid = \"internal-token\"\nregex = '''\\b(itok_[a-z0-9]{{32}})\\b'''\nkeywords = [\"itok_\"]\n{extra}\n"
    ))
}

/// An owned file change; `run` lends it to the engine as a `ContentChange`.
#[derive(Clone)]
struct Change {
    path: Vec<u8>,
    blob: String,
    size: u64,
    commit: Option<String>,
    new_path: bool,
    chunks: Vec<(u32, Vec<u8>)>,
}

impl Change {
    /// A new file at `path` whose first added chunk starts at line 1.
    fn new(path: &str, text: &str) -> Change {
        Change {
            path: path.as_bytes().to_vec(),
            blob: "b".repeat(40),
            size: text.len() as u64,
            commit: Some("c".repeat(40)),
            new_path: true,
            chunks: vec![(1, text.as_bytes().to_vec())],
        }
    }

    fn chunks(mut self, chunks: &[(u32, &str)]) -> Change {
        self.chunks = chunks
            .iter()
            .map(|(l, t)| (*l, t.as_bytes().to_vec()))
            .collect();
        self
    }

    fn size(mut self, size: u64) -> Change {
        self.size = size;
        self
    }

    fn commit(mut self, commit: Option<&str>) -> Change {
        self.commit = commit.map(str::to_string);
        self
    }

    /// Feeds this change to `engine`, adding to `out`.
    fn run(&self, engine: &Engine<'_>, out: &mut Findings) {
        let added: Vec<AddedChunk<'_>> = self
            .chunks
            .iter()
            .map(|(l, t)| AddedChunk::lines(*l, t))
            .collect();
        let change = ContentChange {
            path: &self.path,
            blob: &self.blob,
            size: self.size,
            commit: self.commit.as_deref(),
            new_path: self.new_path,
            added: &added,
            unscanned: false,
        };
        engine.check_content(&change, out);
    }
}

fn check(p: &Policy, change: &Change) -> Vec<Finding> {
    let mut out = Findings::default();
    change.run(&Engine::new(p), &mut out);
    out.into_vec()
}

fn update(remote_ref: &str, old: Option<&str>, new: Option<&str>, forced: bool) -> RefUpdate {
    RefUpdate {
        remote_ref: remote_ref.to_string(),
        old: old.map(str::to_string),
        new: new.map(str::to_string),
        forced,
    }
}

fn check_update(p: &Policy, u: &RefUpdate) -> Vec<Finding> {
    let mut out = Findings::default();
    Engine::new(p).check_ref_update(u, &mut out);
    out.into_vec()
}

fn check_commit(p: &Policy, branch: Option<&str>) -> Vec<Finding> {
    let target = CommitTarget {
        branch: branch.map(str::to_string),
        parent: Some("1".repeat(40)),
        tree: "2".repeat(40),
    };
    let mut out = Findings::default();
    Engine::new(p).check_commit_target(&target, &mut out);
    out.into_vec()
}

const OLD: &str = "1111111111111111111111111111111111111111";
const NEW: &str = "2222222222222222222222222222222222222222";

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

#[test]
fn secret_line_is_counted_from_the_chunks_first_line() {
    let p = token_policy("");
    let a = tok(BODY_A);
    let b = tok(BODY_B);
    let change = Change::new("src/a.rs", "").chunks(&[
        (10, &format!("fn main() {{\n    // nothing\n    let t = \"{a}\";\n}}\n// and\nlet u = \"{b}\";\n")),
        (40, &format!("{b}\n")),
        (50, &format!("x\n\n\ny = {a}")),
    ]);
    let found = check(&p, &change);
    let at: Vec<(Option<u32>, &str)> = found
        .iter()
        .map(|f| (f.location.line, f.constraint.as_str()))
        .collect();
    // `b` at line 40 is the same secret at the same path as at line 15: one finding.
    assert_eq!(
        at,
        [(Some(12), "internal-token"), (Some(15), "internal-token")],
        "{found:#?}"
    );
}

#[test]
fn secret_line_in_a_later_chunk_starts_from_that_chunk() {
    let p = token_policy("");
    let change = Change::new("a.txt", "").chunks(&[
        (3, "nothing\nhere\n"),
        (50, &format!("x\n\n\ny = {}", tok(BODY_A))),
    ]);
    let found = check(&p, &change);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].location.line, Some(53));
}

#[test]
fn secret_finding_has_path_commit_kind_and_severity() {
    let p = token_policy("severity = \"warn\"\noverride = \"never\"");
    let found = check(
        &p,
        &Change::new("src/a.rs", &tok(BODY_A)).commit(Some("abc123")),
    );
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.constraint, "internal-token");
    assert_eq!(f.kind, "secret");
    assert_eq!(f.severity, Severity::Warn);
    assert_eq!(f.override_mode, OverrideMode::Never);
    assert_eq!(
        f.location,
        Location {
            path: Some("src/a.rs".into()),
            line: Some(1),
            column: Some(1),
            commit: Some("abc123".into()),
            ref_name: None,
            offset: None,
        }
    );
    assert_eq!(f.location.to_string(), "`src/a.rs:1` commit abc123");
}

#[test]
fn keyword_prefilter_skips_the_regex_when_the_keyword_is_absent() {
    // The regex matches `tok_…` alone; the keyword is `itok_`.
    let with_keyword =
        policy("[[secret]]\nid = \"s\"\nregex = '''tok_[a-z0-9]{32}'''\nkeywords = [\"itok_\"]\n");
    let without_keyword = policy("[[secret]]\nid = \"s\"\nregex = '''tok_[a-z0-9]{32}'''\n");
    let lacking = Change::new("a.txt", &format!("x = xtok_{BODY_A}\n"));
    let having = Change::new("a.txt", &format!("x = itok_{BODY_A}\n"));
    assert_eq!(
        check(&without_keyword, &lacking).len(),
        1,
        "the regex alone matches"
    );
    assert!(
        check(&with_keyword, &lacking).is_empty(),
        "the prefilter did not apply"
    );
    assert_eq!(check(&with_keyword, &having).len(), 1);
}

#[test]
fn keyword_prefilter_is_per_chunk() {
    let p =
        policy("[[secret]]\nid = \"s\"\nregex = '''tok_[a-z0-9]{32}'''\nkeywords = [\"itok_\"]\n");
    let change =
        Change::new("a.txt", "").chunks(&[(1, "itok_\n"), (10, &format!("xtok_{BODY_A}\n"))]);
    assert!(check(&p, &change).is_empty());
}

#[test]
fn keywords_are_case_insensitive() {
    let p = policy(
        "[[secret]]\nid = \"s\"\nregex = '''(?i)itok_[a-z0-9]{32}'''\nkeywords = [\"ITOK_\"]\n",
    );
    assert_eq!(
        check(&p, &Change::new("a.txt", &format!("ITOK_{BODY_A}"))).len(),
        1
    );
    assert_eq!(
        check(&p, &Change::new("a.txt", &format!("iTok_{BODY_A}"))).len(),
        1
    );
    assert_eq!(
        check(&p, &Change::new("a.txt", &format!("itok_{BODY_A}"))).len(),
        1
    );
}

#[test]
fn large_changes_switch_to_the_keyword_dfa_and_find_the_same() {
    // Past 1 MiB of scanned text the prefilter runs as a DFA; a change
    // scanned after that point finds exactly what a fresh engine finds.
    let p = token_policy("");
    let engine = Engine::new(&p);
    let filler = "let x = compute(1, 2);\n".repeat(60_000);
    let mut out = Findings::default();
    Change::new("filler.rs", &filler).run(&engine, &mut out);
    assert!(out.is_empty());
    let change = Change::new("a.rs", &format!("x\nITOK_{BODY_A} itok_{BODY_B}\n"));
    change.run(&engine, &mut out);
    let late = out.into_vec();
    assert_eq!(late.len(), 1);
    assert_eq!(late, check(&p, &change));
}

#[test]
fn a_keyword_shared_by_two_constraints_activates_both() {
    let p = policy(
        "[[secret]]\nid = \"one\"\nregex = '''itok_[a-z0-9]{32}'''\nkeywords = [\"itok_\"]\n\n\
         [[secret]]\nid = \"two\"\nregex = '''itok_[a-z0-9]{4}'''\nkeywords = [\"itok_\", \"other\"]\n",
    );
    let found = check(&p, &Change::new("a.txt", &tok(BODY_A)));
    let ids: Vec<&str> = found.iter().map(|f| f.constraint.as_str()).collect();
    assert_eq!(ids, ["one", "two"]);
}

#[test]
fn entropy_threshold() {
    let p = policy("[[secret]]\nid = \"s\"\nregex = '''key=(\\w+)'''\nentropy = 3.0\n");
    assert!(check(&p, &Change::new("a.txt", "key=aaaaaaaaaaaaaaaaaaaa\n")).is_empty());
    assert!(check(&p, &Change::new("a.txt", "key=abababababababab\n")).is_empty());
    assert_eq!(
        check(&p, &Change::new("a.txt", "key=a1b2c3d4e5f6g7h8\n")).len(),
        1
    );

    // Exactly at the threshold counts: `abcd` has 2 bits per byte.
    let p = policy("[[secret]]\nid = \"s\"\nregex = '''key=(\\w+)'''\nentropy = 2.0\n");
    assert_eq!(check(&p, &Change::new("a.txt", "key=abcd\n")).len(), 1);
    assert!(check(&p, &Change::new("a.txt", "key=abab\n")).is_empty());
}

#[test]
fn entropy_is_measured_on_the_secret_group() {
    // The whole match has high entropy; the group (the secret) does not.
    let p = policy("[[secret]]\nid = \"s\"\nregex = '''k3y_Q9z=(\\w+)'''\nentropy = 2.0\n");
    assert!(check(&p, &Change::new("a.txt", "k3y_Q9z=aaaaaaaa\n")).is_empty());
}

#[test]
fn allow_regex_drops_known_placeholders() {
    let p = token_policy("allow-regex = ['''^itok_0{8}''', '''EXAMPLE''']");
    let placeholder = format!("itok_00000000{}", &BODY_A[8..]);
    assert!(check(&p, &Change::new("a.txt", &placeholder)).is_empty());
    // Anchored allow patterns apply to the secret, not the line.
    let not_at_start = format!("itok_{}00000000", &BODY_A[8..]);
    assert_eq!(check(&p, &Change::new("a.txt", &not_at_start)).len(), 1);
    // One allowed match does not hide the next one.
    let both = format!("{placeholder}\n{}\n", tok(BODY_B));
    let found = check(&p, &Change::new("a.txt", &both));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].location.line, Some(2));
}

#[test]
fn paths_and_exclude_paths() {
    let p = token_policy("paths = [\"src/**\", \"*.env\"]\nexclude-paths = [\"**/testdata/**\"]");
    let secret = tok(BODY_A);
    assert_eq!(check(&p, &Change::new("src/a.rs", &secret)).len(), 1);
    assert_eq!(check(&p, &Change::new("src/deep/a.rs", &secret)).len(), 1);
    assert_eq!(check(&p, &Change::new("deploy/prod.env", &secret)).len(), 1);
    assert!(check(&p, &Change::new("docs/a.md", &secret)).is_empty());
    assert!(check(&p, &Change::new("src/testdata/a.rs", &secret)).is_empty());
    assert!(
        check(&p, &Change::new("x/src/a.rs", &secret)).is_empty(),
        "`src/**` is anchored"
    );

    let p = token_policy("exclude-paths = [\"*.md\"]");
    assert!(check(&p, &Change::new("docs/deep/a.md", &secret)).is_empty());
    assert_eq!(check(&p, &Change::new("docs/a.rs", &secret)).len(), 1);
}

#[test]
fn evidence_is_redacted() {
    let p = token_policy("");
    let secret = tok(BODY_A);
    let found = check(&p, &Change::new("a.txt", &format!("t = \"{secret}\"\n")));
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.evidence, "itok…[redacted]");
    let json = serde_json::to_string(f).expect("json");
    assert!(!json.contains(&secret), "{json}");
    assert!(!json.contains(BODY_A), "{json}");
    assert!(!format!("{f:?}").contains(BODY_A));
}

#[test]
fn short_secrets_show_no_prefix() {
    let p = policy("[[secret]]\nid = \"s\"\nregex = '''pw=(\\S+)'''\n");
    let found = check(&p, &Change::new("a.txt", "pw=hunter2\n"));
    assert_eq!(found[0].evidence, "…[redacted]");
}

#[test]
fn secret_fingerprint_is_path_and_secret_hash() {
    let p = token_policy("");
    let fp = |c: &Change| {
        let found = check(&p, c);
        assert_eq!(found.len(), 1);
        found[0].fingerprint.clone()
    };
    let a = tok(BODY_A);
    let base = fp(&Change::new("src/a.rs", &a));
    // Independent of line, commit, blob.
    assert_eq!(
        base,
        fp(&Change::new("src/a.rs", &format!("\n\n\n{a}")).commit(Some("other")))
    );
    assert_eq!(base, fp(&Change::new("src/a.rs", &a).commit(None)));
    // Bound to path and secret.
    assert_ne!(base, fp(&Change::new("src/b.rs", &a)));
    assert_ne!(base, fp(&Change::new("src/a.rs", &tok(BODY_B))));
    // Exactly: id, kind, path, sha256(secret).
    let digest = Sha256::digest(a.as_bytes());
    assert_eq!(
        base,
        fingerprint("internal-token", "secret", &[b"src/a.rs", &digest])
    );
}

#[test]
fn same_fingerprint_is_one_finding() {
    let p = token_policy("");
    let engine = Engine::new(&p);
    let a = tok(BODY_A);
    let mut out = Findings::default();
    // Twice in one chunk, then again in another commit.
    Change::new("a.txt", &format!("{a}\n{a}\n")).run(&engine, &mut out);
    Change::new("a.txt", &a)
        .commit(Some("d".repeat(40).as_str()))
        .run(&engine, &mut out);
    assert_eq!(out.len(), 1);
    // Another path is another finding.
    Change::new("b.txt", &a).run(&engine, &mut out);
    assert_eq!(out.len(), 2);
    let found = out.into_vec();
    assert_eq!(found[0].location.line, Some(1));
    assert_eq!(
        found[0].location.commit.as_deref(),
        Some("c".repeat(40).as_str()),
        "first seen is kept"
    );
}

#[test]
fn findings_push_deduplicates_by_fingerprint() {
    let f = Finding {
        constraint: "c".into(),
        kind: "secret".into(),
        severity: Severity::Block,
        override_mode: OverrideMode::Token,
        location: Location::default(),
        evidence: "e".into(),
        fingerprint: "f1".into(),
        scope: Vec::new(),
    };
    let mut out = Findings::default();
    assert!(out.is_empty());
    out.push(f.clone());
    out.push(Finding {
        evidence: "other".into(),
        ..f.clone()
    });
    assert_eq!(out.len(), 1);
    out.push(Finding {
        fingerprint: "f2".into(),
        scope: Vec::new(),
        ..f
    });
    assert_eq!(out.len(), 2);
    assert_eq!(out.into_vec()[0].evidence, "e");
}

#[test]
fn binary_changes_have_no_secret_findings() {
    let p = token_policy("");
    let change = Change::new("a.bin", "").chunks(&[]);
    assert!(check(&p, &change).is_empty());
}

// ---------------------------------------------------------------------------
// Force pushes and protected branches
// ---------------------------------------------------------------------------

fn force_push_policy() -> Policy {
    policy("[[force-push]]\nid = \"no-force-push\"\nbranches = [\"main\", \"release/*\"]\n")
}

#[test]
fn forced_update_of_a_matching_branch_is_found() {
    let p = force_push_policy();
    let found = check_update(&p, &update("refs/heads/main", Some(OLD), Some(NEW), true));
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(
        (f.constraint.as_str(), f.kind.as_str()),
        ("no-force-push", "force-push")
    );
    assert_eq!(f.location.ref_name.as_deref(), Some("refs/heads/main"));
    assert_eq!(f.location.commit.as_deref(), Some(NEW));
    assert_eq!(
        f.evidence,
        "non-fast-forward update 111111111111..222222222222"
    );
    assert_eq!(
        check_update(
            &p,
            &update("refs/heads/release/2.0", Some(OLD), Some(NEW), true)
        )
        .len(),
        1
    );
}

#[test]
fn not_a_force_push() {
    let p = force_push_policy();
    assert!(
        check_update(&p, &update("refs/heads/main", Some(OLD), Some(NEW), false)).is_empty(),
        "fast-forward"
    );
    assert!(
        check_update(
            &p,
            &update("refs/heads/feature", Some(OLD), Some(NEW), true)
        )
        .is_empty(),
        "other branch"
    );
    assert!(
        check_update(&p, &update("refs/tags/main", Some(OLD), Some(NEW), true)).is_empty(),
        "a tag"
    );
    assert!(
        check_update(&p, &update("refs/heads/main", None, Some(NEW), true)).is_empty(),
        "new ref"
    );
    assert!(
        check_update(&p, &update("refs/heads/main", Some(OLD), None, true)).is_empty(),
        "deletion"
    );
}

#[test]
fn force_push_fingerprint_is_ref_old_and_new() {
    let p = force_push_policy();
    let fp = |r: &str, old: &str, new: &str| {
        let found = check_update(&p, &update(r, Some(old), Some(new), true));
        assert_eq!(found.len(), 1);
        found[0].fingerprint.clone()
    };
    let base = fp("refs/heads/main", OLD, NEW);
    assert_eq!(base, fp("refs/heads/main", OLD, NEW));
    assert_ne!(
        base,
        fp("refs/heads/main", "3".repeat(40).as_str(), NEW),
        "old sha changed"
    );
    assert_ne!(
        base,
        fp("refs/heads/main", OLD, "3".repeat(40).as_str()),
        "new sha changed"
    );
    assert_ne!(base, fp("refs/heads/release/1", OLD, NEW), "ref changed");
    assert_eq!(
        base,
        fingerprint(
            "no-force-push",
            "force-push",
            &[b"refs/heads/main", OLD.as_bytes(), NEW.as_bytes()]
        )
    );
}

#[test]
fn protected_branch_delete_only_with_on_delete() {
    let on_delete =
        policy("[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"delete\"]\n");
    let on_push =
        policy("[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"push\"]\n");
    let delete = update("refs/heads/main", Some(OLD), None, false);
    let found = check_update(&on_delete, &delete);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, "protected-branch");
    assert_eq!(found[0].evidence, "deletes the branch (was 111111111111)");
    assert_eq!(
        found[0].location.ref_name.as_deref(),
        Some("refs/heads/main")
    );
    // A deletion's record goes on the tip it deletes.
    assert_eq!(found[0].location.commit.as_deref(), Some(OLD));
    assert!(check_update(&on_push, &delete).is_empty());
    assert!(check_update(
        &on_delete,
        &update("refs/heads/other", Some(OLD), None, false)
    )
    .is_empty());
    // An update is not a deletion.
    assert!(check_update(
        &on_delete,
        &update("refs/heads/main", Some(OLD), Some(NEW), false)
    )
    .is_empty());
}

#[test]
fn protected_branch_push() {
    let p = policy("[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"push\"]\n");
    let found = check_update(&p, &update("refs/heads/main", Some(OLD), Some(NEW), false));
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].evidence,
        "updates the branch 111111111111..222222222222"
    );
    assert_eq!(found[0].location.commit.as_deref(), Some(NEW));
    // Creating the branch is a push too.
    assert_eq!(
        check_update(&p, &update("refs/heads/main", None, Some(NEW), false)).len(),
        1
    );
    assert!(check_update(&p, &update("refs/heads/dev", Some(OLD), Some(NEW), false)).is_empty());
    // Different shas, different fingerprints.
    let a = check_update(&p, &update("refs/heads/main", Some(OLD), Some(NEW), false));
    let b = check_update(&p, &update("refs/heads/main", Some(NEW), Some(OLD), false));
    assert_ne!(a[0].fingerprint, b[0].fingerprint);
}

#[test]
fn a_forced_push_to_a_protected_branch_is_found_by_both_kinds() {
    let p = policy(
        "[[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\n\n\
         [[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"push\"]\n",
    );
    let found = check_update(&p, &update("refs/heads/main", Some(OLD), Some(NEW), true));
    let ids: Vec<&str> = found.iter().map(|f| f.constraint.as_str()).collect();
    assert_eq!(ids, ["fp", "pb"]);
}

#[test]
fn commit_target_on_a_protected_branch() {
    let p = policy("[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"commit\"]\n");
    let found = check_commit(&p, Some("main"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].evidence, "direct commit to `main`");
    assert_eq!(
        found[0].location.ref_name.as_deref(),
        Some("refs/heads/main")
    );
    assert!(check_commit(&p, None).is_empty(), "detached HEAD");
    assert!(check_commit(&p, Some("feature")).is_empty());

    let not_commit = policy(
        "[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"push\", \"delete\"]\n",
    );
    assert!(check_commit(&not_commit, Some("main")).is_empty());
}

#[test]
fn commit_fingerprint_is_branch_parent_and_tree() {
    let p = policy("[[protected-branch]]\nid = \"pb\"\nbranches = [\"main\"]\non = [\"commit\"]\n");
    let fp = |parent: Option<&str>, tree: &str| {
        let mut out = Findings::default();
        let target = CommitTarget {
            branch: Some("main".into()),
            parent: parent.map(str::to_string),
            tree: tree.into(),
        };
        Engine::new(&p).check_commit_target(&target, &mut out);
        out.into_vec()[0].fingerprint.clone()
    };
    let base = fp(Some(OLD), NEW);
    assert_eq!(base, fp(Some(OLD), NEW));
    assert_ne!(base, fp(Some(NEW), NEW));
    assert_ne!(base, fp(Some(OLD), OLD));
    assert_ne!(base, fp(None, NEW), "first commit");
}

#[test]
fn ref_updates_do_not_run_content_constraints() {
    let p = policy("[[forbidden-path]]\nid = \"f\"\npaths = [\"**\"]\n\n[[max-file-size]]\nid = \"m\"\nbytes = 1\n");
    assert!(check_update(&p, &update("refs/heads/main", Some(OLD), Some(NEW), true)).is_empty());
    assert!(check_commit(&p, Some("main")).is_empty());
}

// ---------------------------------------------------------------------------
// Max file size and forbidden paths
// ---------------------------------------------------------------------------

#[test]
fn max_file_size_is_strictly_over_the_limit() {
    let p = policy("[[max-file-size]]\nid = \"max-file-size\"\nbytes = 100\n");
    let over = check(&p, &Change::new("big.bin", "").size(101));
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].evidence, "101 bytes, over the limit of 100");
    assert_eq!(over[0].location.path.as_deref(), Some("big.bin"));
    assert_eq!(over[0].location.line, None);
    assert!(
        check(&p, &Change::new("big.bin", "").size(100)).is_empty(),
        "equal"
    );
    assert!(
        check(&p, &Change::new("big.bin", "").size(99)).is_empty(),
        "under"
    );
}

#[test]
fn max_file_size_with_paths() {
    let p = policy("[[max-file-size]]\nid = \"m\"\nbytes = 10\npaths = [\"*.bin\"]\n");
    assert_eq!(check(&p, &Change::new("a/b.bin", "").size(11)).len(), 1);
    assert!(check(&p, &Change::new("a/b.txt", "").size(1000)).is_empty());
}

#[test]
fn max_file_size_fingerprint_is_path_and_blob() {
    let p = policy("[[max-file-size]]\nid = \"m\"\nbytes = 10\n");
    let fp = |c: Change| check(&p, &c)[0].fingerprint.clone();
    let base = Change::new("a.bin", "").size(11);
    let mut other_blob = base.clone();
    other_blob.blob = "e".repeat(40);
    assert_eq!(fp(base.clone()), fp(base.clone().size(12).commit(None)));
    assert_ne!(fp(base.clone()), fp(other_blob));
    assert_ne!(fp(base), fp(Change::new("b.bin", "").size(11)));
}

#[test]
fn forbidden_path() {
    let p = policy("[[forbidden-path]]\nid = \"no-env\"\npaths = [\".env\", \"config/*.key\"]\n");
    let found = check(&p, &Change::new("app/.env", "A=1\n"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, "forbidden-path");
    assert_eq!(found[0].evidence, "file added at a forbidden path");
    assert_eq!(found[0].location.path.as_deref(), Some("app/.env"));
    assert_eq!(
        found[0].location.commit.as_deref(),
        Some("c".repeat(40).as_str())
    );

    let mut edited = Change::new(".env", "B=2\n");
    edited.new_path = false;
    let found = check(&p, &edited);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].evidence, "file changed at a forbidden path");

    assert_eq!(check(&p, &Change::new("config/a.key", "")).len(), 1);
    assert!(check(&p, &Change::new("x/config/a.key", "")).is_empty());
    assert!(check(&p, &Change::new(".env.example", "")).is_empty());
    assert!(check(&p, &Change::new("src/main.rs", "")).is_empty());
}

#[test]
fn forbidden_path_matches_non_utf8_paths() {
    let p = policy("[[forbidden-path]]\nid = \"k\"\npaths = [\"*.key\"]\n");
    let mut c = Change::new("", "");
    c.path = b"d/\xffname.key".to_vec();
    let found = check(&p, &c);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].location.path.as_deref(),
        Some("d/\u{fffd}name.key")
    );
}

#[test]
fn one_change_can_fail_several_kinds() {
    let p = policy(
        "[[forbidden-path]]\nid = \"f\"\npaths = [\"*.env\"]\n\n[[max-file-size]]\nid = \"m\"\nbytes = 10\n\n\
         [[secret]]\nid = \"s\"\nregex = '''itok_[a-z0-9]{32}'''\n",
    );
    let text = tok(BODY_A);
    let found = check(&p, &Change::new("prod.env", &text));
    let mut ids: Vec<&str> = found.iter().map(|f| f.constraint.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["f", "m", "s"]);
}

#[test]
fn the_commit_target_is_needed_only_for_commit_constraints() {
    let load = |text: &str| {
        crate::policy::load(
            Some(crate::policy::Source::new("t.toml", text)),
            crate::clock::now().date_naive(),
        )
        .unwrap()
    };
    let commit = load(
        "[[protected-branch]]\nid = \"c\"\nbranches = [\"main\"]\non = [\"push\", \"commit\"]\n",
    );
    assert!(Engine::new(&commit).needs_commit_target());
    let push = load(
        "[[protected-branch]]\nid = \"p\"\nbranches = [\"main\"]\non = [\"push\", \"delete\"]\n",
    );
    assert!(!Engine::new(&push).needs_commit_target());
    let recommended = crate::policy::load(None, crate::clock::now().date_naive()).unwrap();
    assert!(!Engine::new(&recommended).needs_commit_target());
    let strict = load("extends = [\"builtin:strict\"]\n");
    assert!(Engine::new(&strict).needs_commit_target());
}
