//! Sampled n-gram prefilters: the scanners' first pass over the text.
//!
//! Neither scanner looks at every byte of clean text. Both read short grams at
//! sampled positions and test them against a bitmap; only the rare samples that
//! pass are looked up exactly, and every hit is verified against the whole literal.
//!
//! - [`AnchorSampler`]: pattern anchors (leak detector) and rule triggers
//!   (injection scanner), matched ASCII-case-insensitively. Four folded bytes are
//!   read at every second position; each literal is entered at two consecutive
//!   offsets, so it is seen wherever it starts. A hash of the four bytes indexes a
//!   bitmap of 2^24 bits: one multiply, one shift, one load and one bit test per
//!   sample. A sample that passes is looked up, and its literal's first eight
//!   bytes are compared in one folded word before the hit is reported.
//! - [`GramSet`] with [`sampled_hits`]: registered secrets, matched exactly. Every
//!   encoded form is at least `min_len` bytes long, so with grams of `q` bytes taken
//!   only at every `step = min_len - q + 1`-th position, one sampled gram lies
//!   inside the first `min_len` bytes of any occurrence, at an offset below `step`.
//!   Each form is entered at the offsets `0..step`, behind a two-hash Bloom filter.

/// Grams with their values, and two bitmaps of their hashes (a Bloom filter with
/// two hash functions, one bitmap each).
pub(crate) struct GramSet {
    first: Vec<u64>,
    second: Vec<u64>,
    /// `64 - log2(bits per bitmap)`.
    shift: u32,
    /// Sorted by gram.
    entries: Vec<(u64, u32)>,
}

/// Odd multipliers for the two hashes (Fibonacci hashing and a second constant).
const MUL_A: u64 = 0x9E37_79B9_7F4A_7C15;
const MUL_B: u64 = 0xC2B2_AE3D_27D4_EB4F;

impl GramSet {
    /// Builds the set. Each bitmap has about 16 bits per entry, between 2^16 and
    /// 2^24 bits, so about one clean position in ten thousand reaches the exact
    /// lookup.
    pub(crate) fn new(mut entries: Vec<(u64, u32)>) -> Self {
        entries.sort_unstable();
        entries.dedup();
        let want = (entries.len().max(1) * 16).next_power_of_two();
        let log2 = want.trailing_zeros().clamp(16, 24);
        let words = (1usize << log2) / 64;
        let mut set = Self {
            first: vec![0; words],
            second: vec![0; words],
            shift: 64 - log2,
            entries,
        };
        for i in 0..set.entries.len() {
            let gram = set.entries[i].0;
            let (a, b) = (set.slot(gram, MUL_A), set.slot(gram, MUL_B));
            set.first[a >> 6] |= 1 << (a & 63);
            set.second[b >> 6] |= 1 << (b & 63);
        }
        set
    }

    #[inline(always)]
    fn slot(&self, gram: u64, mul: u64) -> usize {
        (gram.wrapping_mul(mul) >> self.shift) as usize
    }

    /// Whether `gram` may be in the set (false: certainly not).
    #[inline(always)]
    fn may_contain(&self, gram: u64) -> bool {
        let a = self.slot(gram, MUL_A);
        if self
            .first
            .get(a >> 6)
            .is_none_or(|w| w & (1 << (a & 63)) == 0)
        {
            return false;
        }
        let b = self.slot(gram, MUL_B);
        self.second
            .get(b >> 6)
            .is_some_and(|w| w & (1 << (b & 63)) != 0)
    }

    /// The values entered for `gram`.
    fn values(&self, gram: u64) -> impl Iterator<Item = u32> + '_ {
        let from = self.entries.partition_point(|e| e.0 < gram);
        self.entries[from..]
            .iter()
            .take_while(move |e| e.0 == gram)
            .map(|e| e.1)
    }

    #[inline(always)]
    fn visit(&self, gram: u64, at: usize, hit: &mut impl FnMut(usize, u32)) {
        if self.may_contain(gram) {
            for v in self.values(gram) {
                hit(at, v);
            }
        }
    }
}

/// Packs up to eight bytes, little-endian, into a gram.
pub(crate) fn pack(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | u64::from(b) << (8 * i))
}

/// Sets bit 5 of every byte: folds ASCII letters to lower case. Other bytes may
/// change too (`@` becomes a backtick): grams and text are folded the same way, so
/// this only merges a few grams, and every hit is verified.
const FOLD: u64 = 0x2020_2020_2020_2020;

/// The pattern-anchor prefilter: folded four-byte grams sampled at every second
/// position of the text.
///
/// An anchor's four bytes at offset `j` are sampled where `j` falls on an even
/// position, the four at `j + 1` where it falls on an odd one. So each anchor is
/// entered twice (see [`sampler_entries`]), and the text is read at half its
/// positions. A bitmap of 2^24 bits indexed by a hash of the gram (2 MiB of
/// address space, of which only the pages of grams that occur are ever touched)
/// answers for almost every sample without a lookup: four bytes rarely pass where
/// three would at every common word.
pub(crate) struct AnchorSampler {
    /// One bit per gram hash (2 MiB): set when a gram with that hash was entered.
    grams: Box<[u64; GRAM_WORDS]>,
    /// The entries of each bucket of grams (a multiplicative hash) are
    /// `slots[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    slots: Vec<Slot>,
    /// `32 - log2(buckets)`.
    shift: u32,
}

/// One literal entered under a gram: its value, where it starts relative to the
/// sample, and its first bytes (up to eight), compared before the hit is reported
/// (a gram hit in prose is often a word that shares four letters with a literal,
/// not eight: "support" for "suppose").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SampleEntry {
    pub(crate) value: u32,
    /// How many bytes before the sample the literal starts (-1: the byte after).
    back: i8,
    /// How many of its bytes `key` holds.
    len: u8,
    /// Its first `len` bytes, folded (see [`FOLD`]), little-endian.
    key: u64,
}

impl SampleEntry {
    fn new(value: u32, back: isize, literal: &[u8]) -> Self {
        let len = literal.len().min(8);
        Self {
            value,
            back: back as i8,
            len: len as u8,
            key: pack(&literal[..len]) | (FOLD & mask(len)),
        }
    }

    /// Whether the literal's first bytes are at `start` of `hay`.
    #[inline(always)]
    fn matches(&self, hay: &[u8], start: usize) -> bool {
        let len = usize::from(self.len);
        match hay.get(start..start + 8) {
            Some(&[a, b, c, d, e, f, g, h]) => {
                (u64::from_le_bytes([a, b, c, d, e, f, g, h]) | FOLD) & mask(len) == self.key
            }
            _ => hay
                .get(start..start + len)
                .is_some_and(|bytes| (pack(bytes) | (FOLD & mask(len))) == self.key),
        }
    }
}

/// The low `len` bytes of a word (`len` up to 8).
#[inline(always)]
fn mask(len: usize) -> u64 {
    if len == 0 {
        0
    } else {
        u64::MAX >> (64 - 8 * len.min(8))
    }
}

/// A [`SampleEntry`] under its gram, as the sampler stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    gram: u32,
    entry: SampleEntry,
}

/// Words of the gram bitmap: one bit for each of the 2^24 gram hashes.
const GRAM_WORDS: usize = (1 << 24) / 64;

/// Folds four bytes the way the sampler folds the text (see [`FOLD`]).
fn fold4(bytes: [u8; 4]) -> u32 {
    u32::from_le_bytes(bytes) | FOLD as u32
}

/// The bitmap index of a folded gram: the top 24 bits of a multiplicative hash.
#[inline(always)]
fn gram_bit(gram: u32) -> usize {
    (gram.wrapping_mul(MUL_A as u32) >> 8) as usize
}

impl AnchorSampler {
    /// Builds the sampler from [`fold4`] grams and their entries.
    pub(crate) fn new(entries: Vec<(u32, SampleEntry)>) -> Self {
        let mut grams: Box<[u64; GRAM_WORDS]> = vec![0u64; GRAM_WORDS]
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("the vector has GRAM_WORDS words"));
        let mut slots: Vec<Slot> = entries
            .into_iter()
            .map(|(gram, entry)| {
                let g = gram_bit(gram);
                grams[(g >> 6) % GRAM_WORDS] |= 1 << (g & 63);
                Slot { gram, entry }
            })
            .collect();
        // About two buckets per distinct gram.
        let mut distinct: Vec<u32> = slots.iter().map(|s| s.gram).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let log2 = (distinct.len() * 2)
            .next_power_of_two()
            .trailing_zeros()
            .max(1);
        let shift = 32 - log2;
        let bucket = |gram: u32| (gram.wrapping_mul(MUL_B as u32) >> shift) as usize;
        slots.sort_unstable_by_key(|s| (bucket(s.gram), *s));
        slots.dedup();
        let mut starts = vec![0u32; (1 << log2) + 1];
        for s in &slots {
            starts[bucket(s.gram) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        Self {
            grams,
            starts,
            slots,
            shift,
        }
    }

    #[inline(always)]
    fn visit(&self, hay: &[u8], gram: u32, at: usize, hit: &mut impl FnMut(usize, u32)) {
        let g = gram_bit(gram);
        if self.grams[(g >> 6) % GRAM_WORDS] & (1 << (g & 63)) == 0 {
            return;
        }
        self.lookup(hay, gram, at, hit);
    }

    /// The entries of a gram that passed the bitmap (out of line: rare).
    #[inline(never)]
    fn lookup(&self, hay: &[u8], gram: u32, at: usize, hit: &mut impl FnMut(usize, u32)) {
        let b = (gram.wrapping_mul(MUL_B as u32) >> self.shift) as usize;
        let (Some(&from), Some(&to)) = (self.starts.get(b), self.starts.get(b + 1)) else {
            return;
        };
        for s in self.slots.get(from as usize..to as usize).unwrap_or(&[]) {
            if s.gram == gram
                && let Some(start) = at.checked_add_signed(-isize::from(s.entry.back))
                && s.entry.matches(hay, start)
            {
                hit(start, s.entry.value);
            }
        }
    }

    /// Calls `hit(start, value)` for every literal whose gram was sampled and whose
    /// first bytes (up to eight) are at `start`.
    #[inline]
    pub(crate) fn hits(&self, hay: &[u8], mut hit: impl FnMut(usize, u32)) {
        // One eight-byte load yields the samples at three even positions.
        let mut i = 0;
        while let Some(&[a, b, c, d, e, f, g, h]) = hay.get(i..i + 8) {
            let word = u64::from_le_bytes([a, b, c, d, e, f, g, h]) | FOLD;
            for k in 0..3 {
                self.visit(hay, (word >> (16 * k)) as u32, i + 2 * k, &mut hit);
            }
            i += 6;
        }
        // The last even positions, with zero bytes after the end (folded to
        // spaces, which only "any byte" expansions match).
        let mut tail = [0u8; 12];
        let rest = hay.get(i..).unwrap_or(&[]);
        if let Some(head) = tail.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        for at in (0..rest.len()).step_by(2) {
            if let Some(&[a, b, c, d]) = tail.get(at..at + 4) {
                self.visit(hay, fold4([a, b, c, d]), i + at, &mut hit);
            }
        }
    }
}

/// The sampler's entries for `literals` (value: the literal's index). Each
/// literal is entered under the four-byte grams at two consecutive offsets `o`
/// and `o + 1`, so that one of them is sampled wherever the literal starts. A
/// gram's bytes before the literal are any byte, and its bytes after the literal
/// any byte for a literal of three bytes or more, or one of `two_byte_follow` for
/// a two-byte literal (the caller vouches that its matches continue with two of
/// those). Where a literal has a choice of offsets, it is entered at the grams
/// that expand to fewest byte strings and then hold fewest of the commonest
/// trigrams of English and code, which would pass the bitmap at almost every
/// word. Shorter literals are not supported.
pub(crate) fn sampler_entries<'a>(
    literals: impl IntoIterator<Item = &'a [u8]>,
    two_byte_follow: &[u8],
) -> Vec<(u32, SampleEntry)> {
    // Folded, the text has 128 distinct byte values.
    let any: Vec<u8> = (0..=255u8).filter(|b| b & 0x20 == 0x20).collect();
    let mut follow_folded: Vec<u8> = two_byte_follow.iter().map(|b| b | 0x20).collect();
    follow_folded.sort_unstable();
    follow_folded.dedup();
    let mut entries = Vec::new();
    for (index, literal) in literals.into_iter().enumerate() {
        let len = literal.len() as isize;
        let after: &[u8] = if len >= 3 { &any } else { &follow_folded };
        // The choices for each of the gram's four bytes at offset `o`.
        let choices = |o: isize| -> Vec<Vec<u8>> {
            (o..o + 4)
                .map(
                    |p| match usize::try_from(p).ok().and_then(|p| literal.get(p)) {
                        Some(&b) => vec![b | 0x20],
                        None if p < 0 => any.clone(),
                        None => after.to_vec(),
                    },
                )
                .collect()
        };
        let expansions = |o: isize| choices(o).iter().map(Vec::len).product::<usize>();
        let common = |o: isize| {
            (o..o + 2)
                .filter(|&p| {
                    usize::try_from(p)
                        .ok()
                        .and_then(|p| literal.get(p..p + 3))
                        .is_some_and(|g| COMMON_TRIGRAMS.iter().any(|c| c.eq_ignore_ascii_case(g)))
                })
                .count()
        };
        let first = (-1..=(len - 4).max(-1))
            .min_by_key(|&o| (expansions(o) + expansions(o + 1), common(o) + common(o + 1)))
            .unwrap_or(0);
        for back in [first, first + 1] {
            let entry = SampleEntry::new(index as u32, back, literal);
            let mut grams: Vec<[u8; 4]> = vec![[0; 4]];
            for (k, options) in choices(back).into_iter().enumerate() {
                grams = grams
                    .iter()
                    .flat_map(|g| {
                        options.iter().map(move |&b| {
                            let mut g = *g;
                            g[k] = b;
                            g
                        })
                    })
                    .collect();
            }
            entries.extend(grams.into_iter().map(|g| (fold4(g), entry)));
        }
    }
    entries
}

/// Trigrams common in English prose and in code, lower case: literals are not
/// sampled there when they have a choice.
const COMMON_TRIGRAMS: &[&[u8; 3]] = &[
    b"the", b"and", b"ing", b"ion", b"tio", b"ent", b"ati", b"for", b"her", b"ter", b"hat", b"tha",
    b"ere", b"ate", b"his", b"con", b"res", b"ver", b"all", b"ons", b"nce", b"men", b"ith", b"ted",
    b"ers", b"pro", b"thi", b"wit", b"are", b"ess", b"not", b"ive", b"was", b"ect", b"rea", b"com",
    b"eve", b"per", b"int", b"est", b"sta", b"cti", b"ica", b"ist", b"ear", b"ain", b"one", b"our",
    b"iti", b"rat", b"you", b"str", b"ret", b"tur", b"urn", b"der", b"ser", b"use", b"ort", b"ame",
    b"val", b"lue", b"ult", b"out", b"ine", b"rom", b"fro", b"ove", b"igh", b"ght", b"ill", b"ble",
    b"ran",
];

/// Calls `hit(position, value)` for every sampled position (multiples of `step`)
/// whose `q` bytes are in `set`. `q` is 4 or 8.
#[inline]
pub(crate) fn sampled_hits(
    set: &GramSet,
    hay: &[u8],
    q: usize,
    step: usize,
    mut hit: impl FnMut(usize, u32),
) {
    let step = step.max(1);
    let mut i = 0;
    while i + q <= hay.len() {
        let gram = match (q, hay.get(i..i + 8)) {
            (8, Some(&[a, b, c, d, e, f, g, h])) => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => pack(&hay[i..i + q]),
        };
        set.visit(gram, i, &mut hit);
        i += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_samples_see_every_start() {
        let sampler = AnchorSampler::new(sampler_entries([&b"akia"[..], b"dan"], b""));
        for literal in ["AkIa", "dAn"] {
            for lead in 0..9 {
                for trail in ["", " ", "  "] {
                    let hay = format!("{}{literal}{trail}", " ".repeat(lead));
                    let mut starts = Vec::new();
                    sampler.hits(hay.as_bytes(), |start, _| {
                        if hay.as_bytes()[start..].len() >= literal.len()
                            && hay[start..start + literal.len()].eq_ignore_ascii_case(literal)
                        {
                            starts.push(start);
                        }
                    });
                    starts.dedup();
                    assert_eq!(starts, vec![lead], "{hay:?}");
                }
            }
        }
    }

    /// Random sets of literals (three to ten bytes of letters, digits, the bytes
    /// that fold onto others, and non-ASCII bytes) in random text, in either case:
    /// the sampler reports every place a literal starts.
    #[test]
    fn random_literals_are_found_wherever_they_start() {
        use std::collections::BTreeSet;
        let alphabet: &[u8] = b"aAbzZ09_@`~ -.\x7f\xc3\xa9\xe5";
        let mut below = crate::test_rng(5);
        for round in 0..2_000 {
            let literals: Vec<Vec<u8>> = (0..1 + below(6))
                .map(|_| {
                    (0..3 + below(8))
                        .map(|_| alphabet[below(alphabet.len())])
                        .collect()
                })
                .collect();
            let sampler =
                AnchorSampler::new(sampler_entries(literals.iter().map(Vec::as_slice), b""));
            let mut text = Vec::new();
            for _ in 0..below(10) {
                for _ in 0..below(5) {
                    text.push(alphabet[below(alphabet.len())]);
                }
                let literal = &literals[below(literals.len())];
                text.extend(literal.iter().map(|&b| match below(2) {
                    0 => b.to_ascii_uppercase(),
                    _ => b,
                }));
            }
            let at = |start: usize, v: usize| {
                text.get(start..start + literals[v].len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(&literals[v]))
            };
            let want: BTreeSet<(usize, usize)> = (0..text.len())
                .flat_map(|start| (0..literals.len()).map(move |v| (start, v)))
                .filter(|&(start, v)| at(start, v))
                .collect();
            let mut got = BTreeSet::new();
            sampler.hits(&text, |start, v| {
                if at(start, v as usize) {
                    got.insert((start, v as usize));
                }
            });
            assert_eq!(got, want, "round {round}: {literals:?} in {text:?}");
        }
    }

    #[test]
    fn sampling_covers_every_alignment() {
        let secret = b"0123456789abcdef";
        let (q, step) = (8, secret.len() - 8 + 1);
        let entries = (0..step)
            .map(|o| (pack(&secret[o..o + q]), o as u32))
            .collect();
        let set = GramSet::new(entries);
        for lead in 0..40 {
            let mut hay = vec![b'.'; lead];
            hay.extend_from_slice(secret);
            hay.extend_from_slice(b"...");
            let mut starts = Vec::new();
            sampled_hits(&set, &hay, q, step, |p, o| starts.push(p - o as usize));
            assert!(starts.contains(&lead), "lead {lead}: {starts:?}");
        }
    }
}
