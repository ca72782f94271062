//! Text normalisation for the injection scanner, with a map back to the original.
//!
//! Steps: remove invisible characters (zero-width, bidi controls, tag characters,
//! soft hyphen, variation selectors); NFKD compatibility decomposition with
//! combining marks dropped (so `ｉｇｎｏｒｅ`, `ïgnöre` and `𝐢𝐠𝐧𝐨𝐫𝐞` read `ignore`);
//! lowercase; fold common Cyrillic and Greek homoglyphs to Latin; join words split by
//! a hyphen between letters; collapse letter-spaced runs (`i g n o r e`). Rule
//! patterns go through the same folding, so non-Latin rules still match.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// A normalised text and how its byte offsets map back to the original.
#[derive(Debug)]
pub(crate) struct Normalized<'a> {
    pub(crate) text: Cow<'a, str>,
    map: OffsetMap,
    /// Invisible characters that were removed: (original span, class).
    pub(crate) invisible: Vec<(usize, usize, Invisible)>,
}

#[derive(Debug)]
enum OffsetMap {
    Identity,
    /// ASCII input with deletions: (normalised index, bytes deleted before it).
    Deletions(Vec<(usize, usize)>),
    /// For every normalised byte, the original span of the character it came from.
    Full(Vec<(usize, usize)>),
    /// Runs of the normalised text, ordered: see [`Segment`].
    Segments(Vec<Segment>),
}

/// A run of normalised text that starts at byte `norm`. An ASCII run maps byte for
/// byte onto `orig..orig_end`; otherwise every byte of it came from the one
/// character at `orig..orig_end`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    norm: usize,
    orig: usize,
    orig_end: usize,
    ascii: bool,
}

/// Classes of invisible characters worth reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invisible {
    ZeroWidth,
    Bidi,
    Tag,
    Other,
}

pub(crate) fn invisible_class(c: char) -> Option<Invisible> {
    match c {
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{2061}' | '\u{2062}'
        | '\u{2063}' | '\u{2064}' | '\u{FEFF}' | '\u{180E}' => Some(Invisible::ZeroWidth),
        '\u{200E}'
        | '\u{200F}'
        | '\u{061C}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some(Invisible::Bidi),
        '\u{E0000}'..='\u{E007F}' => Some(Invisible::Tag),
        '\u{00AD}'
        | '\u{034F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}' => Some(Invisible::Other),
        _ => None,
    }
}

fn is_combining(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}'
        | '\u{3099}' | '\u{309A}')
}

/// Folds look-alike letters from other scripts to the Latin letter they imitate.
pub(crate) fn fold_homoglyph(c: char) -> char {
    match c {
        'а' => 'a',
        'в' => 'b',
        'е' => 'e',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'і' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'һ' => 'h',
        'ӏ' => 'l',
        'ɡ' => 'g',
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'γ' => 'y',
        'ı' => 'i',
        'ℓ' => 'l',
        _ => c,
    }
}

/// Appends the folded form of one character to `out`.
pub(crate) fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    if invisible_class(c).is_some() {
        return;
    }
    for d in std::iter::once(c).nfkd() {
        if is_combining(d) {
            continue;
        }
        for l in d.to_lowercase() {
            out.push(fold_homoglyph(l));
        }
    }
}

/// A joiner or selector after a symbol builds an emoji: not an evasion, so its
/// class is `Other` (not reported).
fn emoji_aware(text: &str, pos: usize, c: char, class: Invisible) -> Invisible {
    let prev = text[..pos].chars().next_back();
    if matches!(c, '\u{200D}' | '\u{FE0F}')
        && prev.is_some_and(|p| !p.is_alphanumeric() && !p.is_ascii())
    {
        Invisible::Other
    } else {
        class
    }
}

/// Folds a whole pattern literal the way text is folded (used for non-ASCII rules).
pub(crate) fn fold_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            fold_char(c, &mut out);
        }
    }
    out
}

const SPACING_SEPARATORS: &[char] = &[' ', '.', '-', '_', '*', '|', '/', '+', '~'];
const MIN_SPACED_LETTERS: usize = 4;

/// Which positions of `chars` to delete: hyphens inside words and the separators of
/// letter-spaced runs. A run needs four letters, or two when it sits next to a
/// collapsed run (the short words of a letter-spaced sentence: "a l l", "d o").
fn deletions<T: Copy + Into<char>>(chars: &[T]) -> Vec<usize> {
    let n = chars.len();
    let at = |i: usize| chars.get(i).map(|&c| c.into());
    let letter = |i: usize| at(i).is_some_and(char::is_alphabetic);
    let mut out = Vec::new();
    // (first letter, last letter, separators)
    let mut runs: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    let mut i = 0;
    while i < n {
        let c: char = chars[i].into();
        if c.is_alphabetic() {
            if (i == 0 || !letter(i - 1)) && !letter(i + 1) {
                let mut j = i;
                let mut seps = Vec::new();
                while at(j + 1).is_some_and(|s| SPACING_SEPARATORS.contains(&s))
                    && letter(j + 2)
                    && !letter(j + 3)
                {
                    seps.push(j + 1);
                    j += 2;
                }
                if !seps.is_empty() {
                    runs.push((i, j, seps));
                    i = j + 1;
                    continue;
                }
            }
        } else if matches!(c, '-' | '\u{2010}' | '\u{2011}')
            && i > 0
            && letter(i - 1)
            && letter(i + 1)
        {
            out.push(i);
        }
        i += 1;
    }
    if runs.is_empty() {
        return out;
    }
    let mut keep: Vec<bool> = runs
        .iter()
        .map(|r| r.2.len() + 1 >= MIN_SPACED_LETTERS)
        .collect();
    // Spread to neighbours, forwards then backwards.
    const NEAR: usize = 4;
    for k in 1..runs.len() {
        if keep[k - 1] && runs[k].0 - runs[k - 1].1 <= NEAR {
            keep[k] = true;
        }
    }
    for k in (0..runs.len() - 1).rev() {
        if keep[k + 1] && runs[k + 1].0 - runs[k].1 <= NEAR {
            keep[k] = true;
        }
    }
    for (run, keep) in runs.into_iter().zip(keep) {
        if keep {
            out.extend(run.2);
        }
    }
    out.sort_unstable();
    out
}

/// Whether [`deletions`] can find anything in ASCII text: a hyphen between two
/// letters, or a single letter, a separator and a single letter (the start of a
/// letter-spaced run). Clean text skips the full analysis: letters and hyphens are
/// found through bitmaps built sixteen bytes at a time (SSE2 on x86-64), in one
/// pass.
fn may_have_deletions(bytes: &[u8]) -> bool {
    let chunks = bytes.len().div_ceil(64);
    let bits = |w: usize| {
        if w < chunks {
            chunk_bits(bytes, w)
        } else {
            (0, 0)
        }
    };
    let (mut prev, (mut here, mut hyphens), mut next) = (0u64, bits(0), bits(1));
    let mut prev_single = 0u64;
    for w in 0..=chunks {
        // Bit i of `before`/`after`: the byte before/after byte i is a letter.
        let before = (here << 1) | (prev >> 63);
        let after = (here >> 1) | (next.0 << 63);
        if hyphens & before & after != 0 {
            return true;
        }
        // Single letters: letters with no letter on either side.
        let single = here & !before & !after;
        // Chunk w - 1: a single letter two bytes after a single letter.
        let mut pairs = prev_single & ((prev_single >> 2) | (single << 62));
        while pairs != 0 {
            let i = (w - 1) * 64 + pairs.trailing_zeros() as usize;
            if bytes
                .get(i + 1)
                .is_some_and(|&b| SPACING_SEPARATORS.contains(&char::from(b)))
            {
                return true;
            }
            pairs &= pairs - 1;
        }
        prev_single = single;
        prev = here;
        (here, hyphens) = next;
        next = bits(w + 2);
    }
    false
}

/// [`may_have_deletions`] for text that may hold non-ASCII characters: the ASCII
/// check (which takes every non-ASCII byte for a non-letter, so an ASCII letter
/// next to a non-ASCII one only looks more isolated than it is), plus a look at
/// each non-ASCII character: a Unicode hyphen, a letter beside a hyphen, or a
/// single letter with a separator and a single letter on either side.
fn may_have_deletions_str(text: &str) -> bool {
    if may_have_deletions(text.as_bytes()) {
        return true;
    }
    let is_letter = |c: Option<char>| c.is_some_and(char::is_alphabetic);
    let before = |i: usize| text[..i].chars().next_back();
    let after = |i: usize| text[i..].chars().next();
    // A single letter that starts at `i` and ends at `j`.
    let single = |i: usize, j: usize| !is_letter(before(i)) && !is_letter(after(j));
    let mut pos = 0;
    while let Some(k) = text.as_bytes()[pos..].iter().position(|b| !b.is_ascii()) {
        let i = pos + k;
        let Some(c) = after(i) else { break };
        let j = i + c.len_utf8();
        pos = j;
        if matches!(c, '\u{2010}' | '\u{2011}') {
            return true;
        }
        if !c.is_alphabetic() {
            continue;
        }
        if before(i) == Some('-') || after(j) == Some('-') {
            return true;
        }
        if !single(i, j) {
            continue;
        }
        // separator and single letter after, or single letter and separator before
        let next_sep = after(j).filter(|s| SPACING_SEPARATORS.contains(s));
        if let Some(sep) = next_sep {
            let k = j + sep.len_utf8();
            if let Some(l) = after(k).filter(|l| l.is_alphabetic())
                && single(k, k + l.len_utf8())
            {
                return true;
            }
        }
        let prev_sep = before(i).filter(|s| SPACING_SEPARATORS.contains(s));
        if let Some(sep) = prev_sep {
            let k = i - sep.len_utf8();
            if let Some(l) = before(k).filter(|l| l.is_alphabetic())
                && single(k - l.len_utf8(), k)
            {
                return true;
            }
        }
    }
    false
}

/// For the 64 bytes of chunk `w` (zeros past the end): bit `i` of the first word
/// is set when byte `64 * w + i` is an ASCII letter, of the second when it is a
/// hyphen.
fn chunk_bits(bytes: &[u8], w: usize) -> (u64, u64) {
    let chunk = bytes.get(w * 64..).unwrap_or(&[]);
    let chunk = &chunk[..chunk.len().min(64)];
    let mut padded = [0u8; 64];
    let full: &[u8; 64] = match chunk.try_into() {
        Ok(full) => full,
        Err(_) => {
            padded[..chunk.len()].copy_from_slice(chunk);
            &padded
        }
    };
    let (mut letters, mut hyphens) = (0u64, 0u64);
    for (k, sixteen) in full.chunks_exact(16).enumerate() {
        let (l, h) = lanes16(sixteen);
        letters |= u64::from(l) << (16 * k);
        hyphens |= u64::from(h) << (16 * k);
    }
    (letters, hyphens)
}

/// The letter and hyphen bits of sixteen bytes (bit `i`: byte `i`).
fn lanes16(sixteen: &[u8]) -> (u16, u16) {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(unsafe_code)]
        // SAFETY: `lanes16_sse2` is unsafe to call only because it requires SSE2,
        // which is part of the x86-64 baseline: every x86-64 CPU has it. It reads
        // nothing but its argument, through safe slice access.
        unsafe {
            lanes16_sse2(sixteen)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    lanes16_portable(sixteen)
}

/// [`lanes16`] with SSE2: one comparison per condition for all sixteen bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn lanes16_sse2(sixteen: &[u8]) -> (u16, u16) {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };
    let half = |from: usize| {
        let mut eight = [0u8; 8];
        if let Some(part) = sixteen.get(from..from + 8) {
            eight.copy_from_slice(part);
        }
        i64::from_le_bytes(eight)
    };
    let raw = _mm_set_epi64x(half(8), half(0));
    // Lower-case every letter; bytes of 0x80 and above stay negative as i8, so
    // they fail the first comparison.
    let x = _mm_or_si128(raw, _mm_set1_epi8(0x20));
    let letter = _mm_and_si128(
        _mm_cmpgt_epi8(x, _mm_set1_epi8(b'a' as i8 - 1)),
        _mm_cmplt_epi8(x, _mm_set1_epi8(b'z' as i8 + 1)),
    );
    let hyphen = _mm_cmpeq_epi8(raw, _mm_set1_epi8(b'-' as i8));
    (
        _mm_movemask_epi8(letter) as u16,
        _mm_movemask_epi8(hyphen) as u16,
    )
}

/// [`lanes16`] a byte at a time (other targets, and the reference in tests).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn lanes16_portable(sixteen: &[u8]) -> (u16, u16) {
    sixteen
        .iter()
        .take(16)
        .enumerate()
        .fold((0, 0), |(l, h), (i, &b)| {
            (
                l | u16::from(b.is_ascii_alphabetic()) << i,
                h | u16::from(b == b'-') << i,
            )
        })
}

impl<'a> Normalized<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        if text.is_ascii() {
            let bytes = text.as_bytes();
            let del = if may_have_deletions(bytes) {
                deletions(bytes)
            } else {
                Vec::new()
            };
            if del.is_empty() {
                return Self {
                    text: Cow::Borrowed(text),
                    map: OffsetMap::Identity,
                    invisible: Vec::new(),
                };
            }
            let mut out = String::with_capacity(text.len());
            let mut map = Vec::with_capacity(del.len());
            let mut at = 0;
            for (k, &d) in del.iter().enumerate() {
                out.push_str(&text[at..d]);
                map.push((out.len(), k + 1));
                at = d + 1;
            }
            out.push_str(&text[at..]);
            return Self {
                text: Cow::Owned(out),
                map: OffsetMap::Deletions(map),
                invisible: Vec::new(),
            };
        }
        Self::fold_segments(text).unwrap_or_else(|| Self::fold_full(text))
    }

    /// Folds character by character, remembering the origin of every byte, and
    /// joins hyphen-split and letter-spaced words.
    fn fold_full(text: &'a str) -> Self {
        let mut folded: Vec<(char, usize, usize)> = Vec::with_capacity(text.len());
        let mut invisible = Vec::new();
        let mut buf = String::new();
        for (pos, c) in text.char_indices() {
            let end = pos + c.len_utf8();
            if let Some(class) = invisible_class(c) {
                invisible.push((pos, end, emoji_aware(text, pos, c, class)));
                continue;
            }
            buf.clear();
            fold_char(c, &mut buf);
            for f in buf.chars() {
                folded.push((f, pos, end));
            }
        }
        let chars: Vec<char> = folded.iter().map(|f| f.0).collect();
        let del = deletions(&chars);
        let mut out = String::with_capacity(text.len());
        let mut map = Vec::with_capacity(text.len());
        let mut d = del.iter().peekable();
        for (i, &(c, s, e)) in folded.iter().enumerate() {
            if d.peek() == Some(&&i) {
                d.next();
                continue;
            }
            out.push(c);
            for _ in 0..c.len_utf8() {
                map.push((s, e));
            }
        }
        Self {
            text: Cow::Owned(out),
            map: OffsetMap::Full(map),
            invisible,
        }
    }

    /// Folds text with non-ASCII characters run by run: ASCII runs are lowercased in
    /// bulk, other characters folded one by one. `None` when the folded text has
    /// hyphen-split or letter-spaced words to join (the general path does that).
    fn fold_segments(text: &'a str) -> Option<Self> {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        let mut segments: Vec<Segment> = Vec::new();
        let mut invisible = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let run = bytes[pos..]
                .iter()
                .position(|b| !b.is_ascii())
                .unwrap_or(bytes.len() - pos);
            if run > 0 {
                let norm = out.len();
                out.push_str(&text[pos..pos + run]);
                out[norm..].make_ascii_lowercase();
                segments.push(Segment {
                    norm,
                    orig: pos,
                    orig_end: pos + run,
                    ascii: true,
                });
                pos += run;
                continue;
            }
            let c = text[pos..].chars().next()?;
            let end = pos + c.len_utf8();
            if let Some(class) = invisible_class(c) {
                invisible.push((pos, end, emoji_aware(text, pos, c, class)));
            } else {
                let norm = out.len();
                fold_char(c, &mut out);
                if out.len() > norm {
                    segments.push(Segment {
                        norm,
                        orig: pos,
                        orig_end: end,
                        ascii: false,
                    });
                }
            }
            pos = end;
        }
        if may_have_deletions_str(&out) {
            let chars: Vec<char> = out.chars().collect();
            if !deletions(&chars).is_empty() {
                return None;
            }
        }
        Some(Self {
            text: Cow::Owned(out),
            map: OffsetMap::Segments(segments),
            invisible,
        })
    }

    /// Maps a normalised byte span to the original text's byte span.
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.map {
            OffsetMap::Identity => (start, end),
            OffsetMap::Deletions(list) => {
                let shift = |pos: usize| {
                    let k = list.partition_point(|&(idx, _)| idx <= pos);
                    if k == 0 { 0 } else { list[k - 1].1 }
                };
                let s = start + shift(start);
                let e = if end > start {
                    end - 1 + shift(end - 1) + 1
                } else {
                    s
                };
                (s, e)
            }
            OffsetMap::Segments(segments) => {
                // The segment holding normalised byte `at`, and the original span of
                // that byte.
                let locate = |at: usize| {
                    let k = segments.partition_point(|g| g.norm <= at).saturating_sub(1);
                    segments.get(k).map(|g| {
                        if g.ascii {
                            let o = (g.orig + (at - g.norm)).min(g.orig_end.saturating_sub(1));
                            (o, o + 1)
                        } else {
                            (g.orig, g.orig_end)
                        }
                    })
                };
                let Some((s, _)) = locate(start) else {
                    return (0, 0);
                };
                let e = if end > start {
                    locate(end - 1).map_or(s, |(_, e)| e)
                } else {
                    s
                };
                (s, e.max(s))
            }
            OffsetMap::Full(map) => {
                if map.is_empty() {
                    return (0, 0);
                }
                let s = map[start.min(map.len() - 1)].0;
                let e = if end > start {
                    map[(end - 1).min(map.len() - 1)].1
                } else {
                    s
                };
                (s, e.max(s))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let n = Normalized::new(input);
        assert_eq!(n.text.to_lowercase(), expected, "{input:?}");
    }

    #[test]
    fn evasions_normalise() {
        check("ignore previous", "ignore previous");
        check("i g n o r e previous", "ignore previous");
        check("I-G-N-O-R-E all", "ignore all");
        check("ig-nore pre-vious", "ignore previous");
        check("ig\u{200B}nore", "ignore");
        check("ＩＧＮＯＲＥ", "ignore");
        check("іgnоrе", "ignore");
        check("ïgnörè", "ignore");
        check("𝐢𝐠𝐧𝐨𝐫𝐞", "ignore");
        check("a b c", "a b c");
    }

    #[test]
    fn the_ascii_precheck_never_misses_a_deletion() {
        // Every string of up to six bytes over an alphabet of letters, separators
        // and others, and up to nine over a smaller one (a letter-spaced run
        // needs seven bytes).
        let wide: &[u8] = b"aB -.1_/~\n";
        let narrow: &[u8] = b"a -1";
        for (alphabet, longest) in [(wide, 6u32), (narrow, 9)] {
            for len in 0..=longest {
                for mut code in 0..alphabet.len().pow(len) {
                    let mut text = Vec::new();
                    for _ in 0..len {
                        text.push(alphabet[code % alphabet.len()]);
                        code /= alphabet.len();
                    }
                    if !deletions(&text).is_empty() {
                        assert!(
                            may_have_deletions(&text),
                            "{:?}",
                            String::from_utf8_lossy(&text)
                        );
                    }
                }
            }
        }
        assert!(!may_have_deletions(
            b"ignore previous instructions, as a rule"
        ));
        // Across the 64-byte words of the letter bitmap, and not where the
        // pattern is broken.
        for lead in 0..140 {
            let pad = "1".repeat(lead);
            for (tail, expected) in [
                ("x y z w", true),
                ("x y", true),
                ("x.y1", true),
                ("a-b", true),
                ("ab-cd", true),
                ("xy z", false),
                ("x yz", false),
                ("x1y", false),
                ("a-1", false),
                ("1-a", false),
                ("a--b", false),
            ] {
                let text = format!("{pad}{tail}1");
                assert_eq!(may_have_deletions(text.as_bytes()), expected, "{text}");
            }
        }
        // The vector form equals the byte-at-a-time form, every byte value in
        // every lane.
        for b in 0..=255u8 {
            for lane in 0..16 {
                for fill in [0u8, b'a', b'-', 0x80, 0xFF, b'Z'] {
                    let mut sixteen = [fill; 16];
                    sixteen[lane] = b;
                    assert_eq!(
                        lanes16(&sixteen),
                        lanes16_portable(&sixteen),
                        "{b} in {lane}"
                    );
                }
            }
        }
        // Every byte value in every lane, after every other byte value.
        for b in 0..=255u8 {
            for prev in [0u8, b'-', b'z', 0xC3, 0xE2, 0xFF] {
                for lead in 0..66 {
                    let mut text = vec![prev; lead];
                    text.push(b);
                    text.push(prev);
                    let w = lead / 64;
                    let (letters, hyphens) = chunk_bits(&text, w);
                    let bit = |word: u64| word >> (lead % 64) & 1 == 1;
                    assert_eq!(bit(letters), b.is_ascii_alphabetic(), "{b} after {prev}");
                    assert_eq!(bit(hyphens), b == b'-', "{b} after {prev}");
                }
            }
        }
    }

    /// The same over characters, with non-ASCII letters and hyphens: every string
    /// of up to seven characters over a small alphabet.
    #[test]
    fn the_unicode_precheck_never_misses_a_deletion() {
        let alphabet = ['a', 'ж', '会', ' ', '-', '\u{2010}', '.', '—'];
        for len in 0..=7u32 {
            for mut code in 0..alphabet.len().pow(len) {
                let mut chars = Vec::new();
                for _ in 0..len {
                    chars.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                let text: String = chars.iter().collect();
                if !deletions(&chars).is_empty() {
                    assert!(may_have_deletions_str(&text), "{text:?}");
                }
            }
        }
        assert!(!may_have_deletions_str(
            "Café déjà vu, naïve résumé — 会议在周三。"
        ));
    }

    /// Run-by-run folding maps every span back exactly as character-by-character
    /// folding does.
    #[test]
    fn segment_map_equals_full_map() {
        let texts = [
            "Café déjà vu, naïve résumé — 会议在周三。",
            "ＩＧＮＯＲＥ previous, іgnоrе 𝐢𝐠𝐧𝐨𝐫𝐞 and ïgnörè",
            "zero\u{200B}width \u{202E}bidi\u{202C} tag\u{E0041} soft\u{00AD}hyphen",
            "emoji 👍\u{FE0F} 👨\u{200D}👩 ﬁle ß İstanbul ǅ",
            "é",
            "\u{200B}",
            "",
        ];
        for text in texts {
            let fast = Normalized::fold_segments(text).expect("nothing to delete");
            let full = Normalized::fold_full(text);
            assert_eq!(fast.text, full.text, "{text:?}");
            assert_eq!(fast.invisible, full.invisible, "{text:?}");
            let n = fast.text.len();
            for start in 0..=n {
                for end in start..=n {
                    if fast.text.is_char_boundary(start) && fast.text.is_char_boundary(end) {
                        assert_eq!(
                            fast.original_span(start, end),
                            full.original_span(start, end),
                            "{text:?} {start}..{end}"
                        );
                    }
                }
            }
        }
        assert!(Normalized::fold_segments("é i g n o r e").is_none());
        assert!(Normalized::fold_segments("é ig-nore").is_none());
    }

    #[test]
    fn spans_map_back() {
        for input in ["xx i g n o r e yy", "xx ig-nore yy", "xx іgn\u{200B}оrе yy"] {
            let n = Normalized::new(input);
            let at = n.text.find("ignore").unwrap();
            let (s, e) = n.original_span(at, at + 6);
            assert!(input.is_char_boundary(s) && input.is_char_boundary(e));
            assert!(input[s..e].starts_with(['i', 'і']), "{input:?} {s}..{e}");
            assert!(input[s..e].ends_with(['e', 'е']), "{input:?} {s}..{e}");
        }
    }
}
