//! Shared harness for the integration tests: real repositories in temporary
//! folders, driven through the real `git` and the real `tollgate` binary.
//!
//! Hermetic (see STYLE.md "Tests"): every command starts from an empty
//! environment and gets only what is set in [`Repo::command`]: a `HOME` in the
//! temp dir, git's global and system config at `/dev/null`, fixed identities
//! and dates, `LC_ALL=C`, and a `PATH` without any installed `tollgate` (so the
//! shims can only run the binary recorded at install time). Nothing such as
//! `GIT_DIR` or `GIT_INDEX_FILE` leaks in from a surrounding hook.
//!
//! Every command also runs in a new session (`setsid --wait`), so it has no
//! controlling terminal: a developer running `cargo test` in a terminal is
//! never prompted, and the no-terminal paths are what the tests see. Tests
//! that need a terminal use [`Repo::pty`], which gives the child a fresh
//! pseudo-terminal as its controlling terminal.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;

use assert_fs::TempDir;

/// Tests that measure contention or peak memory take turns on this lock:
/// every module shares one test process, and two such tests on two cores
/// starve one another.
pub static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes a turn on [`HEAVY`] (a panicked holder does not poison it).
pub fn heavy_turn() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A secret of the builtin pack's `aws-access-key-id` format (not the
/// documented `…EXAMPLE` key, which the pack allows).
pub const AWS_KEY: &str = "AKIAZ7Q2LMNOPQRS3TUV";

/// How the AWS key is shown once redacted.
pub const AWS_KEY_REDACTED: &str = "AKIA…[redacted]";

/// A file line carrying [`AWS_KEY`] and nothing else that a pack could flag.
pub fn aws_line() -> String {
    format!("upload via {AWS_KEY}\n")
}

/// The fixed date of every commit (identical inputs give identical shas).
pub const DATE: &str = "1700000000 +0000";

/// The `tollgate` binary under test.
pub fn tollgate_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tollgate")
}

/// The inherited `PATH` minus every directory that holds a `tollgate`, so a
/// developer's installed copy can never stand in for the binary under test.
fn hermetic_path() -> OsString {
    let inherited =
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let dirs: Vec<PathBuf> = std::env::split_paths(&inherited)
        .filter(|d| !d.join("tollgate").exists())
        .collect();
    std::env::join_paths(dirs).expect("PATH entries are joinable")
}

/// The result of one command, with its output kept for assertions and for
/// the panic message of a failed one.
pub struct Run {
    /// What ran (for messages).
    pub what: String,
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// Raw stderr.
    pub stderr: Vec<u8>,
}

impl Run {
    /// Stdout, lossily decoded.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr, lossily decoded.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Stdout and stderr together (lossy).
    pub fn all(&self) -> String {
        format!("{}{}", self.out(), self.err())
    }

    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "unexpected exit code\n{self}");
        self
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.err().contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.out().contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that stderr does not contain `needle`.
    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.err().contains(needle),
            "stderr has {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that neither stdout nor stderr contains `needle` (raw bytes).
    #[track_caller]
    pub fn never_shows(&self, needle: &str) -> &Self {
        let n = needle.as_bytes();
        let found = |h: &[u8]| h.windows(n.len()).any(|w| w == n);
        assert!(
            !found(&self.stdout) && !found(&self.stderr),
            "output shows {needle:?}\n{self}"
        );
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}  (exit {:?})", self.what, self.code)?;
        writeln!(f, "--- stdout\n{}", self.out())?;
        write!(f, "--- stderr\n{}", self.err())
    }
}

/// A working repository (branch `main`, no commits yet) in its own temporary
/// folder, with room for a bare remote and a `HOME` next to it.
pub struct Repo {
    /// Owns everything; removed when the last clone sharing it is dropped.
    pub tmp: Rc<TempDir>,
    /// The working tree.
    pub root: PathBuf,
    /// `HOME` for every command.
    pub home: PathBuf,
    /// The bare remote, once [`Repo::with_remote`] made it.
    pub remote: Option<PathBuf>,
}

impl Repo {
    /// `git init -b main` in a fresh temporary folder.
    pub fn new() -> Repo {
        let tmp = TempDir::new().expect("temp dir");
        let root = tmp.path().join("work");
        let home = tmp.path().join("home");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&home).unwrap();
        let repo = Repo {
            tmp: Rc::new(tmp),
            root,
            home,
            remote: None,
        };
        repo.git(&["init", "-q", "-b", "main"]).success();
        repo.git(&["config", "user.name", "Test Author"]).success();
        repo.git(&["config", "user.email", "author@example.com"])
            .success();
        repo.git(&["config", "advice.detachedHead", "false"])
            .success();
        repo
    }

    /// [`Repo::new`] with tollgate's hooks installed.
    pub fn installed() -> Repo {
        let repo = Repo::new();
        repo.tollgate(&["install"]).success();
        repo
    }

    /// Adds a bare repository `remote.git` next to the work tree as `origin`.
    pub fn with_remote(mut self) -> Repo {
        let remote = self.tmp.path().join("remote.git");
        self.run_in(
            self.tmp.path(),
            "git",
            ["init", "-q", "--bare", "-b", "main", "remote.git"],
        )
        .success();
        self.git(&[
            "remote",
            "add",
            "origin",
            remote.to_str().expect("UTF-8 temp path"),
        ])
        .success();
        self.remote = Some(remote);
        self
    }

    /// A clone as CI makes it (`ci@example.com`, no hooks) with the
    /// records fetched from the remote.
    pub fn ci_clone(&self) -> Repo {
        let ci = self.clone_as("ci", "ci@example.com", false);
        ci.git(&[
            "fetch",
            "-q",
            "origin",
            "+refs/notes/tollgate:refs/notes/tollgate",
        ])
        .success();
        ci
    }

    /// A second working repository `name` next to this one: a clone of the
    /// bare remote with its own identity, sharing `HOME` and the remote.
    /// `install` puts tollgate's hooks into it.
    pub fn clone_as(&self, name: &str, email: &str, install: bool) -> Repo {
        let remote = self.remote.clone().expect("with_remote() first");
        self.run_in(
            self.tmp.path(),
            "git",
            ["clone", "-q", remote.to_str().unwrap(), name],
        )
        .success();
        let other = Repo {
            tmp: Rc::clone(&self.tmp),
            root: self.tmp.path().join(name),
            home: self.home.clone(),
            remote: Some(remote),
        };
        other.git(&["config", "user.name", name]).success();
        other.git(&["config", "user.email", email]).success();
        if install {
            other.tollgate(&["install"]).success();
        }
        other
    }

    /// Generates an Ed25519 key pair without passphrase under the temp
    /// folder; returns the private key's path and the public key line.
    pub fn ssh_keygen(&self, name: &str) -> (PathBuf, String) {
        let dir = self.tmp.path().join("keys");
        fs::create_dir_all(&dir).unwrap();
        let key = dir.join(name);
        self.run_in(
            &dir,
            "ssh-keygen",
            ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", name],
        )
        .success();
        let public = fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
        (key, public.trim().to_string())
    }

    /// Gives this repository's user an SSH signing key (`tollgate.signingKey`)
    /// and lists it for `user.email` in `.tollgate/allowed_signers` in the
    /// work tree (not committed). Returns the public key line.
    pub fn signing_key(&self, name: &str) -> String {
        let (key, public) = self.ssh_keygen(name);
        self.git(&["config", "tollgate.signingKey", key.to_str().unwrap()])
            .success();
        let email = self.git(&["config", "user.email"]).out().trim().to_string();
        let path = self.path(".tollgate/allowed_signers");
        let mut list = fs::read_to_string(&path).unwrap_or_default();
        list.push_str(&format!("{email} {public}\n"));
        self.write(".tollgate/allowed_signers", list);
        public
    }

    /// The lines of the note on `commit` in `refs/notes/tollgate` (empty
    /// when there is none).
    pub fn records(&self, commit: &str) -> Vec<String> {
        let r = self.git(&["notes", "--ref=refs/notes/tollgate", "show", commit]);
        if !r.ok() {
            return Vec::new();
        }
        r.out().lines().map(str::to_string).collect()
    }

    /// A path inside the work tree.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// The git dir (`.git`).
    pub fn git_dir(&self) -> PathBuf {
        self.root.join(".git")
    }

    /// Writes a file in the work tree (creating its directories).
    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Writes an executable script (mode 0755) at an absolute path.
    pub fn write_script(path: &Path, text: &str) {
        if let Some(d) = path.parent() {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Writes `.tollgate.toml` at the repository root (not staged).
    pub fn policy(&self, toml: &str) {
        self.write(".tollgate.toml", toml);
    }

    /// The hermetic command for `program`, in a new session (no controlling
    /// terminal), in the work tree, with stdin closed.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("setsid");
        c.arg("--wait").arg(program);
        self.hermetic(&mut c);
        c.current_dir(&self.root).stdin(Stdio::null());
        c
    }

    /// Sets the hermetic environment on `c` (after clearing everything).
    pub fn hermetic(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", hermetic_path())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_SYSTEM", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_AUTHOR_DATE", DATE)
            .env("GIT_COMMITTER_DATE", DATE)
            .env("LC_ALL", "C");
    }

    /// Runs a prepared command and collects its result.
    pub fn output(mut cmd: Command) -> Run {
        let what = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run `{what}` (is util-linux `setsid` installed?): {e}")
        });
        Run {
            what,
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// Runs `program args…` in `dir`.
    pub fn run_in<I, S>(&self, dir: &Path, program: impl AsRef<OsStr>, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.command(program);
        c.args(args).current_dir(dir);
        Repo::output(c)
    }

    /// Runs `git args…` in the work tree.
    pub fn git(&self, args: &[&str]) -> Run {
        self.git_env(args, &[])
    }

    /// Runs `git args…` with extra environment variables.
    pub fn git_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command("git");
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Repo::output(c)
    }

    /// Runs the binary under test with `args…` in the work tree.
    pub fn tollgate(&self, args: &[&str]) -> Run {
        self.tollgate_env(args, &[])
    }

    /// Runs the binary under test with extra environment variables.
    pub fn tollgate_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command(tollgate_bin());
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Repo::output(c)
    }

    /// `git add -A && git commit -m msg` through the hooks; asserts success
    /// and returns the new `HEAD`.
    #[track_caller]
    pub fn commit_all(&self, msg: &str) -> String {
        self.git(&["add", "-A"]).success();
        self.git(&["commit", "-q", "-m", msg]).success();
        self.head().expect("a commit was made")
    }

    /// Writes `rel`, stages it and commits with `--no-verify` (bypassing the
    /// hooks, to set up history that a push must judge); returns the commit.
    #[track_caller]
    pub fn commit_unchecked(&self, rel: &str, bytes: impl AsRef<[u8]>, msg: &str) -> String {
        self.write(rel, bytes);
        self.git(&["add", "--", rel]).success();
        self.git(&["commit", "-q", "--no-verify", "-m", msg])
            .success();
        self.head().expect("a commit was made")
    }

    /// Resolves `rev` to a commit sha in the work repository.
    pub fn rev(&self, rev: &str) -> Option<String> {
        let r = self.git(&["rev-parse", "-q", "--verify", &format!("{rev}^{{commit}}")]);
        r.ok().then(|| r.out().trim().to_string())
    }

    /// `HEAD`'s commit, `None` before the first commit.
    pub fn head(&self) -> Option<String> {
        self.rev("HEAD")
    }

    /// A branch's sha on the bare remote, `None` when it does not exist.
    pub fn remote_ref(&self, branch: &str) -> Option<String> {
        let remote = self.remote.as_ref().expect("with_remote() first");
        let r = self.git(&[
            "--git-dir",
            remote.to_str().unwrap(),
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/heads/{branch}"),
        ]);
        r.ok().then(|| r.out().trim().to_string())
    }

    /// Every file under `.git/tollgate/`, concatenated (to look for leaks).
    pub fn state_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let dir = self.git_dir().join("tollgate");
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    out.extend(fs::read(e.path()).unwrap());
                }
            }
        }
        out
    }

    /// Spawns `program args…` in a fresh pseudo-terminal that becomes its
    /// controlling terminal (so `/dev/tty` works), with the hermetic
    /// environment and `env` on top. Expectations time out after 15 s.
    pub fn pty(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> rexpect::session::PtySession {
        let mut c = Command::new(program);
        self.hermetic(&mut c);
        c.args(args).current_dir(&self.root);
        for (k, v) in env {
            c.env(k, v);
        }
        rexpect::session::spawn_command(c, Some(15_000)).expect("spawn in a pty")
    }
}

impl Default for Repo {
    fn default() -> Self {
        Repo::new()
    }
}

/// Whether `haystack` contains `needle` (bytes).
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    haystack.windows(n.len()).any(|w| w == n)
}

/// Runs `tollgate override args…` in a pseudo-terminal with stdout and
/// stderr sent to files, reads the challenge code off the terminal, answers
/// with `answers` (the real code where an entry is `None`), and returns
/// (exit code, stdout, stderr, everything the terminal showed).
pub fn override_in_pty(
    repo: &Repo,
    args: &[&str],
    env: &[(&str, &str)],
    answers: &[Option<&str>],
) -> (i32, String, String, String) {
    let tag = repo
        .root
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = repo.tmp.path().join(format!("{tag}.override.out"));
    let err = repo.tmp.path().join(format!("{tag}.override.err"));
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let script = format!(
        "'{}' override {} >'{}' 2>'{}'",
        tollgate_bin().display(),
        quoted.join(" "),
        out.display(),
        err.display()
    );
    let mut p = repo.pty("sh", &["-c", &script], env);
    let (before, code) = p
        .exp_regex("type this code: [A-Z2-9]{6}")
        .expect("the challenge reaches the terminal");
    let code = code.trim_start_matches("type this code: ").to_string();
    let mut screen = before + "type this code: " + &code;
    for a in answers {
        screen += &p.exp_string("> ").expect("a prompt");
        p.send_line(a.unwrap_or(&code)).unwrap();
    }
    screen += &p.exp_eof().unwrap_or_default();
    let status = match p.process.wait().expect("wait") {
        rexpect::process::wait::WaitStatus::Exited(_, c) => c,
        other => panic!("override did not exit normally: {other:?}"),
    };
    let stdout = std::fs::read_to_string(out).unwrap_or_default();
    let stderr = std::fs::read_to_string(err).unwrap_or_default();
    // The code is shown on the terminal and nowhere else.
    assert!(
        !stdout.contains(&code) && !stderr.contains(&code),
        "challenge code leaked:\n{stdout}\n{stderr}"
    );
    assert!(
        !contains(&repo.state_bytes(), &code),
        "challenge code stored under the git dir"
    );
    (status, stdout, stderr, screen)
}

/// Mints a token for `finding` and returns it.
pub fn mint(repo: &Repo, finding: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec![finding, "--reason", "fixture for the demo"];
    args.extend_from_slice(extra);
    let (code, out, err, screen) = override_in_pty(repo, &args, env, &[None]);
    assert_eq!(code, 0, "override failed:\n{out}\n{err}\n{screen}");
    assert!(screen.contains("Approved."), "{screen}");
    let first = out.lines().next().unwrap_or_default();
    let token = first
        .strip_prefix("TOLLGATE_TOKEN=")
        .expect("first stdout line carries the token");
    assert!(token.starts_with("tgt1_") && token.len() == 45, "{token}");
    token.to_string()
}

/// Stages a secret in `file`, is blocked, mints a token and commits with it;
/// returns the new commit.
pub fn commit_secret_with_override(repo: &Repo, file: &str) -> String {
    repo.write(file, aws_line());
    repo.git(&["add", file]).success();
    repo.git(&["commit", "-qm", "add key"])
        .code(1)
        .stderr_has("aws-access-key-id");
    let token = mint(repo, "B1", &[], &[]);
    repo.git_env(&["commit", "-qm", "add key"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    repo.head().unwrap()
}
