//! tollgate: a git safety gate.
//!
//! Hooks installed by tollgate run the constraints of a TOML policy on every
//! commit and push. A failed constraint is a warning (acknowledged) or a
//! blocker (passed only with a single-use override token that is scoped to
//! that one blocker). The library holds everything; `main.rs` only parses
//! arguments and maps errors to exit codes.

pub mod audit;
pub mod baseline;
pub mod check;
pub mod cli;
pub mod clock;
pub mod detect;
pub mod gate;
pub mod git;
pub mod hooks;
pub mod overrides;
pub mod policy;
pub mod report;
pub mod scan;
pub mod ship;
pub mod state;
pub mod text;
pub mod trust;

#[cfg(test)]
mod layout {
    //! The module graph has no cycle: `scripts/module-graph` reads every
    //! `crate::`/`super::` path and fails on a cycle between top-level
    //! modules or between files of one module.

    use std::path::Path;
    use std::process::Command;

    fn graph(src: &Path) -> std::process::Output {
        Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/module-graph"))
            .arg("--src")
            .arg(src)
            .output()
            .expect("python3 runs scripts/module-graph (scripts/test installs it)")
    }

    #[test]
    fn no_module_cycles() {
        let out = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let edges = String::from_utf8_lossy(&out.stdout);
        assert!(edges.contains("cli -> gate"), "{edges}");
        assert!(!edges.contains("report -> cli"), "{edges}");
    }

    #[test]
    fn a_cycle_fails_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let write = |p: &str, text: &str| {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("lib.rs", "pub mod a;\npub mod b;\n");
        write("a/mod.rs", "pub mod x;\npub mod y;\nuse crate::b::B;\n");
        write("a/x.rs", "use super::y::Y;\n");
        write("a/y.rs", "use super::x::X;\n");
        write("b.rs", "// a comment naming crate::a is no edge\n");
        let out = graph(dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains("cycle: a/x <-> a/y"), "{stderr}");
        assert!(!stderr.contains("a <-> b"), "{stderr}");
        write("b.rs", "use crate::a::x::X;\n");
        let stderr = String::from_utf8_lossy(&graph(dir.path()).stderr).into_owned();
        assert!(stderr.contains("cycle: a <-> b"), "{stderr}");
    }
}
