//! `[points]`: volunteer points (志愿服务积分, docs/points.md).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;
use crate::domain::points::PointsRule;
use crate::domain::ResponderKind;

/// `[points]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsSettings {
    /// Responder kinds that earn points for their tasks and reports.
    pub earning_kinds: Vec<ResponderKind>,
    /// Months after which earned points expire (in lots, soonest first).
    pub expiry_months: u32,
    /// Most points one person earns (tasks and reports, not awards) in a calendar month at
    /// `reports.utc_offset`; 0 = no cap.
    pub monthly_cap: i64,
    /// An award of more points than this waits for a second admin's approval.
    pub award_approval_above: i64,
    /// Seconds a redemption code (and its reservation) stays valid.
    pub code_valid_secs: u64,
    /// Most points one responder may hold (spendable plus reserved); 0 = no cap.
    pub balance_cap: i64,
    /// Extra points for a task on an incident with a rendezvous (guidance, 引导).
    pub guidance_bonus: i64,
    /// Points for the reporter (`field:<responder id>`) of a report that became a
    /// verified and closed incident.
    pub report_bonus: i64,
    /// Incident kind → points (`default` for any other kind): a number, or four numbers
    /// for severity 1 (most urgent) to 4.
    pub rules: BTreeMap<String, PointsRule>,
}

impl PointsSettings {
    /// The rule for incidents of `kind`.
    pub fn rule_for(&self, kind: &str) -> PointsRule {
        self.rules
            .get(kind)
            .or_else(|| self.rules.get("default"))
            .cloned()
            .unwrap_or(PointsRule::Flat(0))
    }

    /// Whether responders of `kind` earn.
    pub fn earns(&self, kind: ResponderKind) -> bool {
        self.earning_kinds.contains(&kind)
    }

    /// The balance cap, if any.
    pub fn balance_cap(&self) -> Option<i64> {
        (self.balance_cap > 0).then_some(self.balance_cap)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if !(1..=1200).contains(&self.expiry_months) {
            return bad("points.expiry_months", "must be 1 to 1200 (months)");
        }
        for (key, v) in [
            ("points.monthly_cap", self.monthly_cap),
            ("points.award_approval_above", self.award_approval_above),
            ("points.balance_cap", self.balance_cap),
            ("points.guidance_bonus", self.guidance_bonus),
            ("points.report_bonus", self.report_bonus),
        ] {
            if !(0..=1_000_000_000).contains(&v) {
                return bad(key, "must be 0 to 1000000000 (points)");
            }
        }
        if !(10..=86_400).contains(&self.code_valid_secs) {
            return bad("points.code_valid_secs", "must be 10 to 86400 (seconds)");
        }
        if !self.rules.contains_key("default") {
            return bad("points.rules.default", "must be present");
        }
        for (kind, rule) in &self.rules {
            if kind.trim().is_empty() {
                return bad("points.rules", "a kind name must not be empty");
            }
            if rule.values().iter().any(|p| !(0..=1_000_000).contains(p)) {
                return bad(
                    &format!("points.rules.{kind}"),
                    "points must be 0 to 1000000",
                );
            }
        }
        Ok(())
    }
}
