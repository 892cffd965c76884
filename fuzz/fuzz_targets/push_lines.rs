//! pre-push and pre-receive standard input on arbitrary bytes: parsed or
//! refused with a line number, never a panic; a parsed pre-push line
//! written back with `to_line` parses to the same update.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::git::{parse_push_lines, parse_receive_lines};

fuzz_target!(|data: &[u8]| {
    match parse_push_lines(data) {
        Ok(lines) => {
            for line in &lines {
                let again =
                    parse_push_lines(line.to_line().as_bytes()).expect("to_line output parses");
                assert_eq!(again.as_slice(), std::slice::from_ref(line));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match parse_receive_lines(data) {
        Ok(lines) => {
            for line in &lines {
                assert!(line.ref_name.starts_with("refs/"));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
