//! The keyword prefilter for a typical commit: which of the secret rules'
//! keywords occur in a chunk of text, ASCII case-insensitively.
//!
//! An Aho-Corasick automaton over the recommended pack's ~900 keywords costs
//! about 11 million instructions to build: more than the whole scan of a
//! typical commit, and paid by every hook. This index costs a sort of the
//! keywords. Keywords are grouped by their first two bytes (lowercased); a
//! bit per byte pair says whether any keyword starts with it, so most
//! positions of the text cost one table lookup, and only the keywords of
//! that pair are compared there. One-byte keywords have their own table.
//!
//! It answers the same question as an overlapping Aho-Corasick search (every
//! keyword that occurs anywhere in the text), which the tests check on
//! random text. For a large change the engine switches to an automaton's
//! DFA, whose single lookup per byte is faster once its build is paid for.

/// Keywords (lowercase ASCII bytes, any length ≥ 1) indexed by their first
/// two bytes.
#[derive(Debug, Default)]
pub(super) struct KeywordIndex {
    /// The keywords (lowercased) end to end; pattern ids index `spans`.
    bytes: Vec<u8>,
    /// Where each keyword is in `bytes`.
    spans: Vec<(u32, u32)>,
    /// One bit per lowercased byte pair: whether some keyword starts with it.
    pairs: Vec<u64>,
    /// The keywords of two bytes or more, sorted by their first pair:
    /// (pair, pattern id).
    by_pair: Vec<(u16, u32)>,
    /// The one-byte keywords by their byte: pattern ids.
    single: Vec<(u8, u32)>,
}

fn lower(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

fn pair(a: u8, b: u8) -> u16 {
    (u16::from(lower(a)) << 8) | u16::from(lower(b))
}

impl KeywordIndex {
    /// Indexes `keywords` (lowercased here; empty ones never match).
    pub(super) fn new<K: AsRef<[u8]>>(keywords: &[K]) -> Self {
        let mut bytes = Vec::with_capacity(keywords.iter().map(|k| k.as_ref().len()).sum());
        let mut spans = Vec::with_capacity(keywords.len());
        let mut pairs = vec![0u64; (1 << 16) / 64];
        let mut by_pair = Vec::with_capacity(keywords.len());
        let mut single = Vec::new();
        for (id, k) in keywords.iter().enumerate() {
            let k = k.as_ref();
            let id = id as u32;
            let start = bytes.len() as u32;
            bytes.extend(k.iter().map(|b| lower(*b)));
            spans.push((start, bytes.len() as u32));
            match k {
                [] => {}
                [b] => single.push((lower(*b), id)),
                [a, b, ..] => {
                    let p = pair(*a, *b);
                    pairs[usize::from(p) / 64] |= 1 << (p % 64);
                    by_pair.push((p, id));
                }
            }
        }
        by_pair.sort_unstable();
        single.sort_unstable();
        KeywordIndex {
            bytes,
            spans,
            pairs,
            by_pair,
            single,
        }
    }

    /// Keyword `id`, lowercased.
    fn keyword(&self, id: u32) -> &[u8] {
        let (start, end) = self.spans[id as usize];
        &self.bytes[start as usize..end as usize]
    }

    /// Calls `found` with the id of every one-byte keyword that occurs in
    /// `text` (one `memchr` each) until `found` returns `false`; whether it
    /// never did.
    pub(super) fn each_single_present(
        &self,
        text: &[u8],
        mut found: impl FnMut(usize) -> bool,
    ) -> bool {
        self.single.iter().all(|(b, id)| {
            memchr::memchr2(*b, b.to_ascii_uppercase(), text).is_none() || found(*id as usize)
        })
    }

    /// Calls `found` with the id of every keyword that occurs in `text`, each
    /// at most once, until `found` returns `false`.
    ///
    /// A pair whose keywords have all been found is switched off for the
    /// rest of the text, so a pair that occurs everywhere (`to`, `se`) costs
    /// its comparisons only until its keywords are seen.
    pub(super) fn each_present(&self, text: &[u8], mut found: impl FnMut(usize) -> bool) {
        if !self.each_single_present(text, &mut found) {
            return;
        }
        let mut seen = vec![false; self.spans.len()];
        if self.by_pair.is_empty() || text.len() < 2 {
            return;
        }
        let mut pairs = self.pairs.clone();
        let mut prev = lower(text[0]);
        for i in 1..text.len() {
            let next = lower(text[i]);
            let p = (u16::from(prev) << 8) | u16::from(next);
            prev = next;
            let (word, bit) = (usize::from(p) / 64, 1u64 << (p % 64));
            if pairs[word] & bit == 0 {
                continue;
            }
            // The keyword would start at `i - 1`.
            let at = i - 1;
            let start = self.by_pair.partition_point(|(q, _)| *q < p);
            let mut left = false;
            for &(q, id) in &self.by_pair[start..] {
                if q != p {
                    break;
                }
                if seen[id as usize] {
                    continue;
                }
                let k = self.keyword(id);
                if text.len() - at >= k.len()
                    && text[at + 2..at + k.len()].eq_ignore_ascii_case(&k[2..])
                {
                    seen[id as usize] = true;
                    if !found(id as usize) {
                        return;
                    }
                } else {
                    left = true;
                }
            }
            if !left {
                pairs[word] &= !bit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasickBuilder, MatchKind};
    use rand::{Rng, SeedableRng};

    fn present(index: &KeywordIndex, text: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        index.each_present(text, |id| {
            out.push(id);
            true
        });
        out.sort_unstable();
        out
    }

    fn reference(keywords: &[&[u8]], text: &[u8]) -> Vec<usize> {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .expect("automaton");
        let mut out: Vec<usize> = ac
            .find_overlapping_iter(text)
            .map(|m| m.pattern().as_usize())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn finds_what_an_overlapping_automaton_finds() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // A small alphabet, so keywords overlap, repeat and share prefixes.
        let alphabet = b"abAB:_/.x";
        for round in 0..300 {
            let n = rng.random_range(1..30);
            let keywords: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = rng.random_range(1..6);
                    (0..len)
                        .map(|_| alphabet[rng.random_range(0..alphabet.len())].to_ascii_lowercase())
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = keywords.iter().map(Vec::as_slice).collect();
            let index = KeywordIndex::new(&refs);
            let len = rng.random_range(0..200);
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            // Duplicate keywords: the automaton reports one id per
            // occurrence pattern, the index every id of a present keyword.
            let expect: Vec<usize> = (0..keywords.len())
                .filter(|&i| {
                    reference(&refs, &text)
                        .iter()
                        .any(|&j| keywords[j] == keywords[i])
                })
                .collect();
            assert_eq!(
                present(&index, &text),
                expect,
                "round {round}: {keywords:?} in {:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn matches_case_insensitively_at_the_ends_and_stops_when_asked() {
        let index = KeywordIndex::new(&["akia", ":", "ghp_", "xoxb-"]);
        assert_eq!(present(&index, b"AKIA"), [0]);
        assert_eq!(present(&index, b"x GHP_"), [2]);
        assert_eq!(present(&index, b"xoxb"), Vec::<usize>::new());
        assert_eq!(present(&index, b"a:b xOxB-1 akIa"), [0, 1, 3]);
        assert_eq!(present(&index, b""), Vec::<usize>::new());
        let mut calls = 0;
        index.each_present(b"akia ghp_ :", |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }
}
