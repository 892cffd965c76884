//! Builtin policy packs from `policies/`, embedded in the binary so that a
//! fresh install protects at once and `extends = ["builtin:NAME"]` needs no
//! network or file.
//!
//! `builtin:recommended` is `policies/recommended.toml` plus every secret
//! rule family in `policies/secrets/*.toml` (found by `build.rs`, so a new
//! family file needs no list here), loaded in file-name order after it.

mod families {
    include!(concat!(env!("OUT_DIR"), "/builtin_families.rs"));
}

#[cfg(test)]
pub use families::SECRET_CASES;
pub use families::SECRET_FAMILIES;

/// The raw `[[secret]]` entries of the family file of [`SECRET_FAMILIES`]
/// whose text is `text`, built by code `build.rs` generated from it (the same
/// values and spans as parsing it), or `None` when it must be parsed.
pub(super) fn precompiled_family(text: &str) -> Option<Vec<super::model::RawSecret>> {
    let i = SECRET_FAMILIES
        .iter()
        .position(|(_, t)| std::ptr::eq(*t, text) || *t == text)?;
    families::precompiled::family(i)
}

/// Every builtin pack: name and TOML text (the pack's main file).
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

/// The family files loaded with a builtin pack after its main file: file
/// name and text.
pub fn builtin_parts(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "recommended" => SECRET_FAMILIES,
        _ => &[],
    }
}
