//! Offline checks of a matched token's own integrity data.
//!
//! A string of the right shape whose checksum fails is not a credential the
//! vendor issued (a hand-typed placeholder, a truncated or edited value):
//! the finding is downgraded to a warning that says so. One whose checksum
//! verifies is almost certainly real and says `checksum: verified`.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};

/// The validators a rule may name, as written in policy files.
pub const CHECKSUM_NAMES: &[&str] = &[
    "github-crc32",
    "npm-crc32",
    "pypi-macaroon",
    "jwt-structure",
    "age-bech32",
    "confluent-crc32",
];

/// One validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// GitHub's `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` tokens: 30 base62
    /// characters, then the CRC32 of those 30 characters in 6 base62 digits
    /// (`0-9A-Za-z`, zero-padded).
    GithubCrc32,
    /// npm's `npm_` tokens: the same layout as GitHub's.
    NpmCrc32,
    /// PyPI API tokens: `pypi-` and a base64url macaroon (version 2 binary
    /// format, first byte 0x02) whose location names PyPI.
    PypiMacaroon,
    /// A JSON Web Token: the header is base64url JSON with an `alg`, the
    /// payload base64url JSON.
    JwtStructure,
    /// An age secret key: Bech32 (BIP 173) with the `age-secret-key-` part,
    /// checked by its own 6-character checksum.
    AgeBech32,
    /// Confluent Cloud API secrets since 2025-07-30: `cflt`, 54 characters
    /// of `[A-Za-z0-9+/]`, then the first 6 characters of the standard
    /// base64 of the CRC32 of those 54 (4 bytes, least significant first;
    /// the byte order is the one that verifies the vendor's own example).
    ConfluentCrc32,
}

impl Checksum {
    /// The validator with this policy name.
    pub fn from_name(name: &str) -> Option<Checksum> {
        Some(match name {
            "github-crc32" => Checksum::GithubCrc32,
            "npm-crc32" => Checksum::NpmCrc32,
            "pypi-macaroon" => Checksum::PypiMacaroon,
            "jwt-structure" => Checksum::JwtStructure,
            "age-bech32" => Checksum::AgeBech32,
            "confluent-crc32" => Checksum::ConfluentCrc32,
            _ => return None,
        })
    }

    /// The policy name.
    pub fn name(self) -> &'static str {
        match self {
            Checksum::GithubCrc32 => "github-crc32",
            Checksum::NpmCrc32 => "npm-crc32",
            Checksum::PypiMacaroon => "pypi-macaroon",
            Checksum::JwtStructure => "jwt-structure",
            Checksum::AgeBech32 => "age-bech32",
            Checksum::ConfluentCrc32 => "confluent-crc32",
        }
    }

    /// Whether the matched secret passes this validator.
    pub fn verify(self, secret: &[u8]) -> bool {
        let Ok(s) = std::str::from_utf8(secret) else {
            return false;
        };
        match self {
            Checksum::GithubCrc32 => s
                .strip_prefix("ghp_")
                .or_else(|| s.strip_prefix("gho_"))
                .or_else(|| s.strip_prefix("ghu_"))
                .or_else(|| s.strip_prefix("ghs_"))
                .or_else(|| s.strip_prefix("ghr_"))
                .is_some_and(crc32_base62_tail),
            Checksum::NpmCrc32 => s.strip_prefix("npm_").is_some_and(crc32_base62_tail),
            Checksum::PypiMacaroon => s.strip_prefix("pypi-").is_some_and(pypi_macaroon),
            Checksum::JwtStructure => jwt_structure(s),
            Checksum::AgeBech32 => age_bech32(s),
            Checksum::ConfluentCrc32 => s.strip_prefix("cflt").is_some_and(confluent_crc32),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in `width` base62 digits, zero-padded on the left.
pub fn base62(mut n: u32, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// 30 base62 characters of payload and their CRC32 in 6 base62 digits.
fn crc32_base62_tail(body: &str) -> bool {
    if body.len() != 36 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (payload, tail) = body.split_at(30);
    base62(crc32fast::hash(payload.as_bytes()), 6) == tail
}

/// 54 base64-alphabet characters and 6 of the base64 of their CRC32.
fn confluent_crc32(body: &str) -> bool {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    if body.len() != 60 || !body.bytes().all(b64) {
        return false;
    }
    let (payload, tail) = body.split_at(54);
    let crc = crc32fast::hash(payload.as_bytes()).to_le_bytes();
    Base64::encode_string(&crc).get(..6) == Some(tail)
}

fn pypi_macaroon(b64: &str) -> bool {
    let Ok(raw) = Base64UrlUnpadded::decode_vec(b64.trim_end_matches('=')) else {
        return false;
    };
    // Version 2 macaroon: version byte, then the location field (type 1).
    raw.len() > 16 && raw[0] == 0x02 && raw[1] == 0x01 && {
        let len = raw[2] as usize;
        raw.get(3..3 + len)
            .is_some_and(|loc| loc.windows(4).any(|w| w == b"pypi"))
    }
}

fn jwt_structure(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return false;
    };
    let json = |part: &str| {
        Base64UrlUnpadded::decode_vec(part.trim_end_matches('='))
            .ok()
            .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
            .filter(serde_json::Value::is_object)
    };
    json(h).is_some_and(|v| v.get("alg").is_some_and(serde_json::Value::is_string))
        && json(p).is_some()
}

fn age_bech32(s: &str) -> bool {
    match bech32::decode(s) {
        Ok((hrp, data)) => hrp.as_str().eq_ignore_ascii_case("age-secret-key-") && data.len() == 32,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token with a correct CRC32 tail for `payload`.
    fn with_tail(prefix: &str, payload: &str) -> String {
        format!(
            "{prefix}{payload}{}",
            base62(crc32fast::hash(payload.as_bytes()), 6)
        )
    }

    #[test]
    fn github_and_npm_tails_verify_and_an_edit_fails() {
        let t = with_tail("ghp_", "Xq7Rk2LmP9sT4vW8yZ1bC3dF5gH6jN");
        assert!(Checksum::GithubCrc32.verify(t.as_bytes()));
        let mut edited = t.clone().into_bytes();
        edited[10] = if edited[10] == b'a' { b'b' } else { b'a' };
        assert!(!Checksum::GithubCrc32.verify(&edited));
        let n = with_tail("npm_", "Xq7Rk2LmP9sT4vW8yZ1bC3dF5gH6jN");
        assert!(Checksum::NpmCrc32.verify(n.as_bytes()));
        assert!(!Checksum::NpmCrc32.verify(t.as_bytes()));
        assert!(!Checksum::GithubCrc32.verify(b"ghp_short"));
    }

    #[test]
    fn base62_pads_and_orders_digits_then_upper_then_lower() {
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 2), "0z");
        assert_eq!(base62(62, 2), "10");
        assert_eq!(base62(u32::MAX, 6), "4gfFC3");
    }

    #[test]
    fn jwt_structure_needs_json_header_with_alg() {
        let h = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256","typ":"JWT"}"#);
        let p = Base64UrlUnpadded::encode_string(br#"{"sub":"42"}"#);
        assert!(Checksum::JwtStructure.verify(format!("{h}.{p}.c2ln").as_bytes()));
        let bad = Base64UrlUnpadded::encode_string(br#"{"typ":"JWT"}"#);
        assert!(!Checksum::JwtStructure.verify(format!("{bad}.{p}.c2ln").as_bytes()));
        assert!(!Checksum::JwtStructure.verify(b"eyJhbGciOi.eyJzdWIi.x"));
    }

    #[test]
    fn pypi_macaroon_needs_version_two_and_a_pypi_location() {
        let mut raw = vec![0x02, 0x01, 8];
        raw.extend_from_slice(b"pypi.org");
        raw.extend_from_slice(&[0x02, 0x10]);
        raw.extend_from_slice(&[7u8; 16]);
        let tok = format!("pypi-{}", Base64UrlUnpadded::encode_string(&raw));
        assert!(Checksum::PypiMacaroon.verify(tok.as_bytes()));
        raw[0] = 0x01;
        let tok = format!("pypi-{}", Base64UrlUnpadded::encode_string(&raw));
        assert!(!Checksum::PypiMacaroon.verify(tok.as_bytes()));
    }

    #[test]
    fn confluent_tail_verifies_the_documented_example_and_an_edit_fails() {
        // The example secret on Confluent's API-key page.
        let doc = b"cfltT8d8RzkNseTMEDKcjNM1BZTFPHqRn/dQm9q7w6SjzZ12wZfwjaJdipHZtDjw";
        assert!(Checksum::ConfluentCrc32.verify(doc));
        let mut edited = doc.to_vec();
        edited[10] = if edited[10] == b'a' { b'b' } else { b'a' };
        assert!(!Checksum::ConfluentCrc32.verify(&edited));
        assert!(!Checksum::ConfluentCrc32.verify(&doc[..63]));
        assert!(!Checksum::ConfluentCrc32
            .verify(b"xfltT8d8RzkNseTMEDKcjNM1BZTFPHqRn/dQm9q7w6SjzZ12wZfwjaJdipHZtDjw"));
    }

    #[test]
    fn every_name_round_trips() {
        for n in CHECKSUM_NAMES {
            assert_eq!(Checksum::from_name(n).map(Checksum::name), Some(*n));
        }
        assert_eq!(Checksum::from_name("crc"), None);
    }
}
