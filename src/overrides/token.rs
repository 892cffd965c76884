//! Tokens and challenge codes: drawn from the OS random source, never
//! stored in plain form (the ledger keeps `sha256(token)` only).

use rand::rngs::OsRng;
use rand::{Rng, TryRngCore};
use sha2::{Digest, Sha256};

use crate::policy::hex;

/// Prefix of every token, so that a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "tgt1_";

/// Characters of a challenge code: no `O 0 I 1 L`, which people misread.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Length of a challenge code.
pub const CODE_LEN: usize = 6;

/// A new token: 160 bits from the OS random source, hex encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 20];
    OsRng.unwrap_err().fill(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

/// A new challenge code.
pub fn new_code() -> String {
    let mut rng = OsRng.unwrap_err();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// `sha256(token)`, hex: what the ledger and audit records keep.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

/// The short public id of a token, derived from its hash.
pub fn token_id(hash: &str) -> String {
    format!("tok_{}", &hash[..hash.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_prefixed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 40);
    }

    #[test]
    fn codes_use_only_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let c = new_code();
            assert_eq!(c.len(), CODE_LEN);
            assert!(c.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{c}");
            assert!(!c.contains(['O', '0', 'I', '1', 'L']));
        }
    }

    #[test]
    fn hash_and_id_never_contain_the_token() {
        let t = new_token();
        let h = token_hash(&t);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&t[TOKEN_PREFIX.len()..]));
        assert_eq!(token_id(&h), format!("tok_{}", &h[..12]));
    }
}
