//! Embeds the builtin secret rule families: every `policies/secrets/*.toml`
//! becomes part of `builtin:recommended`, and every
//! `tests/fixtures/secret-cases/*.toml` is a case file of the pack test, so
//! a family file dropped into either directory is picked up without a list
//! to keep in step.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

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
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let families = toml_files(&root.join("policies/secrets"));
    let cases = toml_files(&root.join("tests/fixtures/secret-cases"));
    let text = format!(
        "/// `policies/secrets/*.toml`, sorted by file name.\n{}\n/// `tests/fixtures/secret-cases/*.toml`, sorted by file name.\n#[allow(dead_code)]\n{}",
        table("SECRET_FAMILIES", &families),
        table("SECRET_CASES", &cases)
    );
    fs::write(out.join("builtin_families.rs"), text).expect("OUT_DIR is writable");
}
