//! Builtin policy packs from `policies/`, embedded in the binary so that a
//! fresh install protects at once and `extends = ["builtin:NAME"]` needs no
//! network or file.

/// Every builtin pack: name and TOML text.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (
        "recommended",
        include_str!("../../policies/recommended.toml"),
    ),
    ("strict", include_str!("../../policies/strict.toml")),
];

/// The text of a builtin pack by name (without the `builtin:` prefix).
pub fn builtin_pack(name: &str) -> Option<&'static str> {
    BUILTIN_PACKS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}
