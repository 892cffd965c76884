//! `tollgate policy import-gitleaks` on a gitleaks file with custom rules
//! and allowlists: the constraints it writes load and block what gitleaks
//! would, the allowlisted secret passes, and everything without an
//! equivalent is reported with its line.

use crate::common;

use common::Repo;

const GITLEAKS: &str = r#"title = "team gitleaks"

[extend]
useDefault = true

[allowlist]
description = "global"
paths = ['''(^|/)vendor/''']

[[rules]]
id = "internal_token"
description = "Internal service token"
regex = '''\b(itok_[a-z0-9]{32})\b'''
secretGroup = 1
entropy = 3.5
keywords = ["itok_"]
path = '''src/.*'''

[[rules.allowlists]]
regexes = ['''itok_0{32}''']
stopwords = ["example"]

[[rules]]
id = "no-keystores"
path = '''\.jks$'''
"#;

#[test]
fn a_gitleaks_file_becomes_constraints_that_gate() {
    let repo = Repo::new();
    repo.write(".gitleaks.toml", GITLEAKS);
    let run = repo.tollgate(&[
        "policy",
        "import-gitleaks",
        ".gitleaks.toml",
        "-o",
        ".tollgate.toml",
    ]);
    run.success()
        .stderr_has("wrote 1 constraint to `.tollgate.toml`")
        .stderr_has(
            ".gitleaks.toml:6: the global allowlist: allowlisted paths `(^|/)vendor/` are regexes",
        )
        .stderr_has(
            ".gitleaks.toml:19: rule `internal_token`: allowlist `stopwords` has no equivalent",
        )
        .stderr_has(".gitleaks.toml:17: rule `internal_token`: `path` is a regex")
        .stderr_has(".gitleaks.toml:23: rule `no-keystores` has no `regex`");
    let policy = std::fs::read_to_string(repo.path(".tollgate.toml")).unwrap();
    assert!(
        policy.contains("extends = [\"builtin:recommended\"]"),
        "{policy}"
    );
    assert!(policy.contains("id = \"internal-token\""), "{policy}");
    assert!(policy.contains("secret-group = 1"), "{policy}");
    assert!(
        policy.contains("allow-regex = ['''itok_0{32}''']"),
        "{policy}"
    );
    repo.tollgate(&["policy", "check"]).success();

    // The imported constraint blocks a real token; the allowlisted one passes.
    repo.tollgate(&["install"]).success();
    repo.write(
        "src/client.py",
        "TOKEN = 'itok_q8w7e6r5t4y3u2i1o9p8a7s6d5f4g3h2'\n",
    );
    repo.git(&["add", "src/client.py"]).success();
    repo.git(&["commit", "-m", "token"])
        .code(1)
        .stderr_has("`internal-token` (secret) at `src/client.py:1`");
    repo.write(
        "src/client.py",
        format!("TOKEN = 'itok_{}'\n", "0".repeat(32)),
    );
    repo.git(&["add", "src/client.py"]).success();
    repo.git(&["commit", "-q", "-m", "placeholder"]).success();

    // Never overwrites; bad input is an error with its position.
    repo.tollgate(&[
        "policy",
        "import-gitleaks",
        ".gitleaks.toml",
        "-o",
        ".tollgate.toml",
    ])
    .code(2)
    .stderr_has("exists");
    repo.write("bad.toml", "[[rules]]\nid = \n");
    repo.tollgate(&["policy", "import-gitleaks", "bad.toml"])
        .code(2)
        .stderr_has("bad.toml:2:");
}
