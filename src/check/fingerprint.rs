//! Fingerprints: what a token is bound to.
//!
//! sha256 over a length-prefixed encoding of a version tag, the constraint
//! id, the kind and each scope field, so that no two different scopes can
//! encode to the same bytes (a path containing a separator cannot forge
//! another path and sha).

use sha2::{Digest, Sha256};

use crate::policy::hex;

/// The fingerprint of a finding: lower-case hex sha256.
pub fn fingerprint(constraint: &str, kind: &str, scope: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"tollgate-fingerprint-v1");
    field(constraint.as_bytes());
    field(kind.as_bytes());
    for s in scope {
        field(s);
    }
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_boundaries_matter() {
        let a = fingerprint("c", "secret", &[b"ab", b"c"]);
        let b = fingerprint("c", "secret", &[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_eq!(a, fingerprint("c", "secret", &[b"ab", b"c"]));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn constraint_and_kind_are_part_of_it() {
        let base = fingerprint("c", "secret", &[b"x"]);
        assert_ne!(base, fingerprint("d", "secret", &[b"x"]));
        assert_ne!(base, fingerprint("c", "forbidden-path", &[b"x"]));
    }
}
