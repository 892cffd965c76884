//! Build script, two jobs.
//!
//! Embeds the builtin secret rule families: every `policies/secrets/*.toml`
//! becomes part of `builtin:recommended`, and every
//! `tests/fixtures/secret-cases/*.toml` is a case file of the pack test, so
//! a family file dropped into either directory is picked up without a list
//! to keep in step. Each family is also parsed here, once, into Rust code
//! that builds its raw `[[secret]]` entries (spans included), so a hook does
//! not parse 280 KB of TOML on every commit. A family this script does not
//! fully understand (an unknown key, a duplicate id, a TOML error) gets no
//! generated code and is parsed at run time as before, with the loader's own
//! diagnostics; a test checks that every family has generated code and that
//! it equals what the TOML parser makes of the file.
//!
//! Stamps the binary with the commit it was built from, the build date, the
//! target and the enabled features, for `tollgate --version` and
//! `tollgate version --format json` (so a bug report names its build).
//! Sources, in order: `git` in this crate's own checkout; the
//! `.cargo_vcs_info.json` that `cargo package` writes into a crates.io
//! tarball; else no commit (a plain source tarball builds all the same). The
//! date is `SOURCE_DATE_EPOCH` when set (reproducible release builds), else
//! today. Nothing here can fail the build.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "build/precompiled.rs"]
mod precompiled;

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    files
}

fn table(name: &str, files: &[PathBuf]) -> String {
    let mut out = format!("pub const {name}: &[(&str, &str)] = &[\n");
    for f in files {
        let file = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({file:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    out
}

fn main() {
    embed_families();
    stamp_version();
}

fn embed_families() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let families = toml_files(&root.join("policies/secrets"));
    let cases = toml_files(&root.join("tests/fixtures/secret-cases"));
    let text = format!(
        "/// `policies/secrets/*.toml`, sorted by file name.\n{}\n/// `tests/fixtures/secret-cases/*.toml`, sorted by file name.\n#[allow(dead_code)]\n{}\n{}",
        table("SECRET_FAMILIES", &families),
        table("SECRET_CASES", &cases),
        precompiled::families(&families)
    );
    fs::write(out.join("builtin_families.rs"), text).expect("OUT_DIR is writable");
}

fn stamp_version() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");

    let commit = git_commit(&manifest_dir).or_else(|| vcs_info_commit(&manifest_dir));
    let date = build_date();
    let short = commit.as_deref().map(|c| &c[..c.len().min(7)]);
    let long_version = match short {
        Some(s) => format!("{} ({s} {date})", env("CARGO_PKG_VERSION")),
        None => format!("{} ({date})", env("CARGO_PKG_VERSION")),
    };

    // Every `CARGO_FEATURE_<NAME>` cargo sets is an enabled feature of this
    // crate; reading them all keeps the list right when features are added.
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_ascii_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();

    let rustc = std::env::var("RUSTC")
        .ok()
        .and_then(|r| run(Command::new(r).arg("-V")))
        .unwrap_or_default();

    println!("cargo:rustc-env=TOLLGATE_LONG_VERSION={long_version}");
    println!(
        "cargo:rustc-env=TOLLGATE_COMMIT={}",
        commit.as_deref().unwrap_or("")
    );
    println!("cargo:rustc-env=TOLLGATE_BUILD_DATE={date}");
    println!("cargo:rustc-env=TOLLGATE_TARGET={}", env("TARGET"));
    println!("cargo:rustc-env=TOLLGATE_PROFILE={}", env("PROFILE"));
    println!("cargo:rustc-env=TOLLGATE_FEATURES={}", features.join(","));
    println!("cargo:rustc-env=TOLLGATE_RUSTC={rustc}");
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Runs a command; its trimmed stdout when it succeeded and printed something.
fn run(cmd: &mut Command) -> Option<String> {
    let out = cmd.stdin(std::process::Stdio::null()).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    run(Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE"))
}

/// HEAD of the checkout this crate is the root of. A crate unpacked inside
/// some other repository (vendored, or under a project's `target/`) is not
/// stamped with that repository's commit.
fn git_commit(dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(&top, dir) {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--verify", "HEAD^{commit}"])?;
    // Rebuild when HEAD moves: HEAD itself, the branch it names, packed refs.
    for p in ["HEAD", "packed-refs"] {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={}", dir.join(path).display());
        }
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={}", dir.join(path).display());
        }
    }
    Some(commit)
}

/// The commit `cargo package` recorded in a crates.io tarball.
fn vcs_info_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    let sha = &rest[start..start + len];
    (sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_string())
}

fn build_date() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let when = match epoch.and_then(|e| chrono::DateTime::from_timestamp(e, 0)) {
        Some(t) => t,
        None => chrono::Utc::now(),
    };
    when.format("%Y-%m-%d").to_string()
}
