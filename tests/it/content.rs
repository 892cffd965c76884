//! No content left unread: a secret is found in a file with a NUL byte, in
//! UTF-16 files with and without a byte-order mark, in files larger than
//! the in-memory limit (streamed in overlapping windows, loose and packed,
//! a key straddling a window boundary found once), and in a file renamed
//! out of an allow-listed path, through the installed hooks, `check` and
//! `verify`. A blob that cannot be read is a warning, or a blocker when the
//! policy says so. A range shared among scanning threads reports what one
//! thread finds.

use crate::common;

use std::io::Write;
use std::time::Instant;

use common::{aws_line, tollgate_bin, Repo, AWS_KEY};

const NOW: &str = "2026-11-22T10:00:00Z";

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A repository with hooks and one first commit.
fn started() -> Repo {
    let repo = Repo::installed();
    repo.write("README", "x\n");
    repo.commit_all("first");
    repo
}

/// The findings of `check args… --format json`.
fn findings(repo: &Repo, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let mut argv = args.to_vec();
    argv.extend(["--format", "json", "--yes"]);
    let r = repo.tollgate(&argv);
    let v: serde_json::Value =
        serde_json::from_str(&r.out()).unwrap_or_else(|e| panic!("{e}: {r}"));
    (
        r.code.unwrap_or(-1),
        v["findings"].as_array().cloned().unwrap_or_default(),
    )
}

#[test]
fn a_nul_byte_does_not_hide_a_key() {
    let repo = started();
    // A text file with a single NUL byte at its start, and a real binary
    // (ELF-like header, zeros) with the key as an ASCII string and as
    // UTF-16LE and UTF-16BE strings.
    let mut text = b"\0".to_vec();
    text.extend(aws_line().as_bytes());
    repo.write("notes.txt", &text);
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "nul"])
        .code(1)
        .stderr_has("blocker `aws-access-key-id`")
        .stderr_has("at `notes.txt` (binary, byte 12)")
        .never_shows(AWS_KEY);
    repo.git(&["rm", "-q", "--cached", "notes.txt"]).success();

    let mut bin = b"\x7fELF\x02\x01\x01\0".to_vec();
    bin.extend([0u8; 1000]);
    let ascii_at = bin.len();
    bin.extend(b"AKIAZ7Q2LMNOPQRS3TUA\0\0");
    bin.extend([0xffu8; 17]);
    let le_at = bin.len();
    bin.extend(utf16le("key=AKIAZ7Q2LMNOPQRS3TUB"));
    bin.extend([1u8, 2, 3]);
    let be_at = bin.len();
    bin.extend(utf16be("key=AKIAZ7Q2LMNOPQRS3TUC"));
    // (A UTF-16 run followed by a NUL reads both ways and is taken as
    // little-endian; this one is followed by other bytes.)
    bin.extend([1u8, 2, 3]);
    bin.extend([0u8; 64]);
    repo.write("tool.bin", &bin);
    repo.git(&["add", "tool.bin"]).success();
    let (code, f) = findings(&repo, &["check", "--staged"]);
    assert_eq!(code, 1, "{f:?}");
    let offsets: Vec<u64> = f
        .iter()
        .filter(|f| f["constraint"] == "aws-access-key-id")
        .map(|f| f["location"]["offset"].as_u64().unwrap())
        .collect();
    // UTF-16 offsets point at the key's first code unit (after `key=`).
    assert_eq!(
        offsets,
        [ascii_at as u64, le_at as u64 + 8, be_at as u64 + 8],
        "{f:?}"
    );
    assert!(
        f.iter().all(|f| f["location"].get("line").is_none()),
        "{f:?}"
    );
}

#[test]
fn modified_binaries_report_only_new_text() {
    let repo = started();
    let mut bin = vec![0u8; 100];
    bin.extend(b"AKIAZ7Q2LMNOPQRS3TUA");
    bin.extend([0u8; 100]);
    repo.commit_unchecked("blob.bin", &bin, "old key, committed unchecked");
    bin.extend(b"a new string, no key");
    bin.extend([0u8; 10]);
    repo.write("blob.bin", &bin);
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "no new key"]).success();
    bin.extend(b"AKIAZ7Q2LMNOPQRS3TUB");
    repo.write("blob.bin", &bin);
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "new key"])
        .code(1)
        .stderr_has("(binary, byte 250)");
}

#[test]
fn utf16_files_are_decoded_with_and_without_a_mark() {
    let repo = started();
    let body = format!("first line\r\nsecond\r\n{}", aws_line());
    let mut with_bom = vec![0xff, 0xfe];
    with_bom.extend(utf16le(&body));
    repo.write("win.txt", &with_bom);
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "utf16 bom"])
        .code(1)
        .stderr_has("at `win.txt:3`");
    repo.git(&["rm", "-q", "--cached", "win.txt"]).success();
    std::fs::remove_file(repo.path("win.txt")).unwrap();

    repo.write("nobom.txt", utf16le(&body));
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "utf16 no bom"])
        .code(1)
        .stderr_has("at `nobom.txt:3`");
    repo.git(&["rm", "-q", "--cached", "nobom.txt"]).success();
    std::fs::remove_file(repo.path("nobom.txt")).unwrap();

    let mut be = vec![0xfe, 0xff];
    be.extend(utf16be(&body));
    repo.write("be.txt", &be);
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "utf16 be"])
        .code(1)
        .stderr_has("at `be.txt:3`");
    repo.git(&["rm", "-q", "--cached", "be.txt"]).success();
    std::fs::remove_file(repo.path("be.txt")).unwrap();

    // A modified UTF-16 file: only its added lines are judged, with their
    // line numbers.
    let old = "a\r\nb\r\nAKIAZ7Q2LMNOPQRS3TUA is old\r\n";
    repo.commit_unchecked("u.txt", utf16le(old), "old key");
    repo.write("u.txt", utf16le(&format!("{old}c\r\n")));
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "no new key"]).success();
    repo.write("u.txt", utf16le(&format!("{old}c\r\n{}", aws_line())));
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-qm", "new key"])
        .code(1)
        .stderr_has("at `u.txt:5`")
        .stderr_lacks("u.txt:3");
}

/// Writes a text file of about `mib` MiB of filler lines with `keys`
/// (byte offset wanted, key) inserted as whole lines at the first line
/// boundary at or after each offset; returns each key's line number.
fn big_text(repo: &Repo, rel: &str, mib: usize, keys: &[(usize, &str)]) -> Vec<u32> {
    let f = std::fs::File::create(repo.path(rel)).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let (mut at, mut line, mut i) = (0usize, 1u32, 0u64);
    let mut lines = Vec::new();
    let mut next = 0;
    while at < mib << 20 {
        if next < keys.len() && at + 48 > keys[next].0 {
            // Pad so the key starts exactly at the wanted offset.
            let pad = keys[next].0.saturating_sub(at);
            let l = format!("{}{}\n", " ".repeat(pad), keys[next].1);
            w.write_all(l.as_bytes()).unwrap();
            lines.push(line);
            at += l.len();
            line += 1;
            next += 1;
            continue;
        }
        let l = format!("filler line {i:020} of no interest\n");
        w.write_all(l.as_bytes()).unwrap();
        at += l.len();
        line += 1;
        i += 1;
    }
    w.flush().unwrap();
    lines
}

/// Runs `tollgate args…` and returns (exit code, stderr, peak RSS in MiB).
fn peak(repo: &Repo, args: &[&str]) -> (i32, String, u64) {
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
                  sys.stderr.buffer.write(r.stderr)\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
                  sys.exit(r.returncode)";
    let bin = tollgate_bin();
    let mut argv: Vec<&str> = vec!["-c", script, bin.to_str().unwrap()];
    argv.extend_from_slice(args);
    let r = repo.run_in(&repo.root, "python3", argv);
    let kib: u64 = r.out().trim().parse().unwrap_or_else(|_| panic!("{r}"));
    (r.code.unwrap_or(-1), r.err(), kib >> 10)
}

const WINDOW: usize = 8 << 20;

#[test]
fn a_hundred_mib_file_is_streamed_and_a_key_across_a_window_edge_is_found_once() {
    let _turn = crate::common::heavy_turn();
    let repo = started();
    // One key straddles the first window edge, one the fifth, one sits
    // near the end.
    let keys = [
        (WINDOW - 7, "AKIAZ7Q2LMNOPQRS3TUA"),
        (5 * WINDOW - 10, "AKIAZ7Q2LMNOPQRS3TUB"),
        ((100 << 20) - 200, "AKIAZ7Q2LMNOPQRS3TUC"),
    ];
    let lines = big_text(&repo, "big.log", 100, &keys);
    repo.git(&["add", "big.log"]).success();
    let t = Instant::now();
    let (code, err, mib) = peak(&repo, &["check", "--staged", "--yes"]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 1, "{err}");
    for l in &lines {
        assert!(err.contains(&format!("`big.log:{l}`")), "line {l}: {err}");
    }
    assert_eq!(
        err.matches("blocker `aws-access-key-id`").count(),
        3,
        "{err}"
    );
    assert!(!err.contains("tollgate-unscanned-large-file"), "{err}");
    assert!(mib < 64, "peak RSS {mib} MiB for a 100 MiB staged file");
    eprintln!("100 MiB staged text file: {secs:.2} s, peak {mib} MiB");

    // The same blob in a pack (as git stores files over
    // core.bigFileThreshold), judged in a range: streamed through git.
    repo.git(&["commit", "-q", "--no-verify", "-m", "big"])
        .success();
    repo.git(&["-c", "core.bigFileThreshold=1m", "repack", "-adq"])
        .success();
    repo.git(&["prune-packed"]).success();
    let (code, err, mib) = peak(&repo, &["check", "--range", "HEAD~1..HEAD"]);
    assert_eq!(code, 1, "{err}");
    for l in &lines {
        assert!(err.contains(&format!("`big.log:{l}`")), "line {l}: {err}");
    }
    assert!(mib < 64, "peak RSS {mib} MiB for a packed 100 MiB blob");
}

#[test]
fn a_large_binary_is_streamed_as_text_runs() {
    let repo = started();
    let f = std::fs::File::create(repo.path("disk.img")).unwrap();
    let size = 70u64 << 20;
    f.set_len(size).unwrap();
    drop(f);
    // A UTF-16LE key straddling the first window edge.
    let at = WINDOW as u64 - 9;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(repo.path("disk.img"))
        .unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(at)).unwrap();
    f.write_all(&utf16le("AKIAZ7Q2LMNOPQRS3TUA")).unwrap();
    drop(f);
    repo.git(&["add", "disk.img"]).success();
    repo.git(&["commit", "-qm", "image"])
        .code(1)
        .stderr_has(&format!("at `disk.img` (binary, byte {at})"));
}

#[test]
fn an_unreadable_blob_warns_or_blocks_as_the_policy_says() {
    let repo = started();
    // 70 MiB that zlib cannot shrink much, stored loose, then truncated:
    // its header reads, its content does not.
    let mut data = Vec::with_capacity(70 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 70 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend(format!("{x:016x}\n").as_bytes());
    }
    repo.write("noise.txt", &data);
    repo.git(&["add", "noise.txt"]).success();
    let oid = repo.git(&["rev-parse", ":noise.txt"]).out();
    let oid = oid.trim();
    let obj = repo
        .git_dir()
        .join("objects")
        .join(&oid[..2])
        .join(&oid[2..]);
    let mut perms = std::fs::metadata(&obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&obj, perms).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&obj).unwrap();
    f.set_len(std::fs::metadata(&obj).unwrap().len() / 2)
        .unwrap();
    drop(f);

    repo.tollgate(&["check", "--staged", "--yes"])
        .success()
        .stderr_has("tollgate-unscanned-large-file")
        .stderr_has("could not be read");
    repo.policy("extends = [\"builtin:recommended\"]\n\n[settings]\nunscanned = \"block\"\n");
    repo.tollgate(&["check", "--staged", "--yes"])
        .code(1)
        .stderr_has("blocker `tollgate-unscanned-large-file`");
    repo.policy("extends = [\"builtin:recommended\"]\n\n[settings]\nunscanned = \"ignore\"\n");
    repo.tollgate(&["check", "--staged", "--yes"])
        .code(2)
        .stderr_has(".tollgate.toml:4:13");
}

const ALLOW: &str = r#"extends = ["builtin:recommended"]

[[allow]]
id = "detector-fixtures"
constraint = "aws-access-key-id"
paths = ["tests/fixtures/**"]
reason = "fake keys the detector's tests need"
expires = 2027-01-31
"#;

fn at_now() -> [(&'static str, &'static str); 1] {
    [("TOLLGATE_TEST_NOW", NOW)]
}

#[test]
fn a_file_renamed_out_of_an_allow_listed_path_is_blocked_at_commit_push_and_verify() {
    let repo = Repo::installed().with_remote();
    repo.policy(ALLOW);
    repo.write("tests/fixtures/keys.txt", aws_line());
    repo.git(&["add", "-A"]).success();
    repo.git_env(&["commit", "-qm", "fixtures"], &at_now())
        .success()
        .stderr_has("passed by allow rule `detector-fixtures`");
    repo.git_env(&["push", "-q", "origin", "main"], &at_now())
        .success();
    let base = repo.head().unwrap();

    // A pure rename within the allowed folder is not read again.
    repo.git(&["mv", "tests/fixtures/keys.txt", "tests/fixtures/k.txt"])
        .success();
    repo.git_env(&["commit", "-qm", "rename in fixtures"], &at_now())
        .success()
        .stderr_lacks("aws-access-key-id");

    // Out of it, at commit.
    std::fs::create_dir_all(repo.path("src")).unwrap();
    repo.git(&["mv", "tests/fixtures/k.txt", "src/keys.txt"])
        .success();
    repo.git_env(&["commit", "-qm", "move to src"], &at_now())
        .code(1)
        .stderr_has("blocker `aws-access-key-id`")
        .stderr_has("at `src/keys.txt:1`");

    // At push and in verify, when the commit skipped the hook.
    repo.git(&["commit", "-q", "--no-verify", "-m", "move to src"])
        .success();
    let head = repo.head().unwrap();
    repo.git_env(&["push", "origin", "main"], &at_now())
        .code(1)
        .stderr_has("at `src/keys.txt:1`");
    repo.tollgate_env(&["verify", "--base", &base, "--head", &head], &at_now())
        .code(1)
        .stderr_has("`src/keys.txt:1`");
    repo.tollgate_env(&["check", "--history", "--yes"], &at_now())
        .code(1)
        .stderr_has("`src/keys.txt:1`");
}

#[test]
fn a_pure_rename_with_no_path_rule_differing_is_not_read_again() {
    let repo = started();
    repo.commit_unchecked("old.txt", aws_line(), "key, unchecked");
    repo.git(&["mv", "old.txt", "new.txt"]).success();
    repo.git(&["commit", "-qm", "rename"]).success();
}

/// A range long enough to be shared among threads reports what one thread
/// finds: a path/blob pair judged at the first commit that brings it, a
/// secret at one path once (at its first commit), and every other finding.
#[test]
fn a_range_scanned_on_several_threads_reports_what_one_thread_finds() {
    let repo = Repo::new();
    let mut commits = Vec::new();
    for i in 0..64 {
        let (rel, body) = match i {
            // First brought here: the finding is at this commit.
            5 => ("keys.txt".to_string(), aws_line()),
            20 => ("keys.txt".to_string(), "gone\n".to_string()),
            // The same blob at the same path again: judged at 5 already.
            30 => ("keys.txt".to_string(), aws_line()),
            // Another blob with the same secret at the same path: the same
            // fingerprint, kept at 5.
            45 => ("keys.txt".to_string(), format!("{}more\n", aws_line())),
            // Another path: a finding of its own.
            52 => ("other/keys.txt".to_string(), aws_line()),
            _ => (format!("f{}.txt", i % 7), format!("line {i}\n")),
        };
        commits.push(repo.commit_unchecked(&rel, body, &format!("c{i}")));
    }
    for _ in 0..3 {
        let r = repo.tollgate(&["check", "--range", "HEAD", "--format", "json"]);
        r.code(1);
        let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap();
        let found: Vec<(String, String)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["location"]["path"].as_str().unwrap().to_string(),
                    f["location"]["commit"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("keys.txt".to_string(), commits[5].clone()),
                ("other/keys.txt".to_string(), commits[52].clone()),
            ],
            "{r}"
        );
    }
}
