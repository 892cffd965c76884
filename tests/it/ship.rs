//! What a release ships: `--version` and `tollgate version` name the build,
//! `tollgate man` writes a page per subcommand that `man` renders, and the
//! release archive matches the `cargo binstall` metadata.

use crate::common;

use std::fs;
use std::path::Path;

use common::{tollgate_bin, Repo};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The commit this checkout is at, as the build script saw it.
fn head_of_checkout(repo: &Repo) -> Option<String> {
    let r = repo.run_in(manifest_dir(), "git", ["rev-parse", "HEAD"]);
    r.ok().then(|| r.out().trim().to_string())
}

#[test]
fn version_names_commit_and_date() {
    let repo = Repo::new();
    let r = repo.tollgate(&["--version"]);
    r.success();
    let line = r.out();
    let line = line.trim_end();
    // `tollgate 0.2.0 (abc1234 2026-12-01)`
    let rest = line
        .strip_prefix(&format!("tollgate {VERSION} ("))
        .unwrap_or_else(|| panic!("{line}"));
    let inner = rest.strip_suffix(')').unwrap_or_else(|| panic!("{line}"));
    let (commit, date) = inner.split_once(' ').unwrap_or_else(|| panic!("{line}"));
    assert_eq!(commit.len(), 7, "{line}");
    assert!(commit.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{line}"
    );
    // Built from this checkout: the stamp is a real commit of it (HEAD, or an
    // earlier one when the binary predates an uncommitted rebuild).
    let head = head_of_checkout(&repo).expect("tests run from a git checkout");
    let exists = repo.run_in(
        manifest_dir(),
        "git",
        ["cat-file", "-e", &format!("{commit}^{{commit}}")],
    );
    assert!(
        exists.ok(),
        "{commit} is no commit of this checkout (HEAD {head})"
    );
    // `-V` says the same.
    assert_eq!(repo.tollgate(&["-V"]).out(), r.out());
}

#[test]
fn version_json_has_commit_date_target_and_features() {
    let repo = Repo::new();
    let r = repo.tollgate(&["version", "--format", "json"]);
    r.success();
    let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap();
    assert_eq!(v["name"], "tollgate");
    assert_eq!(v["version"], VERSION);
    let commit = v["commit"].as_str().unwrap();
    assert_eq!(commit.len(), 40);
    assert_eq!(v["commit_short"].as_str().unwrap(), &commit[..7]);
    let text = repo.tollgate(&["--version"]).out();
    assert!(
        text.contains(&format!(
            "({} {})",
            &commit[..7],
            v["date"].as_str().unwrap()
        )),
        "{text}"
    );
    let target = v["target"].as_str().unwrap();
    assert!(target.contains('-'), "{target}");
    // The test suite builds tollgate with its `test-clock` feature.
    let features: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(features.contains(&"test-clock"), "{features:?}");
    assert!(v["rustc"].as_str().unwrap().starts_with("rustc "));

    let human = repo.tollgate(&["version"]);
    human.success();
    assert!(
        human.out().contains(&format!("commit: {commit}\n")),
        "{}",
        human.out()
    );
    assert!(
        human.out().contains("features: test-clock\n"),
        "{}",
        human.out()
    );
    repo.tollgate(&["version", "--format", "yaml"]).code(2);
}

/// Every subcommand at every depth, from `tollgate help`'s own listing.
fn subcommands(repo: &Repo, path: &[&str]) -> Vec<Vec<String>> {
    let mut args: Vec<&str> = path.to_vec();
    args.push("--help");
    let help = repo.tollgate(&args);
    help.success();
    let text = help.out();
    let mut found = Vec::new();
    let mut in_commands = false;
    for line in text.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.trim().is_empty() || !line.starts_with("  ") {
                in_commands = false;
                continue;
            }
            let name = line.split_whitespace().next().unwrap();
            if name == "help" || line.starts_with("   ") {
                continue;
            }
            let mut sub: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            sub.push(name.to_string());
            let sub_ref: Vec<&str> = sub.iter().map(String::as_str).collect();
            let deeper = subcommands(repo, &sub_ref);
            found.push(sub);
            found.extend(deeper);
        }
    }
    found
}

#[test]
fn man_pages_exist_for_every_subcommand_and_render() {
    let repo = Repo::new();
    let dir = repo.tmp.path().join("share/man/man1");
    repo.tollgate(&["man", "--out-dir", dir.to_str().unwrap()])
        .success()
        .stderr_has("man pages into");

    let subs = subcommands(&repo, &[]);
    for expected in ["verify", "check", "override", "audit", "man", "version"] {
        assert!(
            subs.iter().any(|s| s == &[expected.to_string()]),
            "{subs:?}"
        );
    }
    assert!(
        subs.iter().any(|s| s.len() == 2),
        "nested subcommands: {subs:?}"
    );
    let mut pages: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let mut want: Vec<String> = subs
        .iter()
        .map(|s| format!("tollgate-{}.1", s.join("-")))
        .chain(["tollgate.1".to_string()])
        .collect();
    want.sort();
    assert_eq!(pages, want, "one page per subcommand, no more, no fewer");

    let top = fs::read_to_string(dir.join("tollgate.1")).unwrap();
    for s in subs.iter().filter(|s| s.len() == 1) {
        assert!(
            top.contains(&format!(".BR tollgate-{} (1)", s[0])),
            "SEE ALSO lacks {s:?}"
        );
    }
    let verify = fs::read_to_string(dir.join("tollgate-verify.1")).unwrap();
    assert!(verify.contains("tollgate\\-verify"), "{verify}");
    assert!(verify.contains("allowed\\-signers"), "{verify}");

    // `man` renders them, by file and through MANPATH after the documented
    // install step (pages under <prefix>/share/man/man1).
    let by_file = repo.run_in(
        repo.tmp.path(),
        "man",
        [
            "-l",
            "-P",
            "cat",
            dir.join("tollgate-verify.1").to_str().unwrap(),
        ],
    );
    by_file.success();
    assert!(
        by_file.out().contains("--allowed-signers") || by_file.out().contains("allowed-signers"),
        "{}",
        by_file.out()
    );
    let manpath = repo.tmp.path().join("share/man");
    let mut c = repo.command("man");
    c.env("MANPATH", &manpath)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .args(["tollgate-verify"]);
    let by_name = Repo::output(c);
    by_name.success();
    let text = by_name.out();
    assert!(text.contains("tollgate-verify"), "{text}");
    assert!(text.contains("Re-check a pushed range in CI"), "{text}");
    let mut c = repo.command("man");
    c.env("MANPATH", &manpath)
        .env("MANPAGER", "cat")
        .args(["tollgate-no-such-page"]);
    assert!(
        !Repo::output(c).ok(),
        "man finds a page that was never written"
    );

    // An output folder that cannot be made is an error, not a panic.
    let file = repo.tmp.path().join("a-file");
    fs::write(&file, "").unwrap();
    repo.tollgate(&["man", "--out-dir", file.join("x").to_str().unwrap()])
        .code(2)
        .stderr_has("cannot create man page folder");
}

/// `{ name }` templates of `[package.metadata.binstall]`, filled in as
/// cargo-binstall does for `target`.
fn binstall(template: &str, target: &str, ext: &str, bin_ext: &str) -> String {
    template
        .replace("{ version }", VERSION)
        .replace("{ target }", target)
        .replace("{ archive-suffix }", ext)
        .replace("{ bin }", "tollgate")
        .replace("{ binary-ext }", bin_ext)
        .replace("{ repo }", "https://github.com/OWNER/tollgate")
}

#[test]
fn the_release_archive_is_what_cargo_binstall_looks_for() {
    let manifest: toml::Value =
        toml::from_str(&fs::read_to_string(manifest_dir().join("Cargo.toml")).unwrap()).unwrap();
    let meta = &manifest["package"]["metadata"]["binstall"];
    let pkg_url = meta["pkg-url"].as_str().unwrap();
    let bin_dir = meta["bin-dir"].as_str().unwrap();
    assert_eq!(meta["pkg-fmt"].as_str(), Some("tgz"));
    assert_eq!(
        meta["overrides"]["x86_64-pc-windows-msvc"]["pkg-fmt"].as_str(),
        Some("zip")
    );

    // Every target the release workflow builds is one the action downloads.
    let workflow =
        fs::read_to_string(manifest_dir().join(".github/workflows/release.yml")).unwrap();
    let action = fs::read_to_string(manifest_dir().join("scripts/action-verify.sh")).unwrap();
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(
            workflow.contains(&format!("target: {target}")),
            "{target} not built"
        );
        assert!(
            action.contains(&format!("echo {target}")),
            "{target} not downloaded"
        );
    }

    // Pack the binary under test as the workflow does and check the URL's
    // file name and the path inside match the metadata.
    let repo = Repo::new();
    let target = "x86_64-unknown-linux-musl";
    let out = repo.tmp.path().join("dist");
    let r = repo.run_in(
        repo.tmp.path(),
        "bash",
        [
            manifest_dir()
                .join("scripts/release-package.sh")
                .to_str()
                .unwrap(),
            tollgate_bin().to_str().unwrap(),
            target,
            VERSION,
            out.to_str().unwrap(),
        ],
    );
    r.success();
    let url = binstall(pkg_url, target, ".tar.gz", "");
    let asset = format!("tollgate-v{VERSION}-{target}.tar.gz");
    assert_eq!(
        url,
        format!("https://github.com/OWNER/tollgate/releases/download/v{VERSION}/{asset}")
    );
    let win = meta["overrides"]["x86_64-pc-windows-msvc"]["pkg-url"]
        .as_str()
        .unwrap();
    assert!(binstall(win, "x86_64-pc-windows-msvc", "", ".exe")
        .ends_with(&format!("/tollgate-v{VERSION}-x86_64-pc-windows-msvc.zip")));
    assert!(out.join(&asset).exists());
    let list = repo.run_in(&out, "tar", ["-tzf", &asset]);
    list.success();
    let inside = binstall(bin_dir, target, ".tar.gz", "");
    let names = list.out();
    for want in [
        inside.as_str(),
        &format!("tollgate-v{VERSION}-{target}/LICENSE-MIT"),
        &format!("tollgate-v{VERSION}-{target}/LICENSE-APACHE"),
        &format!("tollgate-v{VERSION}-{target}/THIRD-PARTY-NOTICES.md"),
        &format!("tollgate-v{VERSION}-{target}/man/tollgate-verify.1"),
    ] {
        assert!(
            names.lines().any(|l| l == want),
            "{want} not in the archive:\n{names}"
        );
    }
    let sum = fs::read_to_string(out.join(format!("{asset}.sha256"))).unwrap();
    assert!(sum.ends_with(&format!("  {asset}\n")), "{sum}");
    let check = repo.run_in(&out, "sha256sum", ["-c", &format!("{asset}.sha256")]);
    check.success();

    // A binary of another version is refused.
    let r = repo.run_in(
        repo.tmp.path(),
        "bash",
        [
            manifest_dir()
                .join("scripts/release-package.sh")
                .to_str()
                .unwrap(),
            tollgate_bin().to_str().unwrap(),
            target,
            "9.9.9",
            out.to_str().unwrap(),
        ],
    );
    r.code(2).stderr_has("not tollgate 9.9.9");
}

#[test]
fn the_docs_name_the_release_tag_of_this_version() {
    let tag = format!("v{VERSION}");
    let readme = fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let revs: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("rev: "))
        .collect();
    assert!(!revs.is_empty(), "the README has a pre-commit snippet");
    assert!(
        revs.iter().all(|r| *r == tag),
        "README revs {revs:?}, version {tag}"
    );
    for file in ["README.md", "examples/github-actions.yml", "action.yml"] {
        let text = fs::read_to_string(manifest_dir().join(file)).unwrap();
        let uses: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("/tollgate@").map(|(_, v)| v.trim()))
            .collect();
        assert!(!uses.is_empty(), "{file} names no tollgate@<tag>");
        assert!(
            uses.iter().all(|u| *u == tag),
            "{file}: {uses:?}, version {tag}"
        );
    }
    let changelog = fs::read_to_string(manifest_dir().join("CHANGELOG.md")).unwrap();
    assert!(changelog.contains("\n## Unreleased\n"));
    assert!(
        changelog.contains(&format!("\n## [{VERSION}] - ")),
        "CHANGELOG.md has no section for {VERSION}"
    );
}

/// The cargo-deny binary `scripts/test` installs (never skipped: without it
/// the test fails and names the script).
fn cargo_deny() -> std::path::PathBuf {
    let path = std::env::var_os("TOLLGATE_CARGO_DENY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/ci-tools/bin/cargo-deny"));
    assert!(
        path.is_file(),
        "cargo-deny not at {}: run `scripts/test` (the README's test command), which installs it",
        path.display()
    );
    path
}

#[test]
fn the_licence_check_passes_here_and_refuses_a_planted_gpl_crate() {
    let deny = cargo_deny();
    // The fixture crate depends on a GPL-3.0-only crate: tollgate's own
    // deny.toml must refuse it, naming the licence and the crate.
    let fixture = manifest_dir().join("tests/fixtures/licence-gpl");
    let out = std::process::Command::new(&deny)
        .arg("--manifest-path")
        .arg(fixture.join("Cargo.toml"))
        .arg("--config")
        .arg(manifest_dir().join("deny.toml"))
        .args(["check", "licenses"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a GPL dependency passed:\n{err}");
    assert!(err.contains("GPL-3.0-only"), "{err}");
    assert!(err.contains("planted-gpl"), "{err}");

    // The whole check, as CI runs it: licences, bans and sources of
    // tollgate's tree, the planted fixture refused, notices up to date.
    let out = std::process::Command::new(manifest_dir().join("scripts/licence-check.sh"))
        .env("TOLLGATE_CARGO_DENY", &deny)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/licence-check.sh failed:\n{err}"
    );
    assert!(err.contains("refused as expected"), "{err}");
    assert!(err.contains("licence checks passed"), "{err}");
}
