//! Topic names, topic filters, their size limits, and the level tries that index
//! subscriptions and retained messages.
//!
//! We deliberately do not use `rumqttc::mqttbytes::matches`: it slices the
//! topic at byte 1 to look for `$`, which panics on a topic whose first
//! character is multi-byte UTF-8, and topics come straight off the wire.
//! Everything here works on whole `/`-separated levels and never indexes
//! into strings.
//!
//! No function here recurses once per level: a client chooses how many levels its topics
//! have, and a thread's stack is not a budget it may spend (a 10,000-level filter once
//! overflowed it). Walks keep their own stack on the heap, and [`TopicLimits`] bounds the
//! depth of everything stored, which also bounds the (recursive) drop of a trie.

use rumqttc::mqttbytes::v4::Publish;
use rumqttc::mqttbytes::QoS;
use std::collections::HashMap;

/// Returns true if `topic` is a valid topic *name* (what a PUBLISH carries):
/// non-empty, no wildcards, no NUL.
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// Returns true if `filter` is a valid topic *filter* (what a SUBSCRIBE
/// carries): non-empty, no NUL, `+` only as a whole level, `#` only as the
/// whole last level.
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        if level.contains('#') && (level != "#" || !last) {
            return false;
        }
        if level.contains('+') && level != "+" {
            return false;
        }
    }
    true
}

/// How large a topic name or filter the broker takes from a client.
///
/// # Units
/// `levels` counts `/`-separated levels (`a/b` has 2); `bytes` is the UTF-8 length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicLimits {
    /// Most levels.
    pub levels: usize,
    /// Most bytes.
    pub bytes: usize,
}

impl TopicLimits {
    /// True if `topic` (a name or a filter) is within both limits.
    pub fn allows(&self, topic: &str) -> bool {
        topic.len() <= self.bytes && topic.split('/').nth(self.levels).is_none()
    }
}

/// Returns true if topic name `topic` matches topic filter `filter`.
///
/// Follows MQTT 3.1.1 §4.7.2: topics starting with `$` are not matched by a
/// filter whose first level is a wildcard. `a/#` also matches `a`.
pub fn topic_matches(topic: &str, filter: &str) -> bool {
    let mut t = topic.split('/');
    let mut f = filter.split('/');
    let mut first = true;
    loop {
        match (f.next(), t.next()) {
            (Some("#"), tl) => {
                return !(first && tl.is_some_and(|l| l.starts_with('$')));
            }
            (Some("+"), Some(tl)) => {
                if first && tl.starts_with('$') {
                    return false;
                }
            }
            (Some(fl), Some(tl)) => {
                if fl != tl {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
        first = false;
    }
}

/// The smaller of two QoS levels (QoS is only `PartialOrd` upstream).
pub fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) {
        a
    } else {
        b
    }
}

/// The larger of two QoS levels.
pub fn max_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) >= (b as u8) {
        a
    } else {
        b
    }
}

/// What a trie node holds, and whether it holds nothing (so the node can be pruned).
pub(crate) trait NodeValue: Default {
    /// True when the node may be removed once it also has no children.
    fn is_empty(&self) -> bool;
}

impl<K, V> NodeValue for HashMap<K, V> {
    fn is_empty(&self) -> bool {
        HashMap::is_empty(self)
    }
}

impl<T> NodeValue for Option<T> {
    fn is_empty(&self) -> bool {
        self.is_none()
    }
}

/// A tree keyed by topic level (`+` and `#` are ordinary keys here), with a value at every
/// node. Shared by the subscription index and the retained-message store.
#[derive(Debug, Default)]
pub(crate) struct Levels<T> {
    /// Child nodes by level text.
    children: HashMap<String, Levels<T>>,
    /// What ends exactly at this node.
    value: T,
}

impl<T: NodeValue> Levels<T> {
    /// The value at `path`, creating the nodes on the way.
    fn entry(&mut self, path: &str) -> &mut T {
        let mut node = self;
        for level in path.split('/') {
            node = node.children.entry(level.to_owned()).or_default();
        }
        &mut node.value
    }

    /// The value at `path`, if the node exists.
    fn get(&self, path: &str) -> Option<&T> {
        let mut node = self;
        for level in path.split('/') {
            node = node.children.get(level)?;
        }
        Some(&node.value)
    }

    /// Changes the value at `path` (if the node exists) with `f`, then removes the nodes
    /// on that path that were left with no value and no children.
    fn update_and_prune<R>(&mut self, path: &str, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let levels: Vec<&str> = path.split('/').collect();
        let result = {
            let mut node = &mut *self;
            for level in &levels {
                node = node.children.get_mut(*level)?;
            }
            f(&mut node.value)
        };
        // The shallowest level from which everything below, along the path, is empty and
        // has no other branch: cutting that child removes all of them at once.
        let mut cut = None;
        let mut node = &*self;
        for (i, level) in levels.iter().enumerate() {
            let Some(child) = node.children.get(*level) else {
                break;
            };
            let last = i + 1 == levels.len();
            let bare = child.value.is_empty()
                && if last {
                    child.children.is_empty()
                } else {
                    child.children.len() == 1
                };
            if !bare {
                cut = None;
            } else if cut.is_none() {
                cut = Some(i);
            }
            node = child;
        }
        if let Some(cut) = cut {
            let mut node = &mut *self;
            for level in &levels[..cut] {
                match node.children.get_mut(*level) {
                    Some(child) => node = child,
                    None => return Some(result),
                }
            }
            node.children.remove(levels[cut]);
        }
        Some(result)
    }
}

// Dropping a node drops its children, and the compiler's drop glue would recurse once per
// level; taking them apart here keeps that off the stack too.
impl<T> Drop for Levels<T> {
    fn drop(&mut self) {
        let mut stack: Vec<Levels<T>> = self.children.drain().map(|(_, c)| c).collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain().map(|(_, c)| c));
        }
    }
}

/// The subscription index, holding for each subscriber its granted QoS and an `S` (the
/// broker keeps a handle to the session's outbox there, so fan-out needs no second lookup). Matching a topic with `n` levels visits at most a few nodes
/// per level instead of testing every filter, which keeps fan-out cheap with thousands of
/// connected phones.
#[derive(Debug)]
pub(crate) struct Trie<S> {
    /// Subscribers whose filter ends at each node, by session id.
    root: Levels<HashMap<u64, (QoS, S)>>,
}

impl<S> Default for Trie<S> {
    fn default() -> Self {
        Trie {
            root: Levels::default(),
        }
    }
}

impl<S: Clone> Trie<S> {
    /// Adds (or replaces the QoS of) the subscription of session `sid`.
    pub fn insert(&mut self, filter: &str, sid: u64, entry: (QoS, S)) {
        self.root.entry(filter).insert(sid, entry);
    }

    /// Removes the subscription of session `sid` to `filter`, pruning
    /// nodes that became empty so the trie does not grow forever.
    pub fn remove(&mut self, filter: &str, sid: u64) {
        self.root.update_and_prune(filter, |subs| subs.remove(&sid));
    }

    /// Collects every subscriber matching `topic` into `out`, keeping one
    /// entry per session at the highest granted QoS (overlapping filters
    /// must yield a single copy).
    pub fn collect(&self, topic: &str, out: &mut HashMap<u64, (QoS, S)>) {
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = levels.first().is_some_and(|l| l.starts_with('$'));
        let mut stack = vec![(&self.root, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            // §4.7.2: a `$` topic is not matched by a wildcard in the first level.
            let wild = !(dollar && depth == 0);
            if wild {
                if let Some(hash) = node.children.get("#") {
                    Self::add_all(&hash.value, out);
                }
            }
            let Some(level) = levels.get(depth) else {
                Self::add_all(&node.value, out);
                continue;
            };
            if let Some(child) = node.children.get(*level) {
                stack.push((child, depth + 1));
            }
            if wild {
                if let Some(child) = node.children.get("+") {
                    stack.push((child, depth + 1));
                }
            }
        }
    }

    /// Merges `subs` into `out`, keeping the max QoS per session.
    fn add_all(subs: &HashMap<u64, (QoS, S)>, out: &mut HashMap<u64, (QoS, S)>) {
        for (sid, (qos, shared)) in subs {
            out.entry(*sid)
                .and_modify(|e| e.0 = max_qos(e.0, *qos))
                .or_insert_with(|| (*qos, shared.clone()));
        }
    }
}

/// Retained messages indexed by topic level, so a SUBSCRIBE visits only the part of the
/// tree its filter can match instead of testing every retained message.
#[derive(Debug)]
pub(crate) struct RetainedIndex<O> {
    /// The retained message on each topic, with its owner.
    root: Levels<Option<(Publish, O)>>,
    /// Messages stored.
    len: usize,
}

impl<O> Default for RetainedIndex<O> {
    fn default() -> Self {
        RetainedIndex {
            root: Levels::default(),
            len: 0,
        }
    }
}

impl<O> RetainedIndex<O> {
    /// Messages stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The message retained on `topic`, with its owner.
    pub fn get(&self, topic: &str) -> Option<&(Publish, O)> {
        self.root.get(topic).and_then(Option::as_ref)
    }

    /// Stores `msg` on its topic; returns what it replaced.
    pub fn insert(&mut self, msg: Publish, owner: O) -> Option<(Publish, O)> {
        let slot = self.root.entry(&msg.topic.clone());
        let old = slot.replace((msg, owner));
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the message retained on `topic`.
    pub fn remove(&mut self, topic: &str) -> Option<(Publish, O)> {
        let old = self.root.update_and_prune(topic, Option::take).flatten();
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Every retained message whose topic matches `filter` (a valid filter).
    pub fn matching(&self, filter: &str) -> Vec<&Publish> {
        let levels: Vec<&str> = filter.split('/').collect();
        let mut out = Vec::new();
        let mut stack = vec![(&self.root, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            let Some(level) = levels.get(depth) else {
                out.extend(node.value.as_ref().map(|(m, _)| m));
                continue;
            };
            // §4.7.2: wildcards in the first level skip `$` topics.
            let visible = |name: &str| depth > 0 || !name.starts_with('$');
            match *level {
                "#" => {
                    // `a/#` matches `a` itself and everything below it.
                    out.extend(node.value.as_ref().map(|(m, _)| m));
                    let mut below: Vec<_> = node
                        .children
                        .iter()
                        .filter(|(name, _)| visible(name))
                        .map(|(_, child)| child)
                        .collect();
                    while let Some(n) = below.pop() {
                        out.extend(n.value.as_ref().map(|(m, _)| m));
                        below.extend(n.children.values());
                    }
                }
                "+" => stack.extend(
                    node.children
                        .iter()
                        .filter(|(name, _)| visible(name))
                        .map(|(_, child)| (child, depth + 1)),
                ),
                literal => {
                    if let Some(child) = node.children.get(literal) {
                        stack.push((child, depth + 1));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        for (f, ok) in [
            ("a/b", true),
            ("#", true),
            ("+", true),
            ("a/+/b", true),
            ("a/#", true),
            ("", false),
            ("a/#/b", false),
            ("a#", false),
            ("a/b+", false),
            ("+/+/#", true),
            ("a\0b", false),
        ] {
            assert_eq!(valid_filter(f), ok, "{f}");
        }
    }

    #[test]
    fn matching() {
        for (t, f, ok) in MATCH_TABLE {
            assert_eq!(topic_matches(t, f), *ok, "{t} vs {f}");
        }
    }

    const MATCH_TABLE: &[(&str, &str, bool)] = &[
        ("a/b", "a/b", true),
        ("a/b", "a/+", true),
        ("a/b", "#", true),
        ("a", "a/#", true),
        ("a/b/c", "a/#", true),
        ("a/b/c", "a/+", false),
        ("a/b", "a/b/c", false),
        ("a/b/c", "a/b", false),
        ("$SYS/x", "#", false),
        ("$SYS/x", "+/x", false),
        ("$SYS/x", "$SYS/#", true),
        ("é/x", "+/x", true),
        ("a//b", "a/+/b", true),
        ("dispatch/w10/tasks", "dispatch/w1/#", false),
        ("a/b", "+/+", true),
        ("a", "+/#", true),
        ("/a", "+/a", true),
    ];

    fn publish(topic: &str) -> Publish {
        Publish::new(topic, QoS::AtLeastOnce, "x")
    }

    #[test]
    fn the_retained_index_agrees_with_topic_matches() {
        let mut index = RetainedIndex::default();
        for (t, _, _) in MATCH_TABLE {
            index.insert(publish(t), ());
        }
        for (_, f, _) in MATCH_TABLE {
            let mut got: Vec<&str> = index.matching(f).iter().map(|m| m.topic.as_str()).collect();
            got.sort_unstable();
            got.dedup();
            let mut want: Vec<&str> = MATCH_TABLE
                .iter()
                .map(|(t, _, _)| *t)
                .filter(|t| topic_matches(t, f))
                .collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(got, want, "filter {f}");
        }
    }

    #[test]
    fn the_subscription_trie_agrees_with_topic_matches() {
        let shared = "session";
        for (t, f, ok) in MATCH_TABLE {
            let mut trie: Trie<&str> = Trie::default();
            trie.insert(f, 1, (QoS::AtLeastOnce, shared));
            let mut out = HashMap::new();
            trie.collect(t, &mut out);
            assert_eq!(out.contains_key(&1), *ok, "{t} vs {f}");
            trie.remove(f, 1);
            assert!(trie.root.children.is_empty(), "{f} left nodes behind");
        }
    }

    #[test]
    fn removing_prunes_only_what_became_empty() {
        let shared = "session";
        let mut trie: Trie<&str> = Trie::default();
        trie.insert("a/b/c/d", 1, (QoS::AtLeastOnce, shared));
        trie.insert("a/b", 2, (QoS::AtLeastOnce, shared));
        trie.insert("a/x", 3, (QoS::AtLeastOnce, shared));
        trie.remove("a/b/c/d", 1);
        let mut out = HashMap::new();
        trie.collect("a/b", &mut out);
        assert!(out.contains_key(&2));
        assert!(trie.root.get("a/b/c").is_none(), "a/b/c should be pruned");
        trie.remove("a/b", 2);
        assert!(trie.root.get("a/b").is_none());
        assert!(trie.root.get("a/x").is_some_and(|s| s.contains_key(&3)));
    }

    #[test]
    fn a_walk_over_thousands_of_levels_needs_no_stack() {
        // Far beyond any limit a broker would set: only the heap grows.
        let deep = vec!["a"; 50_000].join("/");
        let shared = "session";
        let mut trie: Trie<&str> = Trie::default();
        trie.insert(&deep, 1, (QoS::AtLeastOnce, shared));
        let mut out = HashMap::new();
        trie.collect(&deep, &mut out);
        assert_eq!(out.len(), 1);
        trie.remove(&deep, 1);
        assert!(trie.root.children.is_empty());
    }

    #[test]
    fn limits_count_levels_and_bytes() {
        let limits = TopicLimits {
            levels: 3,
            bytes: 10,
        };
        assert!(limits.allows("a/b/c"));
        assert!(!limits.allows("a/b/c/d"));
        assert!(!limits.allows("abcdefghijk"));
        assert!(limits.allows("abcdefghij"));
    }
}
