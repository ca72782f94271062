//! Sampled n-gram prefilters: the scanners' first pass over the text.
//!
//! Neither scanner looks at every byte of clean text. Both read short grams at
//! sampled positions and test them against a bitmap; only the rare samples that
//! pass are looked up exactly, and every hit is verified against the whole literal.
//!
//! - [`AnchorSampler`]: pattern anchors (leak detector) and rule triggers
//!   (injection scanner), matched ASCII-case-insensitively. Three folded bytes are
//!   read at every second position; each literal is entered at two consecutive
//!   offsets, so it is seen wherever it starts. The bitmap has one bit for each
//!   possible three-byte value: one shift, one load and one bit test per sample.
//!   A sample that passes is looked up, and its literal's first eight bytes are
//!   compared in one folded word before the hit is reported.
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

/// The pattern-anchor prefilter: folded three-byte grams sampled at every second
/// position of the text.
///
/// An anchor's three bytes at offset `j` are sampled where `j` falls on an even
/// position, the three at `j + 1` where it falls on an odd one. So each anchor is
/// entered twice (see [`sampler_entries`]), and the text is read at half its
/// positions. The bitmap of all 2^24 gram values
/// (2 MiB of address space, of which only the pages of grams that occur are ever
/// touched) answers for almost every sample without a lookup.
pub(crate) struct AnchorSampler {
    /// One bit per possible three-byte gram (2 MiB): set when the gram was entered.
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
/// (most gram hits in prose share three letters with a literal, not more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SampleEntry {
    pub(crate) value: u32,
    /// How many bytes before the sample the literal starts.
    back: u8,
    /// How many of its bytes `key` holds.
    len: u8,
    /// Its first `len` bytes, folded (see [`FOLD`]), little-endian.
    key: u64,
}

impl SampleEntry {
    fn new(value: u32, back: usize, literal: &[u8]) -> Self {
        let len = literal.len().min(8);
        Self {
            value,
            back: back as u8,
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

/// Words of the gram bitmap: one bit for each of the 2^24 three-byte values.
const GRAM_WORDS: usize = (1 << 24) / 64;
/// The low three bytes of a packed gram.
const GRAM3: u64 = 0xFF_FFFF;

/// Folds three bytes the way the sampler folds the text (see [`FOLD`]).
pub(crate) fn fold3(bytes: [u8; 3]) -> u32 {
    (u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]) | 0x20_2020) & GRAM3 as u32
}

impl AnchorSampler {
    /// Builds the sampler from [`fold3`] grams and their entries.
    pub(crate) fn new(entries: Vec<(u32, SampleEntry)>) -> Self {
        let mut grams: Box<[u64; GRAM_WORDS]> = vec![0u64; GRAM_WORDS]
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("the vector has GRAM_WORDS words"));
        let mut slots: Vec<Slot> = entries
            .into_iter()
            .map(|(gram, entry)| {
                let g = gram as usize;
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
        let bucket = |gram: u32| (gram.wrapping_mul(MUL_A as u32) >> shift) as usize;
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
        let g = gram as usize;
        if self.grams[(g >> 6) % GRAM_WORDS] & (1 << (g & 63)) == 0 {
            return;
        }
        self.lookup(hay, gram, at, hit);
    }

    /// The entries of a gram that passed the bitmap (out of line: rare).
    #[inline(never)]
    fn lookup(&self, hay: &[u8], gram: u32, at: usize, hit: &mut impl FnMut(usize, u32)) {
        let b = (gram.wrapping_mul(MUL_A as u32) >> self.shift) as usize;
        let (Some(&from), Some(&to)) = (self.starts.get(b), self.starts.get(b + 1)) else {
            return;
        };
        for s in self.slots.get(from as usize..to as usize).unwrap_or(&[]) {
            if s.gram == gram
                && let Some(start) = at.checked_sub(usize::from(s.entry.back))
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
                self.visit(
                    hay,
                    ((word >> (16 * k)) & GRAM3) as u32,
                    i + 2 * k,
                    &mut hit,
                );
            }
            i += 6;
        }
        while let Some(&[a, b, c]) = hay.get(i..i + 3) {
            self.visit(hay, fold3([a, b, c]), i, &mut hit);
            i += 2;
        }
        // A three-byte literal in the last three bytes, at an odd position, has no
        // byte after it for the offset-1 gram: sample that position too.
        let last = hay.len().wrapping_sub(3);
        if hay.len() >= 3
            && last % 2 == 1
            && let Some(&[a, b, c]) = hay.get(last..)
        {
            self.visit(hay, fold3([a, b, c]), last, &mut hit);
        }
    }
}

/// The sampler's entries for `literals` (value: the literal's index). Each
/// literal of four bytes or more is entered under two grams at consecutive
/// offsets `j` and `j + 1`, so that one of them is sampled wherever the literal
/// starts; `j` is chosen to avoid the most common trigrams of English and code,
/// which would pass the bitmap at almost every word. A three-byte literal is
/// entered at offsets 0 and 1, and the gram at offset 1 takes any byte after it;
/// a two-byte literal takes the bytes of `two_byte_follow` after it (the caller
/// vouches that its matches continue with one of those). Shorter literals are not
/// supported.
pub(crate) fn sampler_entries<'a>(
    literals: impl IntoIterator<Item = &'a [u8]>,
    two_byte_follow: &[u8],
) -> Vec<(u32, SampleEntry)> {
    let all: Vec<u8> = (0..=255).collect();
    let mut entries = Vec::new();
    for (index, literal) in literals.into_iter().enumerate() {
        let follow: &[u8] = if literal.len() >= 3 {
            &all
        } else {
            two_byte_follow
        };
        let common = |at: usize| {
            literal
                .get(at..at + 3)
                .is_some_and(|g| COMMON_TRIGRAMS.iter().any(|c| c.eq_ignore_ascii_case(g)))
        };
        let first = (0..literal.len().saturating_sub(3))
            .min_by_key(|&j| usize::from(common(j)) + usize::from(common(j + 1)))
            .unwrap_or(0);
        for back in [first, first + 1] {
            let mut grams: Vec<Vec<u8>> =
                vec![literal.iter().skip(back).take(3).copied().collect()];
            while grams[0].len() < 3 {
                grams = grams
                    .iter()
                    .flat_map(|g| {
                        follow.iter().map(move |&b| {
                            let mut g = g.clone();
                            g.push(b);
                            g
                        })
                    })
                    .collect();
            }
            let entry = SampleEntry::new(index as u32, back, literal);
            for g in grams {
                entries.push((fold3([g[0], g[1], g[2]]), entry));
            }
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
