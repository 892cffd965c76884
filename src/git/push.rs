//! Parsing the pre-push hook's standard input:
//! `<local ref> SP <local sha> SP <remote ref> SP <remote sha> LF`, one line
//! per ref being pushed. An all-zero local sha is a deletion; an all-zero
//! remote sha is a new ref.

use git2::Oid;

use super::GitError;

/// One ref update as git announced it to pre-push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushLine {
    /// The local ref (`refs/heads/topic`, or `(delete)`).
    pub local_ref: String,
    /// The local sha; `None` for a deletion.
    pub local_sha: Option<Oid>,
    /// The remote ref (`refs/heads/main`).
    pub remote_ref: String,
    /// The remote's sha; `None` when the ref is new there.
    pub remote_sha: Option<Oid>,
}

impl PushLine {
    /// The line as git wrote it (for remembering a blocked push).
    pub fn to_line(&self) -> String {
        let sha = |o: Option<Oid>| o.map_or_else(|| "0".repeat(40), |o| o.to_string());
        format!(
            "{} {} {} {}",
            self.local_ref,
            sha(self.local_sha),
            self.remote_ref,
            sha(self.remote_sha)
        )
    }
}

/// Parses every line; empty lines are skipped; anything else malformed is an error.
pub fn parse_push_lines(input: &[u8]) -> Result<Vec<PushLine>, GitError> {
    parse_lines(input, |text, err| {
        let fields: Vec<&str> = text.split(' ').collect();
        let [local_ref, local_sha, remote_ref, remote_sha] = fields[..] else {
            return Err(err(
                "expected `<local ref> <local sha> <remote ref> <remote sha>`",
            ));
        };
        if remote_ref.is_empty() || !remote_ref.starts_with("refs/") {
            return Err(err("the remote ref must be a full ref name"));
        }
        Ok(PushLine {
            local_ref: local_ref.to_string(),
            local_sha: parse_sha(local_sha).ok_or_else(|| err("bad local sha"))?,
            remote_ref: remote_ref.to_string(),
            remote_sha: parse_sha(remote_sha).ok_or_else(|| err("bad remote sha"))?,
        })
    })
}

/// One ref update as git announces it to pre-receive: `<old> <new> <ref>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveLine {
    /// The ref's sha before the push; `None` when the ref is new.
    pub old: Option<Oid>,
    /// The pushed sha; `None` for a deletion.
    pub new: Option<Oid>,
    /// The full ref name.
    pub ref_name: String,
}

/// Parses pre-receive input; empty lines are skipped; anything else
/// malformed is an error (and the push is refused).
pub fn parse_receive_lines(input: &[u8]) -> Result<Vec<ReceiveLine>, GitError> {
    parse_lines(input, |text, err| {
        let fields: Vec<&str> = text.splitn(3, ' ').collect();
        let [old, new, ref_name] = fields[..] else {
            return Err(err("expected `<old sha> <new sha> <ref>`"));
        };
        if !ref_name.starts_with("refs/") || ref_name.contains(char::is_control) {
            return Err(err("the ref must be a full ref name"));
        }
        Ok(ReceiveLine {
            old: parse_sha(old).ok_or_else(|| err("bad old sha"))?,
            new: parse_sha(new).ok_or_else(|| err("bad new sha"))?,
            ref_name: ref_name.to_string(),
        })
    })
}

/// Splits hook input into lines (a trailing `\r` dropped, empty lines
/// skipped) and parses each; an error names its 1-based line.
fn parse_lines<T>(
    input: &[u8],
    mut parse: impl FnMut(&str, &dyn Fn(&str) -> GitError) -> Result<T, GitError>,
) -> Result<Vec<T>, GitError> {
    let mut out = Vec::new();
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        let err = |why: &str| GitError::PushLine {
            line: i + 1,
            why: why.to_string(),
        };
        let text = std::str::from_utf8(raw).map_err(|_| err("not UTF-8"))?;
        out.push(parse(text, &err)?);
    }
    Ok(out)
}

/// `Some(None)` for the all-zero sha, `Some(Some(oid))` for a valid one.
fn parse_sha(s: &str) -> Option<Option<Oid>> {
    if !(s.len() == 40 || s.len() == 64) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if s.bytes().all(|b| b == b'0') {
        return Some(None);
    }
    Oid::from_str(s).ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn parses_updates_new_refs_and_deletions() {
        let input = format!("refs/heads/a {A} refs/heads/a {Z}\n(delete) {Z} refs/heads/b {A}\n");
        let lines = parse_push_lines(input.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].remote_sha.is_none());
        assert!(lines[1].local_sha.is_none());
        assert_eq!(lines[1].to_line(), format!("(delete) {Z} refs/heads/b {A}"));
    }

    #[test]
    fn parses_pre_receive_input() {
        let input = format!("{Z} {A} refs/heads/new\n{A} {Z} refs/tags/v1\n");
        let lines = parse_receive_lines(input.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].old.is_none() && lines[0].new.is_some());
        assert!(lines[1].new.is_none());
        assert_eq!(lines[1].ref_name, "refs/tags/v1");
        let e = parse_receive_lines(format!("{A} {A} main\n").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("full ref name"), "{e}");
        assert!(parse_receive_lines(format!("{A} refs/heads/x\n").as_bytes()).is_err());
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let input =
            format!("refs/heads/a {A} refs/heads/a {Z}\nrefs/heads/a nothex refs/heads/a {Z}\n");
        let e = parse_push_lines(input.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("local sha"), "{e}");
        assert!(parse_push_lines(b"only three fields").is_err());
        assert!(parse_push_lines(b"\xff\xfe").is_err());
    }
}
