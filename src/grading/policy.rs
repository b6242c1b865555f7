//! Which thresholds apply to an item: the defaults, or an override for its matter, its
//! department, or both. The most specific override wins: matter and department together,
//! then matter alone, then department alone.

use super::grade::Thresholds;

/// Thresholds for the items of one matter, one department, or one matter in one department.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdOverride {
    pub matter: Option<String>,
    pub department: Option<String>,
    pub thresholds: Thresholds,
}

impl ThresholdOverride {
    /// How specific the override is for an item it matches; `None` when it does not match.
    fn specificity(&self, matter: &str, department: &str) -> Option<u8> {
        let matter_hit = self.matter.as_deref().map(|m| m == matter);
        let department_hit = self.department.as_deref().map(|d| d == department);
        match (matter_hit, department_hit) {
            (Some(false), _) | (_, Some(false)) => None,
            (Some(true), Some(true)) => Some(3),
            (Some(true), None) => Some(2),
            (None, Some(true)) => Some(1),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GradingPolicy {
    pub default: Thresholds,
    pub overrides: Vec<ThresholdOverride>,
}

impl GradingPolicy {
    pub fn thresholds_for(&self, matter: &str, department: &str) -> Thresholds {
        self.overrides
            .iter()
            .filter_map(|o| o.specificity(matter, department).map(|s| (s, o)))
            .max_by_key(|(s, _)| *s)
            .map_or(self.default, |(_, o)| o.thresholds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(s: f64) -> Thresholds {
        Thresholds {
            blue_max_share: s,
            red_on_deadline_day: false,
        }
    }

    #[test]
    fn most_specific_override_wins() {
        let policy = GradingPolicy {
            default: share(0.5),
            overrides: vec![
                ThresholdOverride {
                    matter: None,
                    department: Some("D".into()),
                    thresholds: share(0.4),
                },
                ThresholdOverride {
                    matter: Some("M".into()),
                    department: None,
                    thresholds: share(0.3),
                },
                ThresholdOverride {
                    matter: Some("M".into()),
                    department: Some("D".into()),
                    thresholds: share(0.2),
                },
            ],
        };
        assert_eq!(policy.thresholds_for("X", "Y"), share(0.5));
        assert_eq!(policy.thresholds_for("X", "D"), share(0.4));
        assert_eq!(policy.thresholds_for("M", "Y"), share(0.3));
        assert_eq!(policy.thresholds_for("M", "D"), share(0.2));
    }
}
