//! Memory stays bounded: a 1 GiB staged file (scanned, streamed) and a
//! 100,000-commit range.
//! Peak memory is the child's `ru_maxrss`, read through Python's
//! `resource` module (the test suite needs `python3` anyway).

use crate::common;

use std::io::Write;
use std::process::Stdio;

use common::{aws_line, tollgate_bin, Repo};

/// Runs `tollgate args…` in `repo` and returns (exit code, stderr, peak RSS
/// in MiB).
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

#[test]
fn a_one_gib_staged_file_is_scanned_in_bounded_memory() {
    let _turn = crate::common::heavy_turn();
    let repo = Repo::new();
    repo.write("README", "x\n");
    repo.git(&["add", "README"]).success();
    repo.git(&["commit", "-q", "--no-verify", "-m", "first"])
        .success();
    // Sparse zeros with a key near the end: git packs it as it adds it
    // (over core.bigFileThreshold), so it is streamed through git.
    let size: u64 = 1 << 30;
    let at = size - 4096;
    let mut f = std::fs::File::create(repo.path("huge.bin")).unwrap();
    f.set_len(size).unwrap();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(at)).unwrap();
    f.write_all(aws_line().as_bytes()).unwrap();
    drop(f);
    repo.git(&["add", "huge.bin"]).success();
    let t = std::time::Instant::now();
    let (code, err, mib) = peak(&repo, &["check", "--staged", "--yes"]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("`huge.bin` (binary, byte {})", at + 11)),
        "{err}"
    );
    assert!(!err.contains("tollgate-unscanned-large-file"), "{err}");
    assert!(mib < 64, "peak RSS {mib} MiB for a 1 GiB staged file");
    eprintln!("1 GiB staged file scanned in {secs:.1} s, peak {mib} MiB");
}

#[test]
fn a_hundred_thousand_commit_range_keeps_memory_bounded() {
    let _turn = crate::common::heavy_turn();
    let repo = Repo::new();
    // One stream, one process: 100,000 commits each changing one small file.
    let mut c = repo.command("git");
    c.args(["fast-import", "--quiet"]).stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
        for i in 1..=100_000u32 {
            // One commit in the middle carries a key: the scan must reach it.
            let data = if i == 50_000 {
                aws_line()
            } else {
                format!("line {i}\n")
            };
            write!(
                w,
                "commit refs/heads/main\ncommitter T <t@example.com> {} +0000\ndata 2\nc\nM 100644 inline f{}.txt\ndata {}\n{data}\n",
                1_700_000_000 + i,
                i % 100,
                data.len()
            )
            .unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
    let (code, err, mib) = peak(&repo, &["check", "--range", "main"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("aws-access-key-id") && err.contains("`f0.txt:1`"),
        "{err}"
    );
    assert!(mib < 128, "peak RSS {mib} MiB for a 100,000-commit range");
}
