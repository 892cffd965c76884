//! The build stamp compiled in by `build.rs`: version, commit, build date,
//! target, profile, enabled features.

use serde::Serialize;

/// `0.2.0 (abc1234 2026-12-01)`: what `tollgate --version` prints after the name.
pub const LONG_VERSION: &str = env!("TOLLGATE_LONG_VERSION");

/// Everything known about this build, for `tollgate version --format json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    /// Always `tollgate`.
    pub name: &'static str,
    /// The crate version (`0.2.0`).
    pub version: &'static str,
    /// Full sha of the commit built, when the build could tell.
    pub commit: Option<&'static str>,
    /// Its first 7 hex digits.
    pub commit_short: Option<&'static str>,
    /// Build date, `YYYY-MM-DD` (UTC; `SOURCE_DATE_EPOCH` when set).
    pub date: &'static str,
    /// The target triple (`x86_64-unknown-linux-musl`).
    pub target: &'static str,
    /// Cargo profile (`release`, `debug`).
    pub profile: &'static str,
    /// Enabled cargo features of tollgate, sorted.
    pub features: Vec<&'static str>,
    /// `rustc -V` of the compiler that built it.
    pub rustc: &'static str,
}

impl BuildInfo {
    /// The stamp of this binary.
    pub fn current() -> Self {
        let commit = Some(env!("TOLLGATE_COMMIT")).filter(|c| !c.is_empty());
        Self {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            commit,
            commit_short: commit.map(|c| &c[..c.len().min(7)]),
            date: env!("TOLLGATE_BUILD_DATE"),
            target: env!("TOLLGATE_TARGET"),
            profile: env!("TOLLGATE_PROFILE"),
            features: env!("TOLLGATE_FEATURES")
                .split(',')
                .filter(|f| !f.is_empty())
                .collect(),
            rustc: env!("TOLLGATE_RUSTC"),
        }
    }

    /// The human form: `tollgate 0.2.0 (abc1234 2026-12-01)`, then target
    /// and features on further lines.
    pub fn to_text(&self) -> String {
        let features = if self.features.is_empty() {
            "none".to_string()
        } else {
            self.features.join(", ")
        };
        format!(
            "{} {}\ncommit: {}\ntarget: {}\nprofile: {}\nfeatures: {}\nrustc: {}\n",
            self.name,
            LONG_VERSION,
            self.commit.unwrap_or("unknown"),
            self.target,
            self.profile,
            features,
            if self.rustc.is_empty() {
                "unknown"
            } else {
                self.rustc
            },
        )
    }

    /// The JSON form, one object.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and a list cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_version_starts_with_the_crate_version_and_names_the_date() {
        let info = BuildInfo::current();
        assert!(LONG_VERSION.starts_with(&format!("{} (", info.version)));
        assert!(LONG_VERSION.ends_with(&format!("{})", info.date)));
        if let Some(short) = info.commit_short {
            assert!(LONG_VERSION.contains(&format!("({short} ")));
        }
        assert_eq!(info.date.len(), 10);
    }

    #[test]
    fn json_has_every_field() {
        let v: serde_json::Value = serde_json::from_str(&BuildInfo::current().to_json()).unwrap();
        for key in [
            "name", "version", "commit", "date", "target", "profile", "features", "rustc",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }
}
