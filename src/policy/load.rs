//! Loading: a policy file's text (and the builtin packs it extends) to the
//! compiled [`Policy`]. The first pass parses each file into the raw types
//! of `model` with their spans; the second compiles regexes, globs and
//! durations and checks what spans entries and files (duplicate ids, allow
//! rules naming no constraint, over-broad patterns), collecting *every*
//! problem as a [`Diagnostic`] before stopping.
//!
//! Pure: the text and today's date are passed in.

use std::ops::Range;

use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::model::*;
use super::pattern::PatternError;
use super::*;

/// The kinds, as top-level keys of a policy file.
const KINDS: [&str; 6] = [
    "force-push",
    "protected-branch",
    "secret",
    "max-file-size",
    "forbidden-path",
    "policy-change",
];

/// Loads the effective policy: `file` (with the packs it extends), or the
/// builtin `recommended` pack when there is no file. Pure: `today` is the
/// date allow rules are judged on (an expired rule, or one expiring too far
/// ahead, is refused); no clock, file or environment is read.
pub fn load(file: Option<Source>, today: chrono::NaiveDate) -> Result<Policy, Diagnostics> {
    let file = match file {
        Some(f) => f,
        None => Source::new(
            "builtin:recommended",
            builtin_pack("recommended").unwrap_or_default(),
        ),
    };
    let mut loader = Loader::default();
    loader.load_source(&file, 0);
    loader.finish(today)
}

#[derive(Default)]
struct Loader {
    diags: Vec<Diagnostic>,
    constraints: Vec<Constraint>,
    allows: Vec<(Source, allow::RawAllow, Range<usize>)>,
    settings: RawSettings,
    overrides: RawOverrides,
    sources: Vec<String>,
}

/// One file, parsed and compiled but not yet merged.
#[derive(Default)]
struct Parsed {
    extends: Vec<Spanned<String>>,
    settings: Option<RawSettings>,
    overrides: Option<RawOverrides>,
    constraints: Vec<Constraint>,
    allows: Vec<(allow::RawAllow, Range<usize>)>,
}

impl Loader {
    fn load_source(&mut self, src: &Source, depth: usize) {
        if self.sources.contains(&src.name) {
            return;
        }
        let parsed = parse_source(src, &mut self.diags);
        let parts = builtin_text(&src.name)
            .filter(|text| *text == &*src.text)
            .map_or(&[][..], |_| {
                builtin_parts(src.name.trim_start_matches("builtin:"))
            });
        for ext in &parsed.extends {
            let name = ext.get_ref();
            match name.strip_prefix("builtin:").and_then(builtin_pack) {
                Some(text) if depth < 4 => {
                    self.load_source(&Source::new(name.clone(), text), depth + 1)
                }
                _ => self.diags.push(Diagnostic {
                    file: src.name.clone(),
                    source: src.text.clone(),
                    span: ext.span(),
                    message: format!(
                        "unknown policy pack `{name}`, expected one of {}",
                        BUILTIN_PACKS
                            .iter()
                            .map(|(n, _)| format!("`builtin:{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            }
        }
        self.sources.push(src.name.clone());
        if let Some(s) = parsed.settings {
            if s.warnings.is_some() {
                self.settings.warnings = s.warnings;
            }
            if s.unscanned.is_some() {
                self.settings.unscanned = s.unscanned;
            }
            if s.warnings_without_terminal.is_some() {
                self.settings.warnings_without_terminal = s.warnings_without_terminal;
            }
        }
        if let Some(o) = parsed.overrides {
            if o.max_ttl.is_some() {
                self.overrides.max_ttl = o.max_ttl;
            }
            if !o.reasons.is_empty() {
                self.overrides.reasons = o.reasons;
            }
            if o.max_allow_days.is_some() {
                self.overrides.max_allow_days = o.max_allow_days;
            }
            if o.approval.is_some() {
                self.overrides.approval = o.approval;
            }
            if !o.approvers.is_empty() {
                self.overrides.approvers = o.approvers;
            }
            if o.approver_presence.is_some() {
                self.overrides.approver_presence = o.approver_presence;
            }
        }
        for (a, span) in parsed.allows {
            self.allows.push((src.clone(), a, span));
        }
        // A pack's family files hold only `[[secret]]` tables.
        let mut constraints = parsed.constraints;
        for (file, text) in parts {
            if let Some(p) = precompiled_part(&src.name, text) {
                constraints.extend(p);
                continue;
            }
            let part = Source::new(format!("{}/{file}", src.name), *text);
            let p = parse_source(&part, &mut self.diags);
            if !p.extends.is_empty()
                || p.settings.is_some()
                || p.overrides.is_some()
                || !p.allows.is_empty()
                || p.constraints
                    .iter()
                    .any(|c| !matches!(c.kind, Kind::Secret(_)))
            {
                self.diags.push(Diagnostic {
                    file: part.name.clone(),
                    source: part.text.clone(),
                    span: 0..0,
                    message: "a builtin rule family file holds only `[[secret]]` tables".into(),
                });
            }
            constraints.extend(p.constraints);
        }
        // A constraint with the id of one from a pack replaces it in place.
        // Ids are looked up by a hash of each (no copy of every id); two ids
        // with the same hash are told apart by comparing them.
        let key = |id: &str| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(id, &mut h);
            std::hash::Hasher::finish(&h)
        };
        let mut at: std::collections::HashMap<u64, usize> =
            std::collections::HashMap::with_capacity(self.constraints.len() + constraints.len());
        for (i, c) in self.constraints.iter().enumerate() {
            at.entry(key(&c.id)).or_insert(i);
        }
        self.constraints.reserve(constraints.len());
        for c in constraints {
            let k = key(&c.id);
            let same = match at.get(&k) {
                Some(&i) if self.constraints[i].id == c.id => Some(i),
                Some(_) => self.constraints.iter().position(|o| o.id == c.id),
                None => None,
            };
            match same {
                Some(i) => self.constraints[i] = c,
                None => {
                    at.entry(k).or_insert(self.constraints.len());
                    self.constraints.push(c);
                }
            }
        }
    }

    fn finish(mut self, today: chrono::NaiveDate) -> Result<Policy, Diagnostics> {
        ensure_policy_change(&mut self.constraints);
        let max_days = self
            .overrides
            .max_allow_days
            .as_ref()
            .map_or(allow::DEFAULT_MAX_ALLOW_DAYS, |d| *d.get_ref());
        let mut allows = Vec::new();
        for (src, raw, span) in &self.allows {
            let (line, _) = Diagnostic {
                file: String::new(),
                source: src.text.clone(),
                span: span.clone(),
                message: String::new(),
            }
            .line_col();
            let mut report = |span: Range<usize>, message: String| {
                self.diags.push(Diagnostic {
                    file: src.name.clone(),
                    source: src.text.clone(),
                    span,
                    message,
                })
            };
            if let Some(rule) = allow::compile(
                raw,
                span.clone(),
                format!("{}:{line}", src.name),
                &self.constraints,
                max_days,
                today,
                &mut report,
            ) {
                allows.push(rule);
            }
        }
        if !self.diags.is_empty() {
            return Err(Diagnostics(self.diags));
        }
        let max_ttl = self
            .overrides
            .max_ttl
            .as_ref()
            .and_then(|s| parse_duration(s.get_ref()).ok());
        Ok(Policy {
            constraints: self.constraints,
            warnings: self.settings.warnings.unwrap_or_default(),
            unscanned: self.settings.unscanned.unwrap_or(Severity::Warn),
            warnings_without_terminal: self.settings.warnings_without_terminal.unwrap_or_default(),
            max_ttl,
            reasons: self
                .overrides
                .reasons
                .iter()
                .map(|r| r.get_ref().clone())
                .collect(),
            approval: self
                .overrides
                .approval
                .as_ref()
                .map(|t| *t.get_ref())
                .unwrap_or_default(),
            approvers: self
                .overrides
                .approvers
                .iter()
                .map(|a| a.get_ref().clone())
                .collect(),
            approver_presence: self
                .overrides
                .approver_presence
                .as_ref()
                .is_some_and(|p| *p.get_ref()),
            sources: self.sources,
            allows,
            baseline: crate::baseline::Baseline::default(),
            raw_settings: self.settings,
            raw_overrides: self.overrides,
        })
    }
}

/// Parses one file, pushing every problem into `diags` and keeping every
/// entry that is valid, so one bad entry never hides another's problems.
fn parse_source(src: &Source, all: &mut Vec<Diagnostic>) -> Parsed {
    let mut diags = Vec::new();
    let out = parse_entries(src, &mut diags);
    // Entries are visited kind by kind; report in file order.
    diags.sort_by_key(|d: &Diagnostic| d.span.start);
    all.extend(diags);
    out
}

/// The constraints of a family file of the builtin pack named `origin`,
/// from the code `build.rs` generated for it: what parsing the file would
/// give, compiled the same way, without parsing its TOML. `None` (parse it)
/// for a file that has no generated code, or when compiling reports
/// anything, so every problem is reported by the parser with its position.
fn precompiled_part(origin: &str, text: &str) -> Option<Vec<Constraint>> {
    let raws = super::packs::precompiled_family(text)?;
    let mut failed = false;
    let mut report = |_: Range<usize>, _: String| failed = true;
    let constraints: Vec<Constraint> = raws
        .into_iter()
        .filter_map(|raw| compile(RawConstraint::Secret(raw), origin, true, &mut report))
        .collect();
    (!failed).then_some(constraints)
}

/// The raw `[[secret]]` entries of a family file as the parser reads them
/// (for the test that the generated code builds the same).
#[cfg(test)]
pub(super) fn parsed_family(text: &str) -> Vec<RawSecret> {
    let (root, errors) = DeTable::parse_recoverable(text);
    assert!(errors.is_empty(), "{errors:?}");
    let mut out = Vec::new();
    for (key, value) in root.into_inner() {
        assert_eq!(&**key.get_ref(), "secret");
        let DeValue::Array(items) = value.into_inner() else {
            panic!("`secret` is an array of tables")
        };
        for item in items {
            out.push(de::<RawSecret>(item).expect("a valid secret entry"));
        }
    }
    out
}

/// The `id` of a raw entry, read before the entry is deserialized, so a
/// duplicate is found even when either entry has other problems.
fn raw_id(item: &Spanned<DeValue<'_>>) -> Option<Spanned<String>> {
    let DeValue::Table(t) = item.get_ref() else {
        return None;
    };
    let (_, v) = t.iter().find(|(k, _)| &**k.get_ref() == "id")?;
    v.get_ref()
        .as_str()
        .map(|s| Spanned::new(v.span(), s.to_string()))
}

fn parse_entries(src: &Source, diags: &mut Vec<Diagnostic>) -> Parsed {
    let mut out = Parsed::default();
    let mut report = |span: Range<usize>, message: String| {
        diags.push(Diagnostic {
            file: src.name.clone(),
            source: src.text.clone(),
            span,
            message,
        })
    };
    // A builtin pack, unchanged, was validated by the test suite: its
    // patterns need no parse at load (see `Pattern::trusted`).
    let trusted = builtin_text(&src.name).is_some_and(|text| text == &*src.text);
    // Constraints of a pack's family file come from the pack.
    let origin = match src.name.split_once('/') {
        Some((pack, _)) if trusted => pack,
        _ => &src.name,
    };
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        for e in errors {
            report(e.span().unwrap_or(0..0), e.message().trim().to_string());
        }
        return out;
    }
    let mut entries: Vec<_> = root.into_inner().into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut seen_ids: Vec<Spanned<String>> = Vec::new();
    for (key, value) in entries {
        let key_span = key.span();
        let key = key.into_inner();
        match &*key {
            "extends" => match de::<Vec<Spanned<String>>>(value) {
                Ok(v) => out.extends = v,
                Err(e) => report(e.0, e.1),
            },
            "settings" => match de::<RawSettings>(value) {
                Ok(v) => out.settings = Some(v),
                Err(e) => report(e.0, e.1),
            },
            "allow" => {
                let span = value.span();
                let DeValue::Array(items) = value.into_inner() else {
                    report(span, "`allow` must be an array of tables: write `[[allow]]`".into());
                    continue;
                };
                for item in items {
                    let item_span = item.span();
                    match de::<allow::RawAllow>(item) {
                        Ok(a) => out.allows.push((a, item_span)),
                        Err(e) => report(e.0, e.1),
                    }
                }
            }
            "overrides" => match de::<RawOverrides>(value) {
                Ok(v) => {
                    check_overrides(&v, &mut report);
                    out.overrides = Some(v)
                }
                Err(e) => report(e.0, e.1),
            },
            k if KINDS.contains(&k) => {
                let span = value.span();
                let DeValue::Array(items) = value.into_inner() else {
                    report(
                        span,
                        format!("`{k}` must be an array of tables: write `[[{k}]]`"),
                    );
                    continue;
                };
                for item in items {
                    let id = raw_id(&item);
                    let raw = de_constraint(k, item, &mut report);
                    let Some(id) = id.or_else(|| raw.as_ref().map(|r| r.id().clone())) else {
                        continue;
                    };
                    if let Some(first) = seen_ids.iter().find(|s| s.get_ref() == id.get_ref()) {
                        let (line, _) = Diagnostic {
                            file: String::new(),
                            source: src.text.clone(),
                            span: first.span(),
                            message: String::new(),
                        }
                        .line_col();
                        report(
                            id.span(),
                            format!(
                                "duplicate constraint id `{}` (first defined on line {line})",
                                id.get_ref()
                            ),
                        );
                        continue;
                    }
                    seen_ids.push(id);
                    let Some(raw) = raw else { continue };
                    if let Some(c) = compile(raw, origin, trusted, &mut report) {
                        out.constraints.push(c);
                    }
                }
            }
            other => report(
                key_span,
                format!(
                    "unknown key `{other}`, expected one of `extends`, `settings`, `overrides`, `allow`, {}",
                    KINDS
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    out
}

/// The embedded text of a builtin source: `builtin:NAME` (a pack's main
/// file) or `builtin:NAME/FILE` (one of its family files).
fn builtin_text(name: &str) -> Option<&'static str> {
    let rest = name.strip_prefix("builtin:")?;
    match rest.split_once('/') {
        None => builtin_pack(rest),
        Some((pack, file)) => builtin_parts(pack)
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, t)| *t),
    }
}

/// Deserializes one spanned value, returning the error's span and message.
fn de<T: serde::de::DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
) -> Result<T, (Range<usize>, String)> {
    let span = value.span();
    T::deserialize(ValueDeserializer::from(value))
        .map_err(|e| (e.span().unwrap_or(span), e.message().trim().to_string()))
}

/// Applies the same expression to the raw entry of whatever kind.
macro_rules! each_raw {
    ($raw:expr, $c:ident => $e:expr) => {
        match $raw {
            RawConstraint::ForcePush($c) => $e,
            RawConstraint::ProtectedBranch($c) => $e,
            RawConstraint::Secret($c) => $e,
            RawConstraint::MaxFileSize($c) => $e,
            RawConstraint::ForbiddenPath($c) => $e,
            RawConstraint::PolicyChange($c) => $e,
        }
    };
}

impl RawConstraint {
    fn id(&self) -> &Spanned<String> {
        each_raw!(self, c => &c.id)
    }
}

fn de_constraint(
    kind: &str,
    item: Spanned<DeValue<'_>>,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<RawConstraint> {
    let result = match kind {
        "force-push" => de(item).map(RawConstraint::ForcePush),
        "protected-branch" => de(item).map(RawConstraint::ProtectedBranch),
        "secret" => de(item).map(RawConstraint::Secret),
        "max-file-size" => de(item).map(RawConstraint::MaxFileSize),
        "policy-change" => de(item).map(RawConstraint::PolicyChange),
        _ => de(item).map(RawConstraint::ForbiddenPath),
    };
    result.map_err(|(span, msg)| report(span, msg)).ok()
}

fn check_overrides(o: &RawOverrides, report: &mut impl FnMut(Range<usize>, String)) {
    if let Some(ttl) = &o.max_ttl {
        if let Err(msg) = parse_ttl(ttl.get_ref()) {
            report(ttl.span(), msg);
        }
    }
    if let Some(t) = &o.approval {
        if *t.get_ref() == Tier::TwoKey && o.approvers.is_empty() {
            report(
                t.span(),
                "`approval = \"two-key\"` for every blocker needs `approvers` in `[overrides]` (principal patterns such as `*@security.example.com`)".into(),
            );
        }
    }
    if let Some(a) = o.approvers.first() {
        if o.approval.as_ref().map(|t| *t.get_ref()) != Some(Tier::TwoKey) {
            report(
                a.span(),
                "`[overrides] approvers` only applies with `approval = \"two-key\"`".into(),
            );
        }
    }
    for r in &o.reasons {
        if !is_kebab(r.get_ref()) {
            report(
                r.span(),
                "reason codes must be kebab-case, like `hotfix` or `false-positive`".into(),
            );
        }
    }
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Second pass over one entry: compiles regexes and globs and checks values,
/// reporting every problem at its own span.
fn compile(
    raw: RawConstraint,
    origin: &str,
    trusted: bool,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<Constraint> {
    let mut ok = true;
    let mut fail = |span: Range<usize>, msg: String| {
        ok = false;
        report(span, msg)
    };
    let (id, description, severity, override_mode, max_ttl, approvers, budget, approval) = each_raw!(&raw, c => (
        c.id.clone(),
        c.description.clone(),
        c.severity,
        c.override_mode.clone(),
        c.max_ttl.clone(),
        c.approvers.clone(),
        c.max_overrides_per_week.clone(),
        c.approval.clone(),
    ));
    if !is_kebab(id.get_ref()) {
        fail(
            id.span(),
            format!(
                "constraint id `{}` must be kebab-case, like `no-force-push`",
                id.get_ref()
            ),
        );
    }
    if id.get_ref() == POLICY_CHANGE_ID && !matches!(raw, RawConstraint::PolicyChange(_)) {
        fail(
            id.span(),
            format!("`{POLICY_CHANGE_ID}` is the id of the builtin `policy-change` constraint; only a `[[policy-change]]` entry may use it"),
        );
    }
    let max_ttl = max_ttl.and_then(|t| match parse_ttl(t.get_ref()) {
        Ok(d) => Some(d),
        Err(msg) => {
            fail(t.span(), msg);
            None
        }
    });
    let mode_span = override_mode.as_ref().map_or(id.span(), |m| m.span());
    let mut override_mode = override_mode.map(Spanned::into_inner).unwrap_or_default();
    // `override = "two-key"` and `approval = "two-key"` mean the same;
    // anything that contradicts them is refused where it is written.
    let tier = match (&approval, override_mode) {
        (Some(t), OverrideMode::Never) => {
            fail(
                t.span(),
                "`approval` does not apply to `override = \"never\"`: nothing approves a blocker that may never be overridden".into(),
            );
            Tier::Challenge
        }
        (Some(t), OverrideMode::TwoKey) if *t.get_ref() != Tier::TwoKey => {
            fail(
                t.span(),
                format!(
                    "`approval = \"{}\"` contradicts `override = \"two-key\"`, which already means `approval = \"two-key\"`",
                    t.get_ref().as_str()
                ),
            );
            Tier::TwoKey
        }
        (Some(t), _) => *t.get_ref(),
        (None, OverrideMode::TwoKey) => Tier::TwoKey,
        (None, _) => Tier::Challenge,
    };
    let mode_span = approval
        .as_ref()
        .filter(|t| *t.get_ref() == Tier::TwoKey)
        .map_or(mode_span, |t| t.span());
    if tier == Tier::TwoKey {
        override_mode = OverrideMode::TwoKey;
    }
    if override_mode == OverrideMode::TwoKey && approvers.is_empty() {
        fail(
            mode_span.clone(),
            "a two-key constraint needs `approvers` (principal patterns such as `*@security.example.com`)".into(),
        );
    }
    if let Some(b) = &budget {
        if *b.get_ref() == 0 {
            fail(
                b.span(),
                "`max-overrides-per-week` must be at least 1; a constraint that may never be overridden says `override = \"never\"`".into(),
            );
        } else if override_mode == OverrideMode::Never {
            fail(
                b.span(),
                "`max-overrides-per-week` does not apply to `override = \"never\"`".into(),
            );
        }
    }
    if override_mode != OverrideMode::TwoKey {
        if let Some(a) = approvers.first() {
            fail(
                a.span(),
                "`approvers` only applies to `override = \"two-key\"` (or `approval = \"two-key\"`)".into(),
            );
        }
    }
    let kind = match &raw {
        RawConstraint::ForcePush(c) => {
            BranchSet::compile(&c.branches, &mut fail).map(|branches| Kind::ForcePush { branches })
        }
        RawConstraint::ProtectedBranch(c) => {
            if c.on.get_ref().is_empty() {
                fail(
                    c.on.span(),
                    "`on` must name at least one of `commit`, `push`, `delete`".into(),
                );
            }
            BranchSet::compile(&c.branches, &mut fail).map(|branches| Kind::ProtectedBranch {
                branches,
                on: c.on.get_ref().clone(),
            })
        }
        RawConstraint::Secret(c) => {
            compile_secret(c, &id, severity, trusted, &mut fail).map(|s| Kind::Secret(s.into()))
        }
        RawConstraint::MaxFileSize(c) => {
            if *c.bytes.get_ref() == 0 {
                fail(c.bytes.span(), "`bytes` must be greater than 0".into());
            }
            let paths = if c.paths.is_empty() {
                Some(None)
            } else {
                PathSet::compile_as(&c.paths, trusted, &mut fail).map(Some)
            };
            paths.map(|paths| Kind::MaxFileSize {
                bytes: *c.bytes.get_ref(),
                paths,
            })
        }
        RawConstraint::ForbiddenPath(c) => {
            if c.paths.get_ref().is_empty() {
                fail(c.paths.span(), "`paths` must list at least one glob".into());
            }
            PathSet::compile_as(c.paths.get_ref(), trusted, &mut fail)
                .map(|paths| Kind::ForbiddenPath { paths })
        }
        RawConstraint::PolicyChange(c) => {
            if severity != Severity::Block {
                fail(
                    id.span(),
                    "a `policy-change` constraint is always a blocker: a weakened policy must not approve itself".into(),
                );
            }
            if override_mode == OverrideMode::Never {
                fail(
                    mode_span.clone(),
                    "a `policy-change` constraint cannot be `never`: the policy could then never change again; use `two-key`".into(),
                );
            }
            policy_change_spec(&c.paths, &mut fail).map(|s| Kind::PolicyChange(Box::new(s)))
        }
    };
    let kind = kind?;
    ok.then(|| Constraint {
        id: id.into_inner(),
        description,
        severity,
        override_mode,
        max_ttl,
        approvers: approvers.into_iter().map(Spanned::into_inner).collect(),
        max_overrides_per_week: budget.map(Spanned::into_inner),
        approval: tier,
        kind,
        origin: origin.to_string(),
        raw: Box::new(raw),
    })
}

/// Compiles the paths of a `policy-change` constraint: the builtin ones
/// first, then the policy's own (a policy may add paths, never remove them).
fn policy_change_spec(
    own: &[Spanned<String>],
    fail: &mut impl FnMut(Range<usize>, String),
) -> Option<PolicyChangeSpec> {
    let mut list: Vec<Spanned<String>> = POLICY_CHANGE_PATHS
        .iter()
        .map(|p| Spanned::new(0..0, p.to_string()))
        .collect();
    for p in own {
        if !list.iter().any(|l| l.get_ref() == p.get_ref()) {
            list.push(p.clone());
        }
    }
    let paths = PathSet::compile(&list, fail)?;
    Some(PolicyChangeSpec {
        paths,
        patterns: list.into_iter().map(Spanned::into_inner).collect(),
        files: Vec::new(),
    })
}

/// Makes sure the builtin `policy-change` constraint is in force, whatever
/// the policy extends or says: added when missing, and its approval raised
/// to the strictest the policy uses anywhere: `two-key` with the union of
/// every two-key constraint's approvers when there is one. A policy that
/// names `tollgate-policy-change` itself may add paths and approvers and
/// raise it; a lower setting is raised, never obeyed.
fn ensure_policy_change(constraints: &mut Vec<Constraint>) {
    let mut approvers: Vec<String> = Vec::new();
    for c in constraints.iter() {
        if c.override_mode == OverrideMode::TwoKey {
            for a in &c.approvers {
                if !approvers.contains(a) {
                    approvers.push(a.clone());
                }
            }
        }
    }
    if !constraints.iter().any(|c| c.id == POLICY_CHANGE_ID) {
        let raw = RawPolicyChange {
            id: Spanned::new(0..0, POLICY_CHANGE_ID.to_string()),
            description: "A change to the policy, the signer list or the CI configuration needs the strictest approval the trusted policy uses".into(),
            severity: Severity::Block,
            override_mode: None,
            max_ttl: None,
            approvers: Vec::new(),
            max_overrides_per_week: None,
            approval: None,
            paths: Vec::new(),
        };
        let Some(spec) = policy_change_spec(&[], &mut |_, _| {}) else {
            return; // the builtin globs are valid (tested)
        };
        // Last, so that the policy's own constraints keep their places.
        constraints.push(Constraint {
            id: POLICY_CHANGE_ID.into(),
            description: raw.description.clone(),
            severity: Severity::Block,
            override_mode: OverrideMode::Token,
            max_ttl: None,
            approvers: Vec::new(),
            max_overrides_per_week: None,
            approval: Tier::Challenge,
            kind: Kind::PolicyChange(Box::new(spec)),
            origin: "builtin".into(),
            raw: Box::new(RawConstraint::PolicyChange(raw)),
        });
    }
    // The strictest tier any other constraint asks for (the policy's own
    // `[overrides] approval` applies on top, through `Policy::tier_for`).
    let strictest = constraints
        .iter()
        .filter(|c| c.id != POLICY_CHANGE_ID && c.override_mode != OverrideMode::Never)
        .map(|c| c.approval)
        .max()
        .unwrap_or_default();
    for c in constraints.iter_mut() {
        if c.id == POLICY_CHANGE_ID && c.approval < strictest {
            c.approval = strictest;
        }
    }
    if approvers.is_empty() {
        return;
    }
    for c in constraints.iter_mut() {
        if c.id != POLICY_CHANGE_ID {
            continue;
        }
        c.override_mode = OverrideMode::TwoKey;
        c.approval = Tier::TwoKey;
        for a in &approvers {
            if !c.approvers.contains(a) {
                c.approvers.push(a.clone());
            }
        }
        if let RawConstraint::PolicyChange(r) = &mut *c.raw {
            r.override_mode = Some(Spanned::new(0..0, OverrideMode::TwoKey));
            r.approvers = c
                .approvers
                .iter()
                .map(|a| Spanned::new(0..0, a.clone()))
                .collect();
        }
    }
}

fn compile_regex(
    s: &Spanned<String>,
    trusted: bool,
    report: &mut impl FnMut(Range<usize>, String),
) -> Option<Pattern> {
    if trusted {
        return Some(Pattern::trusted(s.get_ref()));
    }
    match Pattern::new(s.get_ref()) {
        Ok(p) => Some(p),
        Err(PatternError::TooBig(limit)) => {
            report(s.span(), format!("regex is too large once compiled (over {limit} bytes); split it or make it more specific"));
            None
        }
        Err(PatternError::Invalid(why)) => {
            report(s.span(), format!("invalid regex: {why}"));
            None
        }
    }
}

pub(super) fn compile_secret(
    c: &RawSecret,
    id: &Spanned<String>,
    severity: Severity,
    trusted: bool,
    fail: &mut impl FnMut(Range<usize>, String),
) -> Option<SecretSpec> {
    let checksum = match &c.checksum {
        None => Some(None),
        Some(name) => match crate::detect::Checksum::from_name(name.get_ref()) {
            Some(v) => Some(Some(v)),
            None => {
                fail(
                    name.span(),
                    format!(
                        "unknown checksum `{}`, expected one of {}",
                        name.get_ref(),
                        crate::detect::CHECKSUM_NAMES
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                None
            }
        },
    };
    if let Some(s) = &c.service {
        if s.get_ref().trim().is_empty() {
            fail(s.span(), "`service` must name the vendor or service".into());
        }
    }
    // The builtin packs map confidence to severity one way: prefixed or
    // checksummed formats block, context-dependent ones warn. A user's own
    // policy may set what it likes.
    if trusted {
        match &c.confidence {
            None => fail(
                id.span(),
                "a builtin secret rule needs `confidence = \"high\"` or `\"medium\"`".into(),
            ),
            Some(conf) if conf.get_ref().builtin_severity() != severity => fail(
                conf.span(),
                format!(
                    "a builtin rule of confidence `{}` must have severity `{}`",
                    conf.get_ref().as_str(),
                    conf.get_ref().builtin_severity().as_str()
                ),
            ),
            Some(_) => {}
        }
        if c.service.is_none() {
            fail(id.span(), "a builtin secret rule needs `service`".into());
        }
    }
    let regex = compile_regex(&c.regex, trusted, fail);
    let allow: Vec<_> = c
        .allow_regex
        .iter()
        .map(|a| compile_regex(a, trusted, fail))
        .collect();
    let paths = if c.paths.is_empty() {
        Some(None)
    } else {
        PathSet::compile_as(&c.paths, trusted, fail).map(Some)
    };
    let exclude = if c.exclude_paths.is_empty() {
        Some(None)
    } else {
        PathSet::compile_as(&c.exclude_paths, trusted, fail).map(Some)
    };
    for k in &c.keywords {
        if k.get_ref().is_empty() {
            fail(k.span(), "keywords must not be empty".into());
        }
    }
    if let Some(e) = &c.entropy {
        if !(0.0..=8.0).contains(e.get_ref()) {
            fail(
                e.span(),
                "`entropy` is in bits per byte, between 0 and 8".into(),
            );
        }
    }
    let regex = regex?;
    let groups = regex.explicit_captures();
    let secret_group = match &c.secret_group {
        Some(g) if *g.get_ref() > groups => {
            fail(
                g.span(),
                format!(
                    "`secret-group` is {} but the regex has {groups} capture group(s)",
                    g.get_ref()
                ),
            );
            return None;
        }
        Some(g) => *g.get_ref(),
        None => usize::from(groups > 0),
    };
    Some(SecretSpec {
        regex,
        keywords: c
            .keywords
            .iter()
            .map(|k| k.get_ref().to_ascii_lowercase())
            .collect(),
        secret_group,
        entropy: c.entropy.as_ref().map(|e| *e.get_ref()),
        paths: paths?,
        exclude_paths: exclude?,
        allow: allow.into_iter().collect::<Option<Vec<_>>>()?,
        confidence: c.confidence.as_ref().map(|c| *c.get_ref()),
        service: c.service.as_ref().map(|s| s.get_ref().trim().to_string()),
        checksum: checksum?,
    })
}
