//! The almanac: the dates in Beijing time of the solar terms and of the lunisolar months,
//! computed from the sun's and the moon's positions (after Meeus, *Astronomical
//! Algorithms*, chapters 25, 27 and 49: the sun to about 0.01°, new moons to about a minute),
//! so that the festivals of a year whose holiday notice is not out yet can be dated without a
//! table typed in by hand. The month rules are those of GB/T 33661-2017 (农历的编算和颁行):
//! a month begins on the day of a new moon; the month holding the winter solstice is the
//! eleventh; in a year of thirteen months the first month without a principal term (中气)
//! is the leap month. Pure: dates in, dates out.

use chrono::{Duration, NaiveDate, NaiveDateTime};

/// Julian day of 2000-01-01 12:00 TT, the epoch of the series below.
const J2000: f64 = 2_451_545.0;
/// Julian day of 1970-01-01 00:00 UT.
const UNIX_EPOCH_JD: f64 = 2_440_587.5;
/// ΔT = TT − UT, about 69 s in the 2020s; a minute's error here moves no date but the
/// rare term or new moon within a minute of midnight.
const DELTA_T_DAYS: f64 = 69.0 / 86_400.0;
const MEAN_SYNODIC_MONTH: f64 = 29.530_588_861;

fn sin_deg(x: f64) -> f64 {
    x.to_radians().sin()
}

/// The sun's apparent geocentric longitude in degrees `[0, 360)` at Julian Ephemeris Day
/// `jde` (Meeus ch. 25, the low-accuracy method with aberration and nutation in longitude).
pub fn sun_longitude(jde: f64) -> f64 {
    let t = (jde - J2000) / 36_525.0;
    let l0 = 280.466_46 + 36_000.769_83 * t + 0.000_303_2 * t * t;
    let m = 357.529_11 + 35_999.050_29 * t - 0.000_153_7 * t * t;
    let c = (1.914_602 - 0.004_817 * t - 0.000_014 * t * t) * sin_deg(m)
        + (0.019_993 - 0.000_101 * t) * sin_deg(2.0 * m)
        + 0.000_289 * sin_deg(3.0 * m);
    let omega = 125.04 - 1_934.136 * t;
    (l0 + c - 0.005_69 - 0.004_78 * sin_deg(omega)).rem_euclid(360.0)
}

/// The instant (JDE) after `after` at which the sun's longitude reaches `target` degrees.
fn sun_reaches(target: f64, after: f64) -> f64 {
    // The sun moves about 360° / 365.2422 days; start from the mean estimate, then correct.
    let ahead = (target - sun_longitude(after)).rem_euclid(360.0);
    let mut jde = after + ahead * 365.242_2 / 360.0;
    for _ in 0..20 {
        let error = ((target - sun_longitude(jde) + 540.0).rem_euclid(360.0)) - 180.0;
        jde += error * 365.242_2 / 360.0;
        if error.abs() < 1e-7 {
            break;
        }
    }
    jde
}

/// The JDE of the new moon of lunation `k` (k = 0 is the one of 6 January 2000), Meeus
/// ch. 49 with its periodic and planetary terms.
fn new_moon(k: f64) -> f64 {
    let t = k / 1_236.85;
    let (t2, t3, t4) = (t * t, t * t * t, t * t * t * t);
    let mean = 2_451_550.097_66 + MEAN_SYNODIC_MONTH * k + 0.000_154_37 * t2 - 0.000_000_150 * t3
        + 0.000_000_000_73 * t4;
    let e = 1.0 - 0.002_516 * t - 0.000_007_4 * t2;
    let m = 2.553_4 + 29.105_356_70 * k - 0.000_001_4 * t2 - 0.000_000_11 * t3;
    let mp =
        201.564_3 + 385.816_935_28 * k + 0.010_758_2 * t2 + 0.000_012_38 * t3 - 0.000_000_058 * t4;
    let f =
        160.710_8 + 390.670_502_84 * k - 0.001_611_8 * t2 - 0.000_002_27 * t3 + 0.000_000_011 * t4;
    let omega = 124.774_6 - 1.563_755_88 * k + 0.002_067_2 * t2 + 0.000_002_15 * t3;
    let periodic = -0.407_20 * sin_deg(mp)
        + 0.172_41 * e * sin_deg(m)
        + 0.016_08 * sin_deg(2.0 * mp)
        + 0.010_39 * sin_deg(2.0 * f)
        + 0.007_39 * e * sin_deg(mp - m)
        - 0.005_14 * e * sin_deg(mp + m)
        + 0.002_08 * e * e * sin_deg(2.0 * m)
        - 0.001_11 * sin_deg(mp - 2.0 * f)
        - 0.000_57 * sin_deg(mp + 2.0 * f)
        + 0.000_56 * e * sin_deg(2.0 * mp + m)
        - 0.000_42 * sin_deg(3.0 * mp)
        + 0.000_42 * e * sin_deg(m + 2.0 * f)
        + 0.000_38 * e * sin_deg(m - 2.0 * f)
        - 0.000_24 * e * sin_deg(2.0 * mp - m)
        - 0.000_17 * sin_deg(omega)
        - 0.000_07 * sin_deg(mp + 2.0 * m)
        + 0.000_04 * sin_deg(2.0 * mp - 2.0 * f)
        + 0.000_04 * sin_deg(3.0 * m)
        + 0.000_03 * sin_deg(mp + m - 2.0 * f)
        + 0.000_03 * sin_deg(2.0 * mp + 2.0 * f)
        - 0.000_03 * sin_deg(mp + m + 2.0 * f)
        + 0.000_03 * sin_deg(mp - m + 2.0 * f)
        - 0.000_02 * sin_deg(mp - m - 2.0 * f)
        - 0.000_02 * sin_deg(3.0 * mp + m)
        + 0.000_02 * sin_deg(4.0 * mp);
    let planetary: [(f64, f64); 14] = [
        (0.000_325, 299.77 + 0.107_408 * k - 0.009_173 * t2),
        (0.000_165, 251.88 + 0.016_321 * k),
        (0.000_164, 251.83 + 26.651_886 * k),
        (0.000_126, 349.42 + 36.412_478 * k),
        (0.000_110, 84.66 + 18.206_239 * k),
        (0.000_062, 141.74 + 53.303_771 * k),
        (0.000_060, 207.14 + 2.453_732 * k),
        (0.000_056, 154.84 + 7.306_860 * k),
        (0.000_047, 34.52 + 27.261_239 * k),
        (0.000_042, 207.19 + 0.121_824 * k),
        (0.000_040, 291.34 + 1.844_379 * k),
        (0.000_037, 161.72 + 24.198_154 * k),
        (0.000_035, 239.56 + 25.513_099 * k),
        (0.000_023, 331.55 + 3.592_518 * k),
    ];
    let planetary: f64 = planetary.iter().map(|(a, x)| a * sin_deg(*x)).sum();
    mean + periodic + planetary
}

/// The date in Beijing time (UTC+8, the zone the calendar is computed in) of instant `jde`.
fn beijing_date(jde: f64) -> NaiveDate {
    let unix_seconds = (jde - DELTA_T_DAYS - UNIX_EPOCH_JD) * 86_400.0 + 8.0 * 3_600.0;
    let instant = chrono::DateTime::from_timestamp(unix_seconds.floor() as i64, 0)
        .expect("the almanac's instants are within chrono's range");
    instant.date_naive()
}

/// The JDE of 00:00 Beijing time on `date`.
fn beijing_midnight(date: NaiveDate) -> f64 {
    let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    let unix_seconds = midnight.and_utc().timestamp() as f64 - 8.0 * 3_600.0;
    unix_seconds / 86_400.0 + UNIX_EPOCH_JD + DELTA_T_DAYS
}

/// The Beijing date on which the sun reaches `longitude` degrees in the Gregorian `year`
/// (each longitude is reached once a year; 0° is the March equinox).
pub fn solar_term(year: i32, longitude: f64) -> NaiveDate {
    // From the December solstice of the year before: every longitude follows within a year.
    let start = beijing_midnight(NaiveDate::from_ymd_opt(year - 1, 12, 1).expect("a date"));
    let mut jde = sun_reaches(longitude, start);
    while beijing_date(jde) < NaiveDate::from_ymd_opt(year, 1, 1).expect("a date") {
        jde = sun_reaches(longitude, jde + 1.0);
    }
    beijing_date(jde)
}

/// 清明, the solar term at 15°.
pub fn qingming(year: i32) -> NaiveDate {
    solar_term(year, 15.0)
}

/// The Beijing dates on which the months begin, from the month of the winter solstice of
/// `year − 1` (the eleventh) up to and including the one of the solstice of `year`.
fn month_starts(year: i32) -> Vec<NaiveDate> {
    let solstice = |y: i32| solar_term(y, 270.0);
    let (from, to) = (solstice(year - 1), solstice(year));
    // The lunation whose new moon is on or before a date.
    let lunation_before = |date: NaiveDate| {
        let days_since_k0 = beijing_midnight(date) - 2_451_550.1;
        let mut k = (days_since_k0 / MEAN_SYNODIC_MONTH).floor();
        while beijing_date(new_moon(k + 1.0)) <= date {
            k += 1.0;
        }
        while beijing_date(new_moon(k)) > date {
            k -= 1.0;
        }
        k
    };
    let (first, last) = (lunation_before(from), lunation_before(to));
    let mut k = first;
    let mut starts = Vec::new();
    while k <= last {
        starts.push(beijing_date(new_moon(k)));
        k += 1.0;
    }
    starts
}

/// Whether the month from `start` up to (not including) `next` holds a principal term
/// (中气, the sun at a multiple of 30°).
fn holds_principal_term(start: NaiveDate, next: NaiveDate) -> bool {
    let sector = |date: NaiveDate| (sun_longitude(beijing_midnight(date)) / 30.0).floor() as i64;
    sector(start) != sector(next)
}

/// The lunisolar year that begins in Gregorian `year`: the first day of each of its months
/// 1–12 (the ordinary, not the leap, month of each number), and the first day of the next
/// year's first month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LunarYear {
    months: [NaiveDate; 12],
    next_new_year: NaiveDate,
}

impl LunarYear {
    pub fn of(year: i32) -> Self {
        let numbered = numbered_months(year);
        let next = numbered_months(year + 1);
        let first = |months: &[(u32, bool, NaiveDate)], n: u32| {
            months
                .iter()
                .find(|(number, leap, _)| *number == n && !leap)
                .map(|(.., start)| *start)
                .expect("every lunisolar year has each month number")
        };
        let mut months = [NaiveDate::MIN; 12];
        for (n, month) in (1..=12).zip(months.iter_mut()) {
            *month = first(&numbered, n);
        }
        // Months 11 and 12 of this lunar year fall in the next solstice cycle.
        months[10] = first(&next, 11);
        months[11] = first(&next, 12);
        Self {
            months,
            next_new_year: first(&next, 1),
        }
    }

    /// Day `day` (1-based) of the ordinary month `month`.
    pub fn day(&self, month: u32, day: u32) -> NaiveDate {
        self.months[month as usize - 1] + Duration::days(i64::from(day) - 1)
    }

    /// 春节, the first day of the first month.
    pub fn new_year(&self) -> NaiveDate {
        self.months[0]
    }

    /// 除夕 of this lunar year, the last day of its twelfth month (the eve of the next 春节).
    pub fn new_years_eve(&self) -> NaiveDate {
        self.next_new_year - Duration::days(1)
    }
}

/// The months of the solstice cycle ending in `year`, numbered: (number, leap, first day),
/// from the eleventh month of the year before through the month before next's eleventh.
fn numbered_months(year: i32) -> Vec<(u32, bool, NaiveDate)> {
    let starts = month_starts(year);
    // Thirteen months between two eleventh months make a leap year: the first of them
    // without a principal term is the leap month, numbered as the month before it.
    let leap_year = starts.len() == 14;
    let mut leap_found = false;
    let mut number = 10;
    let mut out = Vec::new();
    for pair in starts.windows(2) {
        let leap = leap_year && !leap_found && !holds_principal_term(pair[0], pair[1]);
        if leap {
            leap_found = true;
        } else {
            number = number % 12 + 1;
        }
        out.push((number, leap, pair[0]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_sun_at_known_instants() {
        // Meeus, example 25.a: 1992-10-13 0h TD, apparent longitude 199.90895°.
        assert!((sun_longitude(2_448_908.5) - 199.908_95).abs() < 0.01);
    }

    #[test]
    fn a_new_moon_as_in_meeus() {
        // Meeus, example 49.a: the new moon of February 1977 at JDE 2443192.65118.
        assert!((new_moon(-283.0) - 2_443_192.651_18).abs() < 0.000_1);
    }

    #[test]
    fn known_terms_and_festivals() {
        // As published in the 2025 and 2026 notices and the Purple Mountain Observatory's
        // almanac for 2027 and 2028.
        for (year, qingming_on) in [
            (2025, "2025-04-04"),
            (2026, "2026-04-05"),
            (2027, "2027-04-05"),
            (2028, "2028-04-04"),
        ] {
            assert_eq!(qingming(year), d(qingming_on), "{year}");
        }
        for (year, spring, dragon_boat, mid_autumn) in [
            (2025, "2025-01-29", "2025-05-31", "2025-10-06"),
            (2026, "2026-02-17", "2026-06-19", "2026-09-25"),
            (2027, "2027-02-06", "2027-06-09", "2027-09-15"),
            (2028, "2028-01-26", "2028-05-28", "2028-10-03"),
        ] {
            let lunar = LunarYear::of(year);
            assert_eq!(
                (lunar.new_year(), lunar.day(5, 5), lunar.day(8, 15)),
                (d(spring), d(dragon_boat), d(mid_autumn)),
                "{year}"
            );
        }
        // 2026 has a twelfth month of 30 days: 除夕 is on the 16th.
        assert_eq!(LunarYear::of(2025).new_years_eve(), d("2026-02-16"));
        // 2033 is the year the leap month falls after the eleventh (闰十一月): 春节 2033 is
        // 31 January and 春节 2034 19 February.
        assert_eq!(LunarYear::of(2033).new_year(), d("2033-01-31"));
        assert_eq!(LunarYear::of(2034).new_year(), d("2034-02-19"));
    }
}
