//! The working-day calendar: which local dates are working days under the State Council's
//! yearly arrangement (holidays and 调休 working weekends), and counted-day arithmetic over
//! them in O(1) by prefix sums. Loaded from one TOML file per year so that an operator adds
//! next year's arrangement without a new release. The years after the last file (as many as
//! configured) are counted on the provisional arrangement of `crate::statutory`, and a file
//! marked `provisional = true` (a draft) likewise: every day of those years is provisional,
//! and says so (`is_provisional`). A date outside every year is an error that names the
//! missing year, never a guess. Pure: no clock, no I/O after loading.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use crate::config::toml_file::{FileError, TomlFile};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "no holiday arrangement is loaded for {year} (loaded years: {loaded}): add \
         {dir}/{year}.toml with the State Council's arrangement for {year} (`duban calendar \
         --draft {year}` prints a draft to correct from the notice)"
    )]
    YearNotLoaded {
        year: i32,
        loaded: String,
        dir: String,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error(
        "holiday folder {dir}: no <year>.toml files found; put the State Council's yearly \
         arrangements there (see config/holidays/2026.toml)"
    )]
    NoYears { dir: PathBuf },
    #[error(
        "holiday folder {dir}: {missing}.toml is missing between the loaded years {first} and \
         {last}; working days cannot be counted across a year that is not loaded"
    )]
    GapInYears {
        dir: PathBuf,
        missing: i32,
        first: i32,
        last: i32,
    },
}

/// One year's arrangement as written in `config/holidays/<year>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: Spanned<i32>,
    /// The notice the arrangement was copied from; kept in the file for the reader.
    #[allow(dead_code)]
    source: String,
    /// A draft (`duban calendar --draft`) not yet corrected from the notice: its days are
    /// provisional, as if there were no file.
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    holidays: Vec<Festival>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Festival {
    #[allow(dead_code)]
    name: String,
    from: Spanned<Datetime>,
    to: Spanned<Datetime>,
    #[serde(default)]
    workdays: Vec<Spanned<Datetime>>,
}

/// What the arrangement says about one date that differs from the weekday rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adjustment {
    Holiday,
    Workday,
}

/// Working days of a contiguous range of loaded years.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// The folder the years were loaded from, to name in errors.
    dir: PathBuf,
    first_year: i32,
    last_year: i32,
    /// `num_days_from_ce` of 1 January of `first_year`: day offsets are relative to it.
    first_day: i32,
    is_workday: Vec<bool>,
    /// `workdays_through[i]`: working days among offsets `0..=i`.
    workdays_through: Vec<u32>,
    /// `workday_offsets[k]`: the offset of the (k+1)-th working day; inverts the prefix sum
    /// so "the n-th working day after d" is one lookup.
    workday_offsets: Vec<u32>,
    /// The years counted on the provisional arrangement, by `year - first_year`.
    provisional: Vec<bool>,
}

impl Calendar {
    /// Loads every `<year>.toml` in `dir`, and adds `provisional_years` years after the
    /// last on the provisional arrangement. The files' years must be contiguous.
    pub fn load_dir(dir: &Path, provisional_years: u32) -> Result<Self, CalendarError> {
        let entries = std::fs::read_dir(dir).map_err(|e| FileError {
            file: dir.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read the holiday folder: {e}"),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_stem()
                        .and_then(|s| s.to_str())
                        .is_some_and(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        paths.sort();
        let files = paths
            .iter()
            .map(|p| TomlFile::read(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_files(dir, &files, provisional_years)
    }

    /// Builds the calendar from already-read year files (used by `load_dir` and tests).
    pub fn from_files(
        dir: &Path,
        files: &[TomlFile],
        provisional_years: u32,
    ) -> Result<Self, CalendarError> {
        let mut adjustments: BTreeMap<NaiveDate, (Adjustment, PathBuf)> = BTreeMap::new();
        let mut years = Vec::new();
        let mut drafts = Vec::new();
        for file in files {
            let parsed: YearFile = file.parse()?;
            let year = *parsed.year.get_ref();
            let stem = file
                .path()
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if stem != year.to_string() {
                return Err(file
                    .error_at(
                        parsed.year.span(),
                        format!("the file is named {stem}.toml but says year = {year}"),
                    )
                    .into());
            }
            for festival in &parsed.holidays {
                let from = to_date(file, &festival.from, year)?;
                let to = to_date(file, &festival.to, year)?;
                if to < from {
                    return Err(file
                        .error_at(
                            festival.to.span(),
                            format!("`to` ({to}) is before `from` ({from})"),
                        )
                        .into());
                }
                for day in from.iter_days().take_while(|d| *d <= to) {
                    record(
                        &mut adjustments,
                        file,
                        &festival.from,
                        day,
                        Adjustment::Holiday,
                    )?;
                }
                for spanned in &festival.workdays {
                    let day = to_date(file, spanned, year)?;
                    if !is_weekend(day) {
                        return Err(file
                            .error_at(
                                spanned.span(),
                                format!(
                                    "{day} is a {}; an adjusted working day (调休) is a \
                                     Saturday or Sunday",
                                    day.weekday()
                                ),
                            )
                            .into());
                    }
                    record(&mut adjustments, file, spanned, day, Adjustment::Workday)?;
                }
            }
            years.push(year);
            if parsed.provisional {
                drafts.push(year);
            }
        }
        years.sort_unstable();
        let (Some(&first_year), Some(&last_year)) = (years.first(), years.last()) else {
            return Err(CalendarError::NoYears {
                dir: dir.to_path_buf(),
            });
        };
        for pair in years.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(CalendarError::GapInYears {
                    dir: dir.to_path_buf(),
                    missing: pair[0] + 1,
                    first: first_year,
                    last: last_year,
                });
            }
        }
        let computed = last_year + 1..=last_year + provisional_years as i32;
        for year in computed.clone() {
            for festival in crate::statutory::festivals(year) {
                for day in festival.from.iter_days().take_while(|d| *d <= festival.to) {
                    adjustments.insert(day, (Adjustment::Holiday, PathBuf::new()));
                }
            }
        }
        let provisional = (first_year..=*computed.end().max(&last_year))
            .map(|year| drafts.contains(&year) || computed.contains(&year))
            .collect();
        Ok(Self::build(
            dir,
            first_year,
            provisional,
            |day| match adjustments.get(&day) {
                Some((Adjustment::Holiday, _)) => false,
                Some((Adjustment::Workday, _)) => true,
                None => !is_weekend(day),
            },
        ))
    }

    /// The calendar of the years from `first_year`, one for each of `provisional`'s flags.
    fn build(
        dir: &Path,
        first_year: i32,
        provisional: Vec<bool>,
        is_workday: impl Fn(NaiveDate) -> bool,
    ) -> Self {
        let last_year = first_year + provisional.len() as i32 - 1;
        let start = year_start(first_year);
        let end = year_start(last_year + 1);
        let days: Vec<bool> = start
            .iter_days()
            .take_while(|d| *d < end)
            .map(is_workday)
            .collect();
        let mut workdays_through = Vec::with_capacity(days.len());
        let mut workday_offsets = Vec::new();
        let mut count = 0u32;
        for (offset, &work) in days.iter().enumerate() {
            if work {
                workday_offsets.push(offset as u32);
                count += 1;
            }
            workdays_through.push(count);
        }
        Self {
            dir: dir.to_path_buf(),
            first_year,
            last_year,
            first_day: start.num_days_from_ce(),
            is_workday: days,
            workdays_through,
            workday_offsets,
            provisional,
        }
    }

    /// A digest of every day's kind and every year's standing (FNV-1a over them, stable
    /// across releases and compilers, unlike the derived `Hash`): equal digests, equal
    /// counts of working days.
    pub fn fingerprint(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut add = |byte: u8| {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        };
        for byte in self.first_year.to_le_bytes() {
            add(byte);
        }
        for &work in &self.is_workday {
            add(u8::from(work));
        }
        for &provisional in &self.provisional {
            add(u8::from(provisional) + 2);
        }
        format!("{hash:016x}")
    }

    /// The years the calendar counts, first to last, official and provisional.
    pub fn years(&self) -> RangeInclusive<i32> {
        self.first_year..=self.last_year
    }

    /// Whether `year` is counted on the arrangement of its State Council notice (a file not
    /// marked provisional).
    pub fn is_official(&self, year: i32) -> bool {
        self.years().contains(&year) && !self.provisional[(year - self.first_year) as usize]
    }

    /// Whether `date` is in a year counted on the provisional arrangement (no file, or a
    /// draft): which days are working days there may change when the notice is out.
    pub fn is_provisional(&self, date: NaiveDate) -> bool {
        !self.provisional_years_between(date, date).is_empty()
    }

    /// Whether a count over the dates `from..=through` depends on a provisional year.
    /// (Asked for every item graded: it allocates nothing.)
    pub fn is_provisional_between(&self, from: NaiveDate, through: NaiveDate) -> bool {
        self.provisional_in(from, through).next().is_some()
    }

    /// The years of the dates `from..=through` counted on the provisional arrangement.
    pub fn provisional_years_between(&self, from: NaiveDate, through: NaiveDate) -> Vec<i32> {
        self.provisional_in(from, through).collect()
    }

    /// A year's notice may also arrange the last days of the year before (元旦 2019 began on
    /// 30 December 2018, see `to_date`): dates from 20 December wait for next year's too.
    fn provisional_in(&self, from: NaiveDate, through: NaiveDate) -> impl Iterator<Item = i32> {
        let reaches_next = through.month() == 12 && through.day() >= LATE_DECEMBER;
        let last = through.year() + i32::from(reaches_next);
        (from.year()..=last).filter(|year| self.years().contains(year) && !self.is_official(*year))
    }

    /// The years whose official file the operator should add now: this year's at any time,
    /// and from `remind_from` (month, day) on next year's, where either is missing or a draft.
    pub fn missing_years(&self, today: NaiveDate, remind_from: (u32, u32)) -> Vec<i32> {
        let year = today.year();
        let mut missing = Vec::new();
        if !self.is_official(year) {
            missing.push(year);
        }
        if (today.month(), today.day()) >= remind_from && !self.is_official(year + 1) {
            missing.push(year + 1);
        }
        missing
    }

    /// [`Self::missing_years`] as one line for the operator, or `None` when there are none.
    pub fn reminder(&self, today: NaiveDate, remind_from: (u32, u32)) -> Option<String> {
        let missing = self.missing_years(today, remind_from);
        let first = *missing.first()?;
        Some(format!(
            "{} 年节假日安排尚未加载：请按国务院办公厅通知在节假日目录中添加 {first}.toml（可用 \
             duban calendar --draft {first} 生成草稿后更正）；在此之前，落在该年的期限按放假办法推算，标为暂定",
            years_text(&missing)
        ))
    }

    fn offset(&self, date: NaiveDate) -> Result<usize, CalendarError> {
        let offset = date.num_days_from_ce() - self.first_day;
        if offset < 0 || offset as usize >= self.is_workday.len() {
            return Err(self.year_not_loaded(date.year()));
        }
        Ok(offset as usize)
    }

    /// The years counted, split into those on their notice and the provisional ones.
    pub fn official_and_provisional(&self) -> (Vec<i32>, Vec<i32>) {
        self.years().partition(|y| self.is_official(*y))
    }

    /// The error for a date in `year`, which no loaded file covers.
    pub fn year_not_loaded(&self, year: i32) -> CalendarError {
        let (official, provisional) = self.official_and_provisional();
        let loaded = match (official.is_empty(), provisional.is_empty()) {
            (_, true) => years_span(&official),
            (true, false) => format!("{} provisional", years_span(&provisional)),
            (false, false) => format!(
                "{}, {} provisional",
                years_span(&official),
                years_span(&provisional)
            ),
        };
        CalendarError::YearNotLoaded {
            year,
            loaded,
            dir: self.dir.display().to_string(),
        }
    }

    fn date_at(&self, offset: u32) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.first_day + offset as i32)
            .expect("offsets stay within the loaded years")
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.is_workday[self.offset(date)?])
    }

    /// Working days `d` with `after < d ≤ through`; zero when `through ≤ after`.
    pub fn working_days_between(
        &self,
        after: NaiveDate,
        through: NaiveDate,
    ) -> Result<u32, CalendarError> {
        let (a, b) = (self.offset(after)?, self.offset(through)?);
        Ok(self.workdays_through[b].saturating_sub(self.workdays_through[a]))
    }

    /// The `n`-th working day after `date` (`date` itself when `n` is 0). Past the last
    /// loaded year the error names the year that would be needed.
    pub fn nth_working_day_after(
        &self,
        date: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        let offset = self.offset(date)?;
        if n == 0 {
            return Ok(date);
        }
        let k = self.workdays_through[offset] as usize + n as usize - 1;
        match self.workday_offsets.get(k) {
            Some(&target) => Ok(self.date_at(target)),
            None => Err(self.year_not_loaded(self.last_year + 1)),
        }
    }
}

/// From this day of December a date may be arranged by the next year's notice.
const LATE_DECEMBER: u32 = 20;

/// The one line that says why a date counted over `years` (provisional ones) is 暂定.
pub fn provisional_note(years: &[i32]) -> String {
    format!(
        "暂定：{} 年的节假日安排（国务院办公厅通知）尚未加载，其中的工作日按《全国年节及纪念日放假办法》推算，\
         未含调休，期限和已用工作日在通知发布后可能变动",
        years_text(years)
    )
}

/// Sorted years as their runs: "2025–2026", "2025, 2027–2028" (a draft between two files
/// breaks a run), "none".
pub fn years_span(years: &[i32]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut rest = years;
    while let Some(&first) = rest.first() {
        let length = rest
            .iter()
            .zip(first..)
            .take_while(|(year, expected)| **year == *expected)
            .count();
        let last = rest[length - 1];
        runs.push(if last == first {
            first.to_string()
        } else {
            format!("{first}–{last}")
        });
        rest = &rest[length..];
    }
    if runs.is_empty() {
        "none".to_owned()
    } else {
        runs.join(", ")
    }
}

/// Years as the notes write them: 2027、2028.
pub fn years_text(years: &[i32]) -> String {
    years
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join("、")
}

fn year_start(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists in every supported year")
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

fn to_date(file: &TomlFile, value: &Spanned<Datetime>, year: i32) -> Result<NaiveDate, FileError> {
    let datetime = value.get_ref();
    let date = match (datetime.date, datetime.time) {
        (Some(d), None) => {
            NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        }
        _ => None,
    };
    let Some(date) = date else {
        return Err(file.error_at(
            value.span(),
            format!("expected a date like {year}-10-01, got {datetime}"),
        ));
    };
    // Only New Year's Day reaches out of its year, back into late December (2024's began on
    // 30 December 2023); any other date elsewhere is a typo that would change another year.
    let late_previous_december =
        date.year() == year - 1 && date.month() == 12 && date.day() >= LATE_DECEMBER;
    if date.year() != year && !late_previous_december {
        return Err(file.error_at(
            value.span(),
            format!(
                "{date} is not in {year} (only New Year's Day may begin after 20 December {})",
                year - 1
            ),
        ));
    }
    Ok(date)
}

/// Notes what a file says of `day`; a file contradicting another (or itself) is an error.
fn record(
    adjustments: &mut BTreeMap<NaiveDate, (Adjustment, PathBuf)>,
    file: &TomlFile,
    at: &Spanned<Datetime>,
    day: NaiveDate,
    adjustment: Adjustment,
) -> Result<(), FileError> {
    match adjustments.insert(day, (adjustment, file.path().to_path_buf())) {
        Some((previous, previous_file)) if previous != adjustment => Err(file.error_at(
            at.span(),
            format!(
                "{day} is declared both a holiday and a working day (also in {})",
                previous_file.display()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn shipped() -> Calendar {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays");
        Calendar::load_dir(&dir, 0).expect("the shipped holiday files load")
    }

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn years_are_written_as_their_runs() {
        assert_eq!(years_span(&[]), "none");
        assert_eq!(years_span(&[2026]), "2026");
        assert_eq!(years_span(&[2025, 2026]), "2025–2026");
        assert_eq!(years_span(&[2025, 2027, 2028]), "2025, 2027–2028");
    }

    #[test]
    fn every_date_of_2025_and_2026_agrees_with_chinese_holiday() {
        let calendar = shipped();
        assert_eq!(calendar.years(), 2025..=2026);
        let mut day = d("2025-01-01");
        let mut checked = 0;
        while day <= d("2026-12-31") {
            // chinese_holiday 2026.0.1 covers dates up to 2026-12-25; the days after carry no
            // arrangement, so the plain weekday rule is the reference there.
            let expected = if day <= d("2026-12-25") {
                chinese_holiday::chinese_holiday(chinese_holiday::Ymd::new(
                    day.year() as u16,
                    day.month() as u8,
                    day.day() as u8,
                ))
                .is_workday()
            } else {
                !is_weekend(day)
            };
            assert_eq!(calendar.is_working_day(day).unwrap(), expected, "{day}");
            day = day.succ_opt().unwrap();
            checked += 1;
        }
        assert_eq!(checked, 365 + 365);
    }

    #[test]
    fn spring_festival_2026() {
        let c = shipped();
        for day in ["2026-02-15", "2026-02-16", "2026-02-20", "2026-02-23"] {
            assert!(!c.is_working_day(d(day)).unwrap(), "{day} is a holiday");
        }
        assert!(
            c.is_working_day(d("2026-02-14")).unwrap(),
            "Saturday 14 Feb is worked"
        );
        assert!(
            c.is_working_day(d("2026-02-28")).unwrap(),
            "Saturday 28 Feb is worked"
        );
        assert!(c.is_working_day(d("2026-02-24")).unwrap());
        // Friday 13 Feb → Saturday 14 (worked) → next working day Tuesday 24 Feb.
        assert_eq!(
            c.nth_working_day_after(d("2026-02-13"), 1).unwrap(),
            d("2026-02-14")
        );
        assert_eq!(
            c.nth_working_day_after(d("2026-02-14"), 1).unwrap(),
            d("2026-02-24")
        );
        assert_eq!(
            c.working_days_between(d("2026-02-13"), d("2026-02-28"))
                .unwrap(),
            1 + 4 + 1
        );
    }

    #[test]
    fn national_day_2025() {
        let c = shipped();
        assert!(
            c.is_working_day(d("2025-09-28")).unwrap(),
            "Sunday 28 Sep is worked"
        );
        assert!(
            c.is_working_day(d("2025-10-11")).unwrap(),
            "Saturday 11 Oct is worked"
        );
        assert!(!c.is_working_day(d("2025-10-08")).unwrap());
        assert_eq!(
            c.nth_working_day_after(d("2025-09-30"), 1).unwrap(),
            d("2025-10-09")
        );
    }

    #[test]
    fn counting_is_exclusive_of_the_start() {
        let c = shipped();
        assert_eq!(
            c.working_days_between(d("2026-11-02"), d("2026-11-02"))
                .unwrap(),
            0
        );
        assert_eq!(
            c.working_days_between(d("2026-11-02"), d("2026-11-03"))
                .unwrap(),
            1
        );
        assert_eq!(
            c.working_days_between(d("2026-11-06"), d("2026-11-09"))
                .unwrap(),
            1
        );
        assert_eq!(
            c.working_days_between(d("2026-11-09"), d("2026-11-02"))
                .unwrap(),
            0
        );
        assert_eq!(
            c.nth_working_day_after(d("2026-11-06"), 0).unwrap(),
            d("2026-11-06")
        );
    }

    #[test]
    fn outside_the_loaded_years_names_the_year() {
        let c = shipped();
        let err = c.is_working_day(d("2027-01-04")).unwrap_err();
        assert!(
            matches!(&err, CalendarError::YearNotLoaded { year: 2027, loaded, .. } if loaded == "2025–2026")
        );
        assert!(
            err.to_string().contains("config/holidays/2027.toml"),
            "{err}"
        );
        let err = c.nth_working_day_after(d("2026-12-28"), 10).unwrap_err();
        assert!(matches!(
            err,
            CalendarError::YearNotLoaded { year: 2027, .. }
        ));
        let err = c
            .working_days_between(d("2024-12-31"), d("2025-01-03"))
            .unwrap_err();
        assert!(matches!(
            err,
            CalendarError::YearNotLoaded { year: 2024, .. }
        ));
    }

    fn from_texts(texts: &[(&str, &str)]) -> Result<Calendar, CalendarError> {
        let files: Vec<TomlFile> = texts
            .iter()
            .map(|(name, text)| TomlFile::from_text(Path::new(name), (*text).to_owned()))
            .collect();
        Calendar::from_files(Path::new("holidays"), &files, 0)
    }

    #[test]
    fn bad_files_are_reported_with_line_and_key() {
        let err = from_texts(&[(
            "2026.toml",
            "year = 2026\nsource = \"x\"\n[[holidays]]\nname = \"a\"\nfrom = 2026-10-01\nto = 2026-10-02\nworkdays = [2026-10-05]\n",
        )])
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("2026.toml:7: key `holidays[0].workdays"),
            "{text}"
        );
        assert!(text.contains("Saturday or Sunday"), "{text}");

        let err = from_texts(&[("2025.toml", "year = 2026\nsource = \"x\"\n")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("named 2025.toml but says year = 2026"),
            "{err}"
        );

        let err = from_texts(&[("2026.toml", "year = 2026\nsourse = \"x\"\n")]).unwrap_err();
        assert!(
            err.to_string().starts_with("2026.toml:2: key `sourse`"),
            "{err}"
        );
    }

    #[test]
    fn years_must_be_contiguous() {
        let err = from_texts(&[
            ("2024.toml", "year = 2024\nsource = \"x\"\n"),
            ("2026.toml", "year = 2026\nsource = \"x\"\n"),
        ])
        .unwrap_err();
        assert!(
            matches!(err, CalendarError::GapInYears { missing: 2025, .. }),
            "{err}"
        );
        assert!(matches!(
            from_texts(&[]).unwrap_err(),
            CalendarError::NoYears { .. }
        ));
    }

    #[test]
    fn a_festival_may_reach_into_the_previous_year() {
        // New Year's Day 2024 was 30 Dec 2023 – 1 Jan 2024.
        let c = from_texts(&[
            ("2023.toml", "year = 2023\nsource = \"x\"\n"),
            (
                "2024.toml",
                "year = 2024\nsource = \"x\"\n[[holidays]]\nname = \"元旦\"\nfrom = 2023-12-30\nto = 2024-01-01\n",
            ),
        ])
        .unwrap();
        assert!(!c.is_working_day(d("2024-01-01")).unwrap());
        assert!(!c.is_working_day(d("2023-12-30")).unwrap());
        assert!(c.is_working_day(d("2023-12-29")).unwrap());
    }
}
