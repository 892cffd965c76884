//! Who signs a document, and how its times are written: the two pieces
//! every signed document (record, grant, approval) shares. It depends on
//! no other document module, so they all can depend on it.

use serde::{Deserialize, Serialize};

/// A person and the key they sign with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `user.name`.
    pub name: String,
    /// `user.email`: the principal looked up in `allowed_signers`.
    pub email: String,
    /// `SHA256:…` of the SSH public key.
    pub key_fingerprint: String,
}

/// RFC 3339 times, written with `Z` and whole seconds when exact.
pub(crate) mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 time: {e}")))
    }
}
