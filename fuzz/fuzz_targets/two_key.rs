//! Two-key request and approval strings (`tgreq1_…`, `tgapp1_…`) from an
//! untrusted sender: decoded strictly or refused, never a panic; a decoded
//! document's signature check against a fixed signer list returns an error
//! (nothing here is signed by that key), and `check_pair` of any two strings
//! is refused or holds.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::audit::approval::{check_pair, digest, Approval, Request};
use tollgate::audit::AllowedSigners;

fn signers() -> &'static AllowedSigners {
    static S: OnceLock<AllowedSigners> = OnceLock::new();
    S.get_or_init(|| {
        AllowedSigners::parse(
            "*@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJiOm/dj5GYGcb5nQ4WtCbd2kiJeJpqRrRyhkH71jGhy fuzz\n",
            Path::new("fuzz_signers"),
        )
        .expect("the fixed signer list parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Either a string alone, or `request NUL approval`.
    let (a, b) = text.split_once('\0').unwrap_or((text, text));
    for s in [a, b] {
        let _ = digest(s);
        if let Ok(r) = Request::decode(s) {
            assert!(r.verify(signers()).is_err());
        }
        if let Ok(ap) = Approval::decode(s) {
            assert!(ap.verify(signers()).is_err());
        }
    }
    assert!(check_pair(a, b, signers(), &["*@example.com".into()]).is_err());
});
