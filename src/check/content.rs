//! How a blob's bytes become text the secret rules read.
//!
//! Nothing committed is left unread because of its encoding: a file with no
//! NUL byte is text; a UTF-16 file (by its byte-order mark, or by the
//! NUL-every-other-byte pattern of mostly-ASCII UTF-16) is decoded; anything
//! else is binary, and its text runs (printable ASCII, UTF-16LE and
//! UTF-16BE, at least [`MIN_RUN`] characters) are scanned, each located by
//! its byte offset in the blob.
//!
//! These functions are pure and work on one window of a blob at a time, so
//! the git layer can stream blobs of any size through them.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::bytes::Regex;

/// The shortest text run in a binary that is scanned.
pub const MIN_RUN: usize = 8;

/// How a blob's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// No NUL byte: text, read as it is.
    Text,
    /// UTF-16 text.
    Utf16 {
        /// Big-endian (`FE FF` mark, or NUL before each ASCII byte).
        big_endian: bool,
        /// Starts with a byte-order mark.
        bom: bool,
    },
    /// Anything else: only its text runs are read.
    Binary,
}

/// How many leading bytes decide between UTF-16 and binary when there is no
/// byte-order mark.
const SNIFF: usize = 64 << 10;

/// Decides how to read a blob from its first bytes (`head`) and whether any
/// NUL byte occurs in what was read of it (`has_nul`).
pub fn classify(head: &[u8], has_nul: bool) -> Form {
    if head.len() >= 2 {
        match (head[0], head[1]) {
            // `FF FE 00 00` is UTF-32LE; read that as binary runs.
            (0xff, 0xfe) if !head.starts_with(&[0xff, 0xfe, 0, 0]) => {
                return Form::Utf16 {
                    big_endian: false,
                    bom: true,
                }
            }
            (0xfe, 0xff) => {
                return Form::Utf16 {
                    big_endian: true,
                    bom: true,
                }
            }
            _ => {}
        }
    }
    if !has_nul {
        return Form::Text;
    }
    let sample = &head[..head.len().min(SNIFF) & !1];
    let pairs = sample.len() / 2;
    if pairs >= 2 {
        let (mut zero_even, mut zero_odd) = (0usize, 0usize);
        for p in sample.chunks_exact(2) {
            zero_even += usize::from(p[0] == 0);
            zero_odd += usize::from(p[1] == 0);
        }
        // Mostly-ASCII UTF-16: the high byte of nearly every code unit is
        // zero and the low byte nearly never is.
        let utf16 = |zeros: usize, other: usize| zeros * 4 >= pairs * 3 && other * 32 <= pairs;
        if utf16(zero_odd, zero_even) {
            return Form::Utf16 {
                big_endian: false,
                bom: false,
            };
        }
        if utf16(zero_even, zero_odd) {
            return Form::Utf16 {
                big_endian: true,
                bom: false,
            };
        }
    }
    Form::Binary
}

/// Whether `bytes` has a NUL byte.
pub fn has_nul(bytes: &[u8]) -> bool {
    memchr::memchr(0, bytes).is_some()
}

/// Decodes UTF-16 (an even-length slice; an odd last byte is dropped) into
/// UTF-8, unpaired surrogates becoming U+FFFD. A leading byte-order mark is
/// dropped when `bom` is set.
pub fn decode_utf16(bytes: &[u8], big_endian: bool, bom: bool) -> Vec<u8> {
    let bytes = if bom && bytes.len() >= 2 {
        &bytes[2..]
    } else {
        bytes
    };
    let units = bytes.chunks_exact(2).map(|p| {
        if big_endian {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    let mut out = String::with_capacity(bytes.len() / 2);
    out.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
    out.into_bytes()
}

/// Newlines (code unit `0x000A`) in UTF-16 bytes.
pub fn utf16_newlines(bytes: &[u8], big_endian: bool) -> u32 {
    let nl: &[u8] = if big_endian { &[0, b'\n'] } else { &[b'\n', 0] };
    memchr::memmem::find_iter(bytes, nl)
        .filter(|i| i % 2 == 0)
        .count() as u32
}

/// Newlines in text bytes.
pub fn newlines(bytes: &[u8]) -> u32 {
    memchr::memchr_iter(b'\n', bytes).count() as u32
}

/// A run of text found in binary content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<'a> {
    /// Byte offset of its first code unit in the scanned slice.
    pub start: usize,
    /// Bytes per character: 1 for ASCII, 2 for UTF-16.
    pub stride: u8,
    /// The run's characters, one byte each.
    pub text: Cow<'a, [u8]>,
}

impl Run<'_> {
    /// Offset in the slice just past the run.
    pub fn end(&self) -> usize {
        self.start + self.text.len() * usize::from(self.stride)
    }
}

fn runs_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Printable ASCII and the usual whitespace, as bytes, as UTF-16LE
        // code units and as UTF-16BE code units. Leftmost-first: where a
        // UTF-16 run starts, it wins over its one-byte-shifted reading.
        Regex::new(&format!(
            r"(?s-u)(?:[\t\n\r\x20-\x7e]\x00){{{n},}}|(?:\x00[\t\n\r\x20-\x7e]){{{n},}}|[\t\n\r\x20-\x7e]{{{n},}}",
            n = MIN_RUN
        ))
        .expect("the text-run pattern is valid")
    })
}

/// The text runs of binary content, in order.
pub fn text_runs(bytes: &[u8]) -> Vec<Run<'_>> {
    runs_regex()
        .find_iter(bytes)
        .map(|m| {
            let b = m.as_bytes();
            if b[0] == 0 {
                // `\0K\0E\0Y\0` reads both ways; a NUL after the run means
                // it is most likely UTF-16LE preceded by a NUL.
                let le = bytes.get(m.end()) == Some(&0);
                Run {
                    start: m.start() + usize::from(le),
                    stride: 2,
                    text: Cow::Owned(b.iter().skip(1).step_by(2).copied().collect()),
                }
            } else if b[1] == 0 {
                Run {
                    start: m.start(),
                    stride: 2,
                    text: Cow::Owned(b.iter().step_by(2).copied().collect()),
                }
            } else {
                Run {
                    start: m.start(),
                    stride: 1,
                    text: Cow::Borrowed(b),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn forms_by_mark_pattern_and_nul() {
        assert_eq!(classify(b"plain text\n", false), Form::Text);
        let mut bom = vec![0xff, 0xfe];
        bom.extend(le("key = 1\n"));
        assert_eq!(
            classify(&bom, true),
            Form::Utf16 {
                big_endian: false,
                bom: true
            }
        );
        assert_eq!(
            classify(&le("no mark here\n"), true),
            Form::Utf16 {
                big_endian: false,
                bom: false
            }
        );
        assert_eq!(
            classify(&be("no mark here\n"), true),
            Form::Utf16 {
                big_endian: true,
                bom: false
            }
        );
        assert_eq!(classify(b"\x7fELF\x02\x01\x01\0\0\0\0", true), Form::Binary);
        assert_eq!(classify(&[0; 4096], true), Form::Binary);
        assert_eq!(classify(b"text with one \0 byte", true), Form::Binary);
    }

    #[test]
    fn utf16_decodes_with_and_without_mark() {
        let mut bom = vec![0xfe, 0xff];
        bom.extend(be("a\u{e9}\u{1f600}\n"));
        assert_eq!(
            decode_utf16(&bom, true, true),
            "a\u{e9}\u{1f600}\n".as_bytes()
        );
        assert_eq!(decode_utf16(&le("x\ny"), false, false), b"x\ny");
        assert_eq!(utf16_newlines(&le("a\nb\n\u{a0a}"), false), 2);
        // A lone surrogate is replaced, not a reason to stop.
        assert_eq!(
            decode_utf16(&[0x00, 0xd8, b'a', 0], false, false),
            "\u{fffd}a".as_bytes()
        );
    }

    #[test]
    fn runs_of_each_encoding_with_offsets() {
        let mut blob = vec![0u8, 1, 2, 3];
        blob.extend(b"ASCII run here");
        blob.extend([0, 0, 0xff]);
        let le_at = blob.len();
        blob.extend(le("utf16 little"));
        blob.extend([0xff, 0xfe, 1]);
        let be_at = blob.len();
        blob.extend(be("utf16 big end"));
        blob.extend([1, 2, b'a', b'b', 3]); // too short
        let runs = text_runs(&blob);
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!((runs[0].start, runs[0].stride), (4, 1));
        assert_eq!(&*runs[0].text, b"ASCII run here");
        assert_eq!((runs[1].start, runs[1].stride), (le_at, 2));
        assert_eq!(&*runs[1].text, b"utf16 little");
        assert_eq!(runs[2].start, be_at);
        assert_eq!(&*runs[2].text, b"utf16 big end");
        assert_eq!(runs[2].end(), be_at + 26);
    }

    #[test]
    fn utf16le_after_a_nul_keeps_its_offset() {
        let mut blob = vec![b'x', 0, 0];
        blob.extend(le("little endian"));
        blob.extend([0, 0]);
        let runs = text_runs(&blob);
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!((runs[0].start, &*runs[0].text), (3, &b"little endian"[..]));
    }

    #[test]
    fn seven_characters_are_not_a_run() {
        assert!(text_runs(b"\0abcdefg\0").is_empty());
        assert_eq!(text_runs(b"\0abcdefgh\0").len(), 1);
    }
}
