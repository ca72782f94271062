//! How far a rule's match can reach around one word of it: the bound that sizes
//! the window a trigger hit has to search.
//!
//! A rule's longest match bounds its window on both sides of a trigger hit. Most
//! triggers sit at one end of what their rule matches, though: `policy` ends
//! "without any content policy", `post` starts "post the results to http://".
//! Walking the rule's Thompson NFA (acyclic once repetitions are capped) gives,
//! for every state, the most bytes a match can have consumed on reaching it and
//! the most it can still consume after it. Running the word through the NFA from
//! every state finds every place the word can occur inside a match; the largest
//! "before" at its start and "after" at its end bound every match that contains
//! it.

use regex_automata::nfa::thompson::{self, NFA, State, WhichCaptures};
use regex_automata::util::look::Look;
use regex_automata::util::primitives::StateID;
use regex_syntax::hir::Hir;

/// A rule's NFA with, per state, the longest way in and the longest way out.
pub(crate) struct RuleGraph {
    graph: Graph,
    /// Per state: the most bytes a match can have consumed on reaching it.
    prefix: Vec<Option<usize>>,
    /// Per state: the most bytes a match can still consume after it.
    suffix: Vec<Option<usize>>,
    /// The anchored start state.
    start: usize,
}

impl RuleGraph {
    /// `None` when no bound is known: the rule's matches are unbounded or the NFA
    /// could not be built.
    pub(crate) fn new(hir: &Hir) -> Option<Self> {
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .which_captures(WhichCaptures::None)
                    .shrink(false),
            )
            .build_from_hir(hir)
            .ok()?;
        let graph = Graph::new(&nfa);
        let start = nfa.start_anchored().as_usize();
        let order = graph.topological(start)?;
        let suffix = graph.longest_to_match(&order);
        let prefix = graph.longest_from_start(&order);
        Some(Self {
            graph,
            prefix,
            suffix,
            start,
        })
    }

    /// Where `word` (ASCII letters in either case) can occur inside a match, and
    /// what may follow it there; `None` when it never occurs inside a match.
    pub(crate) fn word(&self, word: &[u8]) -> Option<WordFacts> {
        let occurrences = self.occurrences(word);
        let (before, after) = self.bounds(&occurrences)?;
        let (at_end, follow) = self.follow(word, &occurrences);
        Some(WordFacts {
            before,
            after,
            at_end,
            follow,
        })
    }

    /// The most bytes a match can have before the word and after it.
    fn bounds(&self, occurrences: &[(usize, Vec<usize>)]) -> Option<(usize, usize)> {
        let mut marks = Marks::new(self.graph.succ.len());
        let mut bounds: Option<(usize, usize)> = None;
        for (before, ends) in occurrences {
            let here = self.graph.closure(ends.clone(), &mut marks);
            if let Some(after) = here.iter().filter_map(|&s| self.suffix[s]).max() {
                let (b, a) = bounds.unwrap_or((0, 0));
                bounds = Some((b.max(*before), a.max(after)));
            }
        }
        bounds
    }

    /// What may come right after the word inside a match: whether the text may
    /// end there, and which bytes may follow (bit `b` of the set), whether the
    /// match goes on with them or ends before them. A word boundary right after a
    /// word that ends in a word character admits only non-word bytes, a
    /// non-boundary only word bytes.
    fn follow(&self, word: &[u8], occurrences: &[(usize, Vec<usize>)]) -> (bool, [u64; 4]) {
        let graph = &self.graph;
        let last_is_word = word.last().is_some_and(|&b| is_word_byte(b));
        let mut at_end = false;
        let mut set = [0u64; 4];
        // Per state, the `Next` conditions it has been reached with (one bit each):
        // the answer is a union, so each pair is explored once for all occurrences.
        let mut seen = vec![0u8; graph.succ.len()];
        for (_, ends) in occurrences {
            // (state, allowed next bytes) over epsilon edges.
            let mut stack: Vec<(usize, Next)> = ends.iter().map(|&s| (s, Next::Any)).collect();
            while let Some((q, next)) = stack.pop() {
                let bit = 1 << next as u8;
                if seen[q] & bit != 0 || self.suffix[q].is_none() {
                    continue;
                }
                seen[q] |= bit;
                // A match ending here admits any next byte the look-arounds do.
                let ranges: &[(u8, u8, usize)] = if graph.is_match[q] {
                    at_end |= next != Next::Word;
                    &[(0, 255, 0)]
                } else {
                    &graph.bytes[q]
                };
                for &(lo, hi, to) in ranges {
                    if !graph.is_match[q] && self.suffix[to].is_none() {
                        continue;
                    }
                    for b in lo..=hi {
                        if next.admits(b) {
                            set[usize::from(b >> 6)] |= 1 << (b & 63);
                        }
                    }
                }
                let narrowed = match graph.look[q] {
                    Some(Look::WordAscii) if last_is_word => next.and(Next::NonWord),
                    Some(Look::WordAsciiNegate) if last_is_word => next.and(Next::Word),
                    _ => Some(next),
                };
                if let Some(narrowed) = narrowed {
                    stack.extend(graph.eps[q].iter().map(|&s| (s, narrowed)));
                }
            }
        }
        (at_end, set)
    }

    /// Every place `word` can occur inside a match: the most bytes before it, and
    /// the states right after its last byte (before any epsilon edge).
    fn occurrences(&self, word: &[u8]) -> Vec<(usize, Vec<usize>)> {
        let graph = &self.graph;
        let mut marks = Marks::new(graph.succ.len());
        let mut out = Vec::new();
        for start in 0..graph.succ.len() {
            let Some(before) = self.prefix[start] else {
                continue;
            };
            // Only states that consume a byte can start the word.
            if graph.bytes[start].is_empty() {
                continue;
            }
            let mut here = vec![start];
            for (i, &b) in word.iter().enumerate() {
                let next: Vec<usize> = here.iter().flat_map(|&s| graph.step(s, b)).collect();
                if i + 1 == word.len() {
                    if !next.is_empty() {
                        out.push((before, next));
                    }
                    break;
                }
                here = graph.closure(next, &mut marks);
                if here.is_empty() {
                    break;
                }
            }
        }
        out
    }
}

impl RuleGraph {
    /// Whether every match starts with one of `words` (ASCII letters in either
    /// case). Then every match starts where one of them occurs, and a search
    /// anchored at each occurrence finds them all. Explores the strings a match
    /// can start with, as far as they can still become one of the words.
    pub(crate) fn starts_with_words(&self, words: &[&[u8]]) -> bool {
        let graph = &self.graph;
        let mut marks = Marks::new(graph.succ.len());
        let start = self.start;
        let mut frontier = vec![(Vec::new(), graph.closure(vec![start], &mut marks))];
        while let Some((prefix, states)) = frontier.pop() {
            // Only states from which a match can still be reached matter.
            let live: Vec<usize> = states
                .into_iter()
                .filter(|&s| self.suffix[s].is_some())
                .collect();
            if live.is_empty() || words.iter().any(|w| w.eq_ignore_ascii_case(&prefix)) {
                continue;
            }
            if live.iter().any(|&s| graph.is_match[s]) {
                return false;
            }
            // The bytes that keep the prefix on the way to some word.
            let mut next_bytes: Vec<u8> = words
                .iter()
                .filter(|w| {
                    w.len() > prefix.len() && w[..prefix.len()].eq_ignore_ascii_case(&prefix)
                })
                .flat_map(|w| {
                    let c = w[prefix.len()];
                    [c.to_ascii_lowercase(), c.to_ascii_uppercase()]
                })
                .collect();
            next_bytes.sort_unstable();
            next_bytes.dedup();
            for &s in &live {
                for &(lo, hi, next) in &graph.bytes[s] {
                    let strays = (lo..=hi).any(|b| next_bytes.binary_search(&b).is_err());
                    if strays && self.suffix[next].is_some() {
                        return false;
                    }
                }
            }
            for b in next_bytes {
                let next: Vec<usize> = live
                    .iter()
                    .flat_map(|&s| graph.bytes[s].iter())
                    .filter(|&&(lo, hi, _)| (lo..=hi).contains(&b))
                    .map(|&(_, _, next)| next)
                    .collect();
                let mut longer = prefix.clone();
                longer.push(b);
                frontier.push((longer, graph.closure(next, &mut marks)));
            }
        }
        true
    }
}

/// Where a word can occur inside a rule's matches (see [`RuleGraph::word`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WordFacts {
    /// The most bytes a match holds before the word.
    pub(crate) before: usize,
    /// The most bytes a match holds after it.
    pub(crate) after: usize,
    /// Whether a match may contain it at the end of the text.
    at_end: bool,
    /// The bytes that may follow it in a match (bit `b`).
    follow: [u64; 4],
}

impl WordFacts {
    /// Whether a match may contain the word where `next` follows it (`None`: the
    /// end of the text).
    pub(crate) fn admits(&self, next: Option<u8>) -> bool {
        match next {
            None => self.at_end,
            Some(b) => self.follow[usize::from(b >> 6)] >> (b & 63) & 1 == 1,
        }
    }
}

/// Which bytes may come next, after the look-arounds passed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Next {
    Any,
    Word,
    NonWord,
}

impl Next {
    fn admits(self, b: u8) -> bool {
        match self {
            Next::Any => true,
            Next::Word => is_word_byte(b),
            Next::NonWord => !is_word_byte(b),
        }
    }

    /// Both conditions; `None` when no byte meets them.
    fn and(self, other: Next) -> Option<Next> {
        match (self, other) {
            (Next::Any, x) | (x, Next::Any) => Some(x),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }
}

/// An ASCII word byte, as `(?-u:\b)` sees it.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Visited marks for one closure after another, without clearing between them.
struct Marks {
    stamp: u32,
    seen: Vec<u32>,
}

impl Marks {
    fn new(n: usize) -> Self {
        Self {
            stamp: 0,
            seen: vec![0; n],
        }
    }
}

/// The NFA as successor lists: byte transitions (ranges) and epsilon edges.
struct Graph {
    /// Per state: `(lo, hi, next)` byte transitions.
    bytes: Vec<Vec<(u8, u8, usize)>>,
    /// Per state: epsilon successors (look-arounds count as epsilon: over-
    /// approximating the paths only loosens the bounds).
    eps: Vec<Vec<usize>>,
    /// Per state: all successors with the bytes each edge consumes.
    succ: Vec<Vec<(usize, usize)>>,
    is_match: Vec<bool>,
    /// Per state: the look-around it asserts, if it is a look-around.
    look: Vec<Option<Look>>,
}

impl Graph {
    fn new(nfa: &NFA) -> Self {
        let n = nfa.states().len();
        let mut graph = Self {
            bytes: vec![Vec::new(); n],
            eps: vec![Vec::new(); n],
            succ: vec![Vec::new(); n],
            is_match: vec![false; n],
            look: vec![None; n],
        };
        let id = |s: StateID| s.as_usize();
        for (q, state) in nfa.states().iter().enumerate() {
            match state {
                State::ByteRange { trans } => {
                    graph.bytes[q].push((trans.start, trans.end, id(trans.next)))
                }
                State::Sparse(sparse) => {
                    for t in sparse.transitions.iter() {
                        graph.bytes[q].push((t.start, t.end, id(t.next)));
                    }
                }
                State::Dense(dense) => {
                    for (b, &next) in dense.transitions.iter().enumerate() {
                        if next != StateID::ZERO {
                            let b = b as u8;
                            graph.bytes[q].push((b, b, id(next)));
                        }
                    }
                }
                State::Look { look, next } => {
                    graph.look[q] = Some(*look);
                    graph.eps[q].push(id(*next))
                }
                State::Capture { next, .. } => graph.eps[q].push(id(*next)),
                State::Union { alternates } => {
                    graph.eps[q].extend(alternates.iter().map(|&s| id(s)))
                }
                State::BinaryUnion { alt1, alt2 } => graph.eps[q].extend([id(*alt1), id(*alt2)]),
                State::Fail => {}
                State::Match { .. } => graph.is_match[q] = true,
            }
            let mut succ: Vec<(usize, usize)> =
                graph.bytes[q].iter().map(|&(_, _, s)| (s, 1)).collect();
            succ.extend(graph.eps[q].iter().map(|&s| (s, 0)));
            succ.sort_unstable();
            succ.dedup();
            graph.succ[q] = succ;
        }
        graph
    }

    /// States reachable from `from` over epsilon edges, `from` included.
    fn closure(&self, mut from: Vec<usize>, marks: &mut Marks) -> Vec<usize> {
        marks.stamp += 1;
        let mut out = Vec::new();
        while let Some(s) = from.pop() {
            if std::mem::replace(&mut marks.seen[s], marks.stamp) == marks.stamp {
                continue;
            }
            out.push(s);
            from.extend(self.eps[s].iter().copied());
        }
        out
    }

    /// Where `s` goes on byte `b`, either case for an ASCII letter.
    fn step(&self, s: usize, b: u8) -> impl Iterator<Item = usize> + '_ {
        let (lower, upper) = (b.to_ascii_lowercase(), b.to_ascii_uppercase());
        self.bytes[s]
            .iter()
            .filter(move |&&(lo, hi, _)| (lo..=hi).contains(&lower) || (lo..=hi).contains(&upper))
            .map(|&(_, _, next)| next)
    }

    /// Per state of `order`, the most bytes a path from it to a match state
    /// consumes (`None` when no match is reachable, or the state is not in
    /// `order`).
    fn longest_to_match(&self, order: &[usize]) -> Vec<Option<usize>> {
        let mut longest: Vec<Option<usize>> = vec![None; self.succ.len()];
        // Successors come later in `order`: walk it backwards.
        for &q in order.iter().rev() {
            let mut best = self.is_match[q].then_some(0);
            for &(s, w) in &self.succ[q] {
                if let Some(l) = longest[s] {
                    best = Some(best.map_or(l + w, |b: usize| b.max(l + w)));
                }
            }
            longest[q] = best;
        }
        longest
    }

    /// Per state, the most bytes a path from the first state of `order` to it
    /// consumes (`None` when not in `order`).
    fn longest_from_start(&self, order: &[usize]) -> Vec<Option<usize>> {
        let mut longest: Vec<Option<usize>> = vec![None; self.succ.len()];
        if let Some(&start) = order.first() {
            longest[start] = Some(0);
        }
        for &q in order {
            let Some(l) = longest[q] else { continue };
            for &(s, w) in &self.succ[q] {
                longest[s] = Some(longest[s].map_or(l + w, |b| b.max(l + w)));
            }
        }
        longest
    }

    /// The states reachable from `start`, `start` first, in an order where each
    /// edge goes forwards; `None` on a cycle. (The NFA's unanchored prefix, a
    /// loop, is not reachable from the anchored start.)
    fn topological(&self, start: usize) -> Option<Vec<usize>> {
        let n = self.succ.len();
        let mut reachable = vec![false; n];
        let mut stack = vec![start];
        while let Some(q) = stack.pop() {
            if !std::mem::replace(&mut reachable[q], true) {
                stack.extend(self.succ[q].iter().map(|&(s, _)| s));
            }
        }
        let mut indegree = vec![0usize; n];
        for q in (0..n).filter(|&q| reachable[q]) {
            for &(s, _) in &self.succ[q] {
                indegree[s] += 1;
            }
        }
        // An edge back into the start is a cycle.
        if indegree[start] != 0 {
            return None;
        }
        let mut ready = vec![start];
        let mut order = Vec::new();
        while let Some(q) = ready.pop() {
            order.push(q);
            for &(s, _) in &self.succ[q] {
                indegree[s] -= 1;
                if indegree[s] == 0 {
                    ready.push(s);
                }
            }
        }
        let count = reachable.iter().filter(|&&r| r).count();
        (order.len() == count).then_some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word_bounds(pattern: &str, word: &[u8]) -> Option<(usize, usize)> {
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        RuleGraph::new(&hir)?
            .word(word)
            .map(|facts| (facts.before, facts.after))
    }

    #[test]
    fn bounds_follow_the_word_position() {
        // At the end: everything before it, the longest tail after it (`s` also
        // matches the two-byte long s, U+017F).
        assert_eq!(
            word_bounds(
                r"(?i)\b(no|without) (content |safety )?polic(y|ies)",
                b"polic"
            ),
            Some((7 + 1 + 8, 2 + 2))
        );
        // At the start.
        assert_eq!(
            word_bounds(r"(?i)post (it|them) to https?://", b"post"),
            Some((0, 1 + 4 + 1 + 2 + 1 + 9))
        );
        // Twice, at different places: the largest of each side.
        assert_eq!(word_bounds(r"(?i)mode on|god mode", b"mode"), Some((4, 3)));
        // Inside a run of a class: anywhere in it.
        assert_eq!(word_bounds(r"[a-z]{0,10}:", b"abc"), Some((7, 8)));
        // Either case.
        assert_eq!(word_bounds(r"xSYSTEMy", b"system"), Some((1, 1)));
        // Never inside a match, or unbounded: no bound.
        assert_eq!(word_bounds(r"ignore previous", b"forget"), None);
        assert_eq!(word_bounds(r"a+mode", b"mode"), None);
    }

    fn follow(pattern: &str, word: &str) -> (bool, Vec<u8>) {
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        let facts = RuleGraph::new(&hir).unwrap().word(word.as_bytes()).unwrap();
        let bytes = (0..=255u8).filter(|&b| facts.admits(Some(b))).collect();
        (facts.admits(None), bytes)
    }

    #[test]
    fn what_may_follow_a_word() {
        let all: Vec<u8> = (0..=255).collect();
        let non_word: Vec<u8> = all.iter().copied().filter(|&b| !is_word_byte(b)).collect();
        let word: Vec<u8> = all.iter().copied().filter(|&b| is_word_byte(b)).collect();
        // Goes on with a space and more words: only the space.
        assert_eq!(
            follow(r"(?i-u)\b(admin|god) mode (enabled|on)", "mode"),
            (false, vec![b' '])
        );
        // Either case, and a gap that may be empty.
        assert_eq!(
            follow(r"(?i-u)mode[ .]{0,2}on", "MODE"),
            (false, vec![b' ', b'.', b'O', b'o'])
        );
        // Ends after a word boundary: any non-word byte, or the end of the text.
        assert_eq!(follow(r"(?i-u)god mode\b", "mode"), (true, non_word));
        // Ends with no boundary: anything.
        assert_eq!(follow(r"(?i-u)god mode", "mode"), (true, all));
        // A non-boundary: only word bytes, never the end of the text.
        assert_eq!(follow(r"(?i-u)mode\B", "mode"), (false, word));
        // A word that never occurs in a match.
        let hir = regex_syntax::Parser::new().parse("god mode").unwrap();
        assert_eq!(RuleGraph::new(&hir).unwrap().word(b"dan"), None);
    }

    fn starts_with(pattern: &str, words: &[&str]) -> bool {
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        RuleGraph::new(&hir).unwrap().starts_with_words(&words)
    }

    #[test]
    fn rules_that_start_with_a_word() {
        // (Unicode case folding would let `s` start a match as the long s,
        // U+017F: the scanner asks this of the ASCII form of a rule only.)
        assert!(!starts_with(r"(?i)\bsend", &["send"]));
        assert!(starts_with(
            r"(?i-u)\b(send|post) (it|them)",
            &["send", "post"]
        ));
        // A stem: the match goes on past the word.
        assert!(starts_with(
            r"(?i-u)\bignor(e|ing) (all )?previous",
            &["ignor"]
        ));
        assert!(starts_with(
            r"(?i-u)(?m)^(forget|ignore)",
            &["forget", "ignor"]
        ));
        // A branch without a word, a word only later, an optional word, a
        // hyphenated spelling, an empty match: no.
        assert!(!starts_with(
            r"(?i-u)\b(send|post|upload) it",
            &["send", "post"]
        ));
        assert!(!starts_with(r"(?i-u)\bno (content )?policy", &["polic"]));
        assert!(!starts_with(r"(?i-u)(please )?send it", &["send"]));
        assert!(!starts_with(r"(?i-u)e-?mail it", &["email"]));
        assert!(starts_with(r"(?i-u)e-?mail it", &["email", "e-mail"]));
        assert!(!starts_with(r"(?i-u)(send)?", &["send"]));
        // A match may stop inside the word.
        assert!(!starts_with(r"(?i-u)sen|send", &["send"]));
    }
}
