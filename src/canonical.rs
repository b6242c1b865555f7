//! The record hash: FNV-1a over an item record's canonical bytes, a byte layout of every
//! field of `Item` written out here field by field. The hash is stored with each item
//! (`items.record_hash`) so that a record sent again unchanged costs no write; it must
//! therefore stay the same across releases and compilers, which the derived `Hash` does not
//! promise (std documents its output as unstable). A change of the layout is a new
//! `SCHEME`, and `Store::open` recomputes the stored hashes when it finds an older one.
//!
//! Layout `canonical-1`, in this order (integers little-endian; a *text* is its length in
//! bytes as a u32, then its UTF-8 bytes, so that no two sequences of texts run together;
//! an *instant* is the Unix seconds as an i64 and the nanoseconds as a u32, in UTC; an
//! *optional* is a byte 0 for none, or 1 and the value):
//!
//! 1. the byte 1 (the layout's version);
//! 2. item_id, project_code, project_name, project_category, matter, department: texts;
//! 3. stage: one byte; status: its word (`Status::as_str`) as a text;
//! 4. accepted_at: an instant; limit_days, legal_days, extension_days: u32 each;
//! 5. the number of pauses as a u32, then each pause: its kind's word
//!    (`PauseKind::as_str`) as a text, `from` an instant, `to` an optional instant;
//! 6. finished_at: an optional instant; updated_at: an instant;
//! 7. only when the record has one, the applicants' rating: the byte 7, then the rating as
//!    one byte (so a record without a rating hashes as it did before ratings existed).
//!
//! A time's offset is not part of the record: two times are the same time when they are
//! the same instant (`DateTime`'s own equality), and the store keeps times in UTC, so a hash
//! recomputed from a stored item equals the hash of the record it was stored from.

use chrono::{DateTime, FixedOffset};

use crate::item::Item;

/// The name of the layout above, kept in the store (`store_meta` key `record_hash`).
pub const SCHEME: &str = "canonical-1";

/// The record hash of `item`: FNV-1a (64-bit) over its canonical bytes, which are written
/// straight into the hash (no buffer: ingest hashes every record it reads).
pub fn record_hash(item: &Item) -> u64 {
    let mut hash = Fnv::default();
    write_canonical(item, &mut hash);
    hash.0
}

/// Writes `item`'s canonical bytes (the module's layout) into `out`.
pub fn write_canonical(item: &Item, out: &mut impl Sink) {
    out.bytes(&[1]);
    for text in [
        &item.item_id,
        &item.project_code,
        &item.project_name,
        &item.project_category,
        &item.matter,
        &item.department,
    ] {
        write_text(out, text);
    }
    out.bytes(&[item.stage]);
    write_text(out, item.status.as_str());
    write_instant(out, &item.accepted_at);
    for days in [item.limit_days, item.legal_days, item.extension_days] {
        out.bytes(&days.to_le_bytes());
    }
    write_count(out, item.pauses.len());
    for pause in &item.pauses {
        write_text(out, pause.kind.as_str());
        write_instant(out, &pause.from);
        write_optional_instant(out, pause.to.as_ref());
    }
    write_optional_instant(out, item.finished_at.as_ref());
    write_instant(out, &item.updated_at);
    if let Some(rating) = item.rating {
        out.bytes(&[7, rating]);
    }
}

/// Where canonical bytes go: the hash, or a buffer in a test.
pub trait Sink {
    fn bytes(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// FNV-1a, 64-bit: simple, fixed, and fast enough on records of a few hundred bytes.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Sink for Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn write_count(out: &mut impl Sink, count: usize) {
    // Texts are at most a few hundred characters and pauses at most `MAX_PAUSES` (item.rs),
    // so a u32 always holds them; saturating keeps the function total all the same.
    out.bytes(&u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes());
}

fn write_text(out: &mut impl Sink, text: &str) {
    write_count(out, text.len());
    out.bytes(text.as_bytes());
}

fn write_instant(out: &mut impl Sink, time: &DateTime<FixedOffset>) {
    out.bytes(&time.timestamp().to_le_bytes());
    out.bytes(&time.timestamp_subsec_nanos().to_le_bytes());
}

fn write_optional_instant(out: &mut impl Sink, time: Option<&DateTime<FixedOffset>>) {
    match time {
        None => out.bytes(&[0]),
        Some(time) => {
            out.bytes(&[1]);
            write_instant(out, time);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{Pause, PauseKind, Status};

    fn time(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    /// A record with every field set, a closed and an open pause.
    fn fixed() -> Item {
        Item {
            item_id: "370102-2026-000123".into(),
            project_code: "2611-370102-04-01-123456".into(),
            project_name: "某某产业园一期".into(),
            project_category: "general_social".into(),
            matter: "建设工程规划许可证核发".into(),
            department: "市自然资源和规划局".into(),
            stage: 2,
            status: Status::Paused,
            accepted_at: time("2026-11-02T09:30:00+08:00"),
            limit_days: 20,
            legal_days: 20,
            extension_days: 5,
            pauses: vec![
                Pause {
                    kind: PauseKind::Correction,
                    from: time("2026-11-05T10:00:00+08:00"),
                    to: Some(time("2026-11-09T16:30:00+08:00")),
                },
                Pause {
                    kind: PauseKind::ExpertReview,
                    from: time("2026-11-20T09:00:00+08:00"),
                    to: None,
                },
            ],
            finished_at: None,
            updated_at: time("2026-11-20T09:00:00.250+08:00"),
            rating: None,
        }
    }

    #[test]
    fn the_hash_of_a_fixed_record_is_pinned() {
        // A change of this figure is a change of the stored scheme: give it a new `SCHEME`
        // (so that stores are re-hashed at start-up) rather than changing the figure alone.
        assert_eq!(record_hash(&fixed()), 0xec63_ed0e_2573_a6cf);
    }

    #[test]
    fn the_bytes_are_the_documented_layout() {
        let mut item = fixed();
        item.pauses.truncate(1);
        let mut bytes = Vec::new();
        write_canonical(&item, &mut bytes);
        let mut expected = vec![1u8];
        for text in [
            "370102-2026-000123",
            "2611-370102-04-01-123456",
            "某某产业园一期",
            "general_social",
            "建设工程规划许可证核发",
            "市自然资源和规划局",
        ] {
            expected.extend((text.len() as u32).to_le_bytes());
            expected.extend(text.as_bytes());
        }
        expected.push(2);
        expected.extend(6u32.to_le_bytes());
        expected.extend(b"paused");
        let instant = |expected: &mut Vec<u8>, text: &str| {
            let t = time(text);
            expected.extend(t.timestamp().to_le_bytes());
            expected.extend(t.timestamp_subsec_nanos().to_le_bytes());
        };
        instant(&mut expected, "2026-11-02T01:30:00Z");
        for days in [20u32, 20, 5] {
            expected.extend(days.to_le_bytes());
        }
        expected.extend(1u32.to_le_bytes());
        expected.extend(10u32.to_le_bytes());
        expected.extend(b"correction");
        instant(&mut expected, "2026-11-05T02:00:00Z");
        expected.push(1);
        instant(&mut expected, "2026-11-09T08:30:00Z");
        expected.push(0);
        instant(&mut expected, "2026-11-20T01:00:00.250Z");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn the_same_instant_in_another_offset_is_the_same_record() {
        let mut utc = fixed();
        utc.accepted_at = time("2026-11-02T01:30:00Z");
        assert_eq!(utc, fixed());
        assert_eq!(record_hash(&utc), record_hash(&fixed()));
    }

    /// Every one-field change of the fixed record, by name. Texts are also changed by moving
    /// a character from one field to the next, which a layout without lengths would miss.
    fn changes() -> Vec<(&'static str, Item)> {
        let base = fixed();
        let with = |change: &dyn Fn(&mut Item)| {
            let mut item = base.clone();
            change(&mut item);
            item
        };
        let later = |t: DateTime<FixedOffset>| t + chrono::Duration::seconds(1);
        let nano = |t: DateTime<FixedOffset>| t + chrono::Duration::nanoseconds(1);
        vec![
            ("item_id", with(&|i| i.item_id.push('x'))),
            ("project_code", with(&|i| i.project_code.push('x'))),
            ("project_name", with(&|i| i.project_name.push('x'))),
            ("project_category", with(&|i| i.project_category.push('x'))),
            ("matter", with(&|i| i.matter.push('x'))),
            ("department", with(&|i| i.department.push('x'))),
            (
                "item_id → project_code",
                with(&|i| {
                    let c = i.item_id.pop().unwrap();
                    i.project_code.insert(0, c);
                }),
            ),
            (
                "matter → department",
                with(&|i| {
                    let c = i.matter.pop().unwrap();
                    i.department.insert(0, c);
                }),
            ),
            ("stage", with(&|i| i.stage = 3)),
            ("status", with(&|i| i.status = Status::Pending)),
            (
                "accepted_at",
                with(&|i| i.accepted_at = later(i.accepted_at)),
            ),
            (
                "accepted_at nanoseconds",
                with(&|i| i.accepted_at = nano(i.accepted_at)),
            ),
            ("limit_days", with(&|i| i.limit_days += 1)),
            ("legal_days", with(&|i| i.legal_days += 1)),
            ("extension_days", with(&|i| i.extension_days += 1)),
            (
                "limit_days ↔ extension_days",
                with(&|i| std::mem::swap(&mut i.limit_days, &mut i.extension_days)),
            ),
            ("a pause fewer", with(&|i| i.pauses.truncate(1))),
            ("no pauses", with(&|i| i.pauses.clear())),
            ("pauses reordered", with(&|i| i.pauses.reverse())),
            (
                "pause kind",
                with(&|i| i.pauses[0].kind = PauseKind::Hearing),
            ),
            (
                "pause from",
                with(&|i| i.pauses[0].from = later(i.pauses[0].from)),
            ),
            (
                "pause to",
                with(&|i| i.pauses[0].to = i.pauses[0].to.map(later)),
            ),
            ("pause reopened", with(&|i| i.pauses[0].to = None)),
            (
                "pause closed",
                with(&|i| i.pauses[1].to = Some(time("2026-11-21T09:00:00+08:00"))),
            ),
            (
                "finished_at",
                with(&|i| i.finished_at = Some(time("2026-11-24T09:00:00+08:00"))),
            ),
            ("updated_at", with(&|i| i.updated_at = nano(i.updated_at))),
        ]
    }

    #[test]
    fn changing_any_one_field_changes_the_hash() {
        let base = record_hash(&fixed());
        let changes = changes();
        for (what, item) in &changes {
            assert_ne!(item, &fixed(), "{what}: the table's change changed nothing");
            assert_ne!(record_hash(item), base, "{what}");
        }
        // And no two of the changed records collide with each other.
        let mut hashes: Vec<u64> = changes.iter().map(|(_, i)| record_hash(i)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), changes.len());
    }

    proptest::proptest! {
        /// Any split of one text between two neighbouring fields gives other bytes.
        #[test]
        fn texts_cannot_run_together(a in ".{0,12}", b in ".{0,12}", cut in 0usize..24) {
            let joined = format!("{a}{b}");
            let cut = (0..=cut.min(joined.len())).rev().find(|&c| joined.is_char_boundary(c)).unwrap_or(0);
            let (x, y) = joined.split_at(cut);
            let mut one = fixed();
            (one.matter, one.department) = (a.clone(), b.clone());
            let mut other = fixed();
            (other.matter, other.department) = (x.to_owned(), y.to_owned());
            let bytes = |item: &Item| { let mut v = Vec::new(); write_canonical(item, &mut v); v };
            proptest::prop_assert_eq!(bytes(&one) == bytes(&other), one == other);
        }
    }
}
