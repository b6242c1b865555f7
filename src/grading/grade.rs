//! The three colours and the thresholds that decide them. A pending item is red once it is
//! overdue, blue while it has used at most a configured share of its allowed days, and
//! yellow in between; `Thresholds` holds the configurable parts of that rule.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// 三色: how an item or project stands against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 超前: at most the blue share of the allowed days used.
    Blue,
    /// 正常: within the limit.
    Yellow,
    /// 滞后/超期: past the deadline.
    Red,
}

impl Grade {
    pub const ALL: [Grade; 3] = [Grade::Blue, Grade::Yellow, Grade::Red];

    /// The grade named by `as_str`'s word.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Blue => "blue",
            Grade::Yellow => "yellow",
            Grade::Red => "red",
        }
    }
}

/// The configurable parts of the grading rule, resolved for one matter and department.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Blue while `used / allowed ≤ blue_max_share` (default 0.5).
    pub blue_max_share: f64,
    /// Policy option: a pending item is red already on its deadline date, not only after
    /// it. Never applies to 即办件 (`allowed = 0`), which would otherwise be red the moment
    /// they are accepted.
    pub red_on_deadline_day: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            blue_max_share: 0.5,
            red_on_deadline_day: false,
        }
    }
}

impl Thresholds {
    /// Whether `used` of `allowed` days is still ahead of time. Dividing the exact integers
    /// gives the double nearest the true ratio, which compares with a decimal share exactly
    /// as the decimal ratio would (29/100 ≤ 0.29 holds; 0.29 × 100 < 29 would not).
    pub fn is_blue(&self, used: u32, allowed: u32) -> bool {
        if allowed == 0 {
            return used == 0;
        }
        f64::from(used) / f64::from(allowed) <= self.blue_max_share
    }

    /// The smallest number of used days that is no longer blue, if it is within `allowed`.
    pub fn first_yellow_count(&self, allowed: u32) -> Option<u32> {
        if allowed == 0 {
            return None;
        }
        let estimate = (self.blue_max_share * f64::from(allowed))
            .floor()
            .clamp(0.0, f64::from(allowed));
        let mut used = estimate as u32;
        while used > 0 && !self.is_blue(used, allowed) {
            used -= 1;
        }
        while used <= allowed && self.is_blue(used, allowed) {
            used += 1;
        }
        (used <= allowed).then_some(used)
    }

    /// The first day a pending item with this deadline is red: the day after it, or the
    /// deadline date itself under the policy.
    pub fn first_red_day(&self, deadline: NaiveDate, allowed: u32) -> NaiveDate {
        if self.red_on_deadline_day && allowed > 0 {
            deadline
        } else {
            deadline.succ_opt().unwrap_or(NaiveDate::MAX)
        }
    }

    /// The grade of `used` of `allowed` days on `day`, for a pending item.
    pub fn grade_pending(
        &self,
        day: NaiveDate,
        deadline: NaiveDate,
        used: u32,
        allowed: u32,
    ) -> Grade {
        if day >= self.first_red_day(deadline, allowed) {
            Grade::Red
        } else if self.is_blue(used, allowed) {
            Grade::Blue
        } else {
            Grade::Yellow
        }
    }

    /// The grade of an item finished on `day`: late is red (finishing on the deadline date is
    /// on time whatever the pending policy), early is blue, on time yellow.
    pub fn grade_finished(
        &self,
        day: NaiveDate,
        deadline: NaiveDate,
        used: u32,
        allowed: u32,
    ) -> Grade {
        if day > deadline {
            Grade::Red
        } else if self.is_blue(used, allowed) {
            Grade::Blue
        } else {
            Grade::Yellow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_is_blue_by_default() {
        let t = Thresholds::default();
        assert!(t.is_blue(2, 4));
        assert!(!t.is_blue(3, 4));
        assert!(t.is_blue(2, 5));
        assert!(!t.is_blue(3, 5));
        assert!(t.is_blue(0, 0));
        assert!(!t.is_blue(1, 0));
    }

    #[test]
    fn first_yellow_count_matches_is_blue() {
        for share in [0.0, 0.1, 0.29, 0.3, 0.5, 0.7, 0.99, 1.0] {
            let t = Thresholds {
                blue_max_share: share,
                red_on_deadline_day: false,
            };
            for allowed in 0..=120 {
                let expected = (1..=allowed).find(|&u| !t.is_blue(u, allowed));
                assert_eq!(
                    t.first_yellow_count(allowed),
                    expected,
                    "share {share} allowed {allowed}"
                );
            }
        }
    }
}
