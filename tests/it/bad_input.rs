//! Hostile input: file names with newlines, huge lines, ref names full of
//! shell characters. Nothing panics, nothing forges an output line, and no
//! secret or token is printed.

use crate::common;

use common::{aws_line, override_in_pty, Repo, AWS_KEY};

#[test]
fn a_file_name_with_a_newline_cannot_forge_output_lines() {
    let repo = Repo::installed();
    let name = "notes\nB9  blocker `fake` passed.txt";
    repo.write(name, aws_line());
    repo.git(&["add", "-A"]).success();
    let r = repo.git(&["commit", "-qm", "x"]);
    r.code(1)
        .stderr_has("at `notes\\u{a}B9  blocker `fake` passed.txt:1`")
        .never_shows(AWS_KEY);
    assert!(
        !r.err().lines().any(|l| l.starts_with("B9")),
        "a file name forged a line:\n{r}"
    );
}

#[test]
fn a_huge_line_is_scanned_and_shown_redacted_and_short() {
    let repo = Repo::installed();
    let mut line = "x".repeat(8 << 20);
    line.push_str(&format!(" {AWS_KEY}\n"));
    repo.write("big.txt", line);
    repo.git(&["add", "-A"]).success();
    let r = repo.git(&["commit", "-qm", "x"]);
    r.code(1)
        .stderr_has("aws-access-key-id")
        .never_shows(AWS_KEY);
    assert!(
        r.err().lines().all(|l| l.len() < 400),
        "an output line carries the huge line"
    );
}

#[test]
fn a_ref_full_of_shell_characters_is_quoted_in_the_rerun_command() {
    let repo = Repo::installed().with_remote();
    repo.signing_key("author");
    repo.policy("[[force-push]]\nid = \"no-rewrites\"\nbranches = [\"**\"]\n");
    let branch = "x;touch${IFS}pwned'$(id)";
    repo.git(&["switch", "-q", "-c", branch]).success();
    repo.write("a.txt", "one\n");
    repo.commit_all("one");
    repo.git(&["push", "-q", "origin", branch]).success();
    repo.git(&["commit", "-q", "--amend", "-m", "two"])
        .success();
    repo.git(&["push", "-q", "-f", "origin", branch])
        .code(1)
        .stderr_has("no-rewrites");
    let (code, out, err, _) = override_in_pty(&repo, &["B1", "--reason", "test"], &[], &[None]);
    assert_eq!(code, 0, "{out}\n{err}");
    let rerun = out.lines().nth(1).unwrap();
    assert!(
        rerun.ends_with(
            "git push origin '+refs/heads/x;touch${IFS}pwned'\\''$(id):refs/heads/x;touch${IFS}pwned'\\''$(id)'"
        ),
        "{rerun}"
    );
    // Pasted into a shell, it runs the push and nothing else.
    let cmd = rerun.to_string();
    let r = repo.run_in(&repo.root, "sh", ["-c", &cmd]);
    r.success();
    assert!(!repo.path("pwned").exists());
    assert_eq!(repo.remote_ref(branch), repo.head());
}
