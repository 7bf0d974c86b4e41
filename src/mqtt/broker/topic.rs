//! Topic names, topic filters and the subscription trie.
//!
//! We deliberately do not use `rumqttc::mqttbytes::matches`: it slices the
//! topic at byte 1 to look for `$`, which panics on a topic whose first
//! character is multi-byte UTF-8, and topics come straight off the wire.
//! Everything here works on whole `/`-separated levels and never indexes
//! into strings.

use std::collections::HashMap;
use std::sync::Arc;

use rumqttc::mqttbytes::QoS;

use super::session::SessionShared;

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

/// One subscriber as stored in the trie: the granted QoS and a handle to
/// the session's outbox, so fan-out needs no second lookup.
pub(crate) type SubEntry = (QoS, Arc<SessionShared>);

/// A trie node keyed by topic level; `+` and `#` are stored as ordinary
/// children with those names. Matching a topic with `n` levels visits at
/// most a few nodes per level instead of testing every filter, which keeps
/// fan-out cheap with thousands of connected phones.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    /// Child nodes by level text (including the literal `+` and `#`).
    children: HashMap<String, Trie>,
    /// Subscribers whose filter ends exactly at this node, by session id.
    subs: HashMap<u64, SubEntry>,
}

impl Trie {
    /// Adds (or replaces the QoS of) the subscription of session `sid`.
    pub fn insert(&mut self, filter: &str, sid: u64, entry: SubEntry) {
        let mut node = self;
        for level in filter.split('/') {
            node = node.children.entry(level.to_owned()).or_default();
        }
        node.subs.insert(sid, entry);
    }

    /// Removes the subscription of session `sid` to `filter`, pruning
    /// nodes that became empty so the trie does not grow forever.
    pub fn remove(&mut self, filter: &str, sid: u64) {
        let levels: Vec<&str> = filter.split('/').collect();
        self.remove_at(&levels, sid);
    }

    /// Recursive helper for [`Trie::remove`]; returns true if this node is
    /// now empty and may be pruned by its parent.
    fn remove_at(&mut self, levels: &[&str], sid: u64) -> bool {
        match levels.split_first() {
            None => {
                self.subs.remove(&sid);
            }
            Some((first, rest)) => {
                let prune = match self.children.get_mut(*first) {
                    Some(child) => child.remove_at(rest, sid),
                    None => false,
                };
                if prune {
                    self.children.remove(*first);
                }
            }
        }
        self.subs.is_empty() && self.children.is_empty()
    }

    /// Collects every subscriber matching `topic` into `out`, keeping one
    /// entry per session at the highest granted QoS (overlapping filters
    /// must yield a single copy).
    pub fn collect(&self, topic: &str, out: &mut HashMap<u64, SubEntry>) {
        let levels: Vec<&str> = topic.split('/').collect();
        self.collect_at(&levels, 0, out);
    }

    /// Recursive helper for [`Trie::collect`].
    fn collect_at(&self, levels: &[&str], depth: usize, out: &mut HashMap<u64, SubEntry>) {
        let dollar = depth == 0 && levels.first().is_some_and(|l| l.starts_with('$'));
        if !dollar {
            if let Some(hash) = self.children.get("#") {
                Self::add_all(&hash.subs, out);
            }
        }
        let Some((level, rest)) = levels.split_first() else {
            Self::add_all(&self.subs, out);
            return;
        };
        if let Some(child) = self.children.get(*level) {
            child.collect_at(rest, depth + 1, out);
        }
        if !dollar {
            if let Some(child) = self.children.get("+") {
                child.collect_at(rest, depth + 1, out);
            }
        }
    }

    /// Merges `subs` into `out`, keeping the max QoS per session.
    fn add_all(subs: &HashMap<u64, SubEntry>, out: &mut HashMap<u64, SubEntry>) {
        for (sid, (qos, shared)) in subs {
            out.entry(*sid)
                .and_modify(|e| e.0 = max_qos(e.0, *qos))
                .or_insert_with(|| (*qos, Arc::clone(shared)));
        }
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
        for (t, f, ok) in [
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
        ] {
            assert_eq!(topic_matches(t, f), ok, "{t} vs {f}");
        }
    }
}
