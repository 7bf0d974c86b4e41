//! Turn restrictions (OSM `type=restriction` relations) for cars: which turns at which
//! node a car may not take, as triples of OSM nodes (the node before the junction on the
//! from-way, the junction, the node after it on the to-way). `graph` then splits the
//! junctions so the contraction hierarchies, which know nodes and not turns, honour them.
//!
//! Read: `restriction:motorcar=*` first, else `restriction=*`; `no_*` (no_left_turn,
//! no_right_turn, no_straight_on, no_u_turn, no_entry, no_exit) forbid the turns from each
//! from-way into each to-way; `only_*` forbid every other turn out of the junction from
//! each from-way. Skipped, and counted: `except` naming cars, restrictions for other
//! vehicles only, conditional ones (`restriction:conditional`, times of day are not
//! modelled), via-ways, unknown values, members missing from the extract or not roads a
//! car may use, and junctions that are not an end of the from- or to-way.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::osm::{MemberKind, RawMap, RawRestriction, RawWay};
use super::profile;
use crate::domain::TravelMode;

/// What became of the extract's turn restrictions, for one mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnSummary {
    /// `type=restriction` relations read.
    pub read: usize,
    /// Honoured.
    pub applied: usize,
    /// Not for this vehicle (`except=motorcar`, or only for others, e.g. `restriction:hgv`).
    pub not_for_mode: usize,
    /// Only `restriction:conditional` (times of day are not modelled).
    pub conditional: usize,
    /// Through a via-way rather than a via-node (not modelled).
    pub via_way: usize,
    /// A member missing from the extract, not a road this vehicle may use, or the
    /// relation lacks a from, via or to.
    pub missing: usize,
    /// The via node is not an end of the from-way or of the to-way.
    pub not_at_end: usize,
    /// A `restriction` value that is neither `no_*` nor `only_*`.
    pub unknown: usize,
}

impl TurnSummary {
    /// All skipped, whatever the reason.
    pub fn skipped(&self) -> usize {
        self.not_for_mode
            + self.conditional
            + self.via_way
            + self.missing
            + self.not_at_end
            + self.unknown
    }
}

/// One restriction as the turns it governs, in OSM node ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turns {
    /// The junction.
    pub via: i64,
    /// The node before `via` on each from-way.
    pub from: Vec<i64>,
    /// The node after `via` on each to-way.
    pub to: Vec<i64>,
    /// `only_*`: from each `from`, only into a `to`; else never into one.
    pub only: bool,
}

/// The restrictions `mode` must honour (cars only: a walker is no vehicle; a cyclist may
/// get off and walk across, which is how the bike graph is meant, docs/roads.md) and
/// what became of all of them.
pub fn resolve(map: &RawMap, mode: TravelMode) -> (Vec<Turns>, TurnSummary) {
    let mut summary = TurnSummary {
        read: map.restrictions.len(),
        ..TurnSummary::default()
    };
    if mode != TravelMode::Car || map.restrictions.is_empty() {
        summary.not_for_mode = if mode == TravelMode::Car {
            0
        } else {
            summary.read
        };
        return (Vec::new(), summary);
    }
    let ways: HashMap<i64, &RawWay> = map.ways.iter().map(|w| (w.id, w)).collect();
    let mut turns = Vec::new();
    for r in &map.restrictions {
        match car_turns(r, &ways, map) {
            Ok(t) => {
                summary.applied += 1;
                turns.push(t);
            }
            Err(Skip::NotForMode) => summary.not_for_mode += 1,
            Err(Skip::Conditional) => summary.conditional += 1,
            Err(Skip::ViaWay) => summary.via_way += 1,
            Err(Skip::Missing) => summary.missing += 1,
            Err(Skip::NotAtEnd) => summary.not_at_end += 1,
            Err(Skip::Unknown) => summary.unknown += 1,
        }
    }
    (turns, summary)
}

/// Why a restriction was skipped.
enum Skip {
    NotForMode,
    Conditional,
    ViaWay,
    Missing,
    NotAtEnd,
    Unknown,
}

fn tag<'a>(r: &'a RawRestriction, key: &str) -> Option<&'a str> {
    r.tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn car_turns(
    r: &RawRestriction,
    ways: &HashMap<i64, &RawWay>,
    map: &RawMap,
) -> Result<Turns, Skip> {
    let except = tag(r, "except").unwrap_or_default();
    if except
        .split(';')
        .any(|v| matches!(v.trim(), "motorcar" | "motor_vehicle" | "vehicle"))
    {
        return Err(Skip::NotForMode);
    }
    let value = tag(r, "restriction:motorcar").or_else(|| tag(r, "restriction"));
    let Some(value) = value else {
        let conditional = r
            .tags
            .iter()
            .any(|(k, _)| k.starts_with("restriction") && k.ends_with(":conditional"));
        return Err(if conditional {
            Skip::Conditional
        } else {
            Skip::NotForMode
        });
    };
    let only = if value.starts_with("only_") {
        true
    } else if value.starts_with("no_") && value != "no_right_turn_on_red" {
        false
    } else {
        return Err(Skip::Unknown);
    };
    let role = |name: &'static str| r.members.iter().filter(move |m| m.role == name);
    if role("via").any(|m| m.kind != MemberKind::Node) {
        return Err(Skip::ViaWay);
    }
    let vias: Vec<i64> = role("via").map(|m| m.id).collect();
    let [via] = vias[..] else {
        return Err(Skip::Missing);
    };
    if !map.nodes.contains_key(&via) {
        return Err(Skip::Missing);
    }
    // The node next to `via` on each member way of `name`: the way must be a car's road
    // and end (or start) at `via`.
    let neighbours = |name: &'static str| -> Result<Vec<i64>, Skip> {
        let mut out = Vec::new();
        for m in role(name) {
            let way = ways
                .get(&m.id)
                .filter(|w| m.kind == MemberKind::Way && w.nodes.len() >= 2)
                .filter(|w| profile::rule(TravelMode::Car, w.tags.as_slice()).is_some())
                .ok_or(Skip::Missing)?;
            let (first, last) = (way.nodes[0], way.nodes[way.nodes.len() - 1]);
            let next = if first == via && last != via {
                way.nodes[1]
            } else if last == via && first != via {
                way.nodes[way.nodes.len() - 2]
            } else {
                return Err(Skip::NotAtEnd);
            };
            if !map.nodes.contains_key(&next) {
                return Err(Skip::Missing);
            }
            out.push(next);
        }
        if out.is_empty() {
            Err(Skip::Missing)
        } else {
            Ok(out)
        }
    };
    let from = neighbours("from")?;
    let to = neighbours("to")?;
    Ok(Turns {
        via,
        from,
        to,
        only,
    })
}

/// The turns (from, via, to) a car may not take, in the dense node ids of `ids`, given
/// the graph's directed `edges` (an `only_*` forbids every other way out).
pub fn banned(
    turns: &[Turns],
    ids: &HashMap<i64, usize>,
    edges: &HashMap<(usize, usize), u64>,
) -> HashSet<(usize, usize, usize)> {
    let mut out_of: HashMap<usize, Vec<usize>> = HashMap::new();
    let vias: HashSet<usize> = turns
        .iter()
        .filter_map(|t| ids.get(&t.via))
        .copied()
        .collect();
    for &(a, b) in edges.keys() {
        if vias.contains(&a) {
            out_of.entry(a).or_default().push(b);
        }
    }
    // Per (from, via): the turns allowed by `only_*` (several are taken together).
    let mut only: HashMap<(usize, usize), HashSet<usize>> = HashMap::new();
    let mut banned = HashSet::new();
    for t in turns {
        let Some(&via) = ids.get(&t.via) else {
            continue;
        };
        let from = t.from.iter().filter_map(|f| ids.get(f).copied());
        let to: Vec<usize> = t.to.iter().filter_map(|n| ids.get(n).copied()).collect();
        for f in from {
            if t.only {
                only.entry((f, via)).or_default().extend(&to);
            } else {
                banned.extend(to.iter().map(|&n| (f, via, n)));
            }
        }
    }
    for ((f, via), allowed) in only {
        for &n in out_of.get(&via).into_iter().flatten() {
            if !allowed.contains(&n) {
                banned.insert((f, via, n));
            }
        }
    }
    banned
}
