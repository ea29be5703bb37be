//! Time spans of both data models, exact to the centisecond.
//!
//! SCORM 1.2 writes spans as `CMITimespan` (`HHHH:MM:SS.SS`); SCORM 2004
//! writes them as ISO 8601 durations (`P1DT2H3M4.5S`). Both carry at most two
//! fractional digits, so both are held as whole centiseconds and never
//! through floating point.

use std::fmt;

use super::types::Pattern;

/// Why a string is not a time span of the expected format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not `P[nY][nM][nD][T[nH][nM][n[.n[n]]S]]` with at least one component.
    #[error("not an iso 8601 duration: {0:?}")]
    InvalidDuration(String),
    /// Not `HH[HH]:MM:SS[.S[S]]`.
    #[error("not a cmi timespan: {0:?}")]
    InvalidTimespan(String),
}

/// A SCORM 2004 `timeinterval (second,10,2)`: an ISO 8601 duration.
///
/// Years and months are kept as written because their length in seconds
/// depends on the calendar; [`IsoDuration::saturating_add`] carries centiseconds into
/// seconds, minutes, hours and days, and no further (as ADL's sample RTE
/// does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IsoDuration {
    /// The `nY` component.
    pub years: u64,
    /// The `nM` component before `T`.
    pub months: u64,
    /// The `nD` component.
    pub days: u64,
    /// The `nH` component.
    pub hours: u64,
    /// The `nM` component after `T`.
    pub minutes: u64,
    /// The `n.nnS` component, in hundredths of a second.
    pub centiseconds: u64,
}

impl IsoDuration {
    /// The empty duration, written `PT0H0M0S`.
    pub const ZERO: IsoDuration = IsoDuration {
        years: 0,
        months: 0,
        days: 0,
        hours: 0,
        minutes: 0,
        centiseconds: 0,
    };

    /// Parses a SCORM 2004 duration.
    ///
    /// Components may be as large as written (they saturate at `u64::MAX`);
    /// `P` alone and a trailing `T` are refused, as are weeks and more than
    /// two fractional digits.
    pub fn parse(text: &str) -> Result<IsoDuration, TimeError> {
        let invalid = || TimeError::InvalidDuration(text.to_owned());
        if text == "P" || text.ends_with('T') {
            return Err(invalid());
        }
        let caps = Pattern::Duration
            .regex()
            .captures(text)
            .ok_or_else(invalid)?;
        let number = |name: &str| caps.name(name).map_or(0, |m| saturating_digits(m.as_str()));
        let seconds = number("seconds");
        let fraction = caps
            .name("fraction")
            .map_or(0, |m| centis_of_fraction(m.as_str()));
        Ok(IsoDuration {
            years: number("years"),
            months: number("months"),
            days: number("days"),
            hours: number("hours"),
            minutes: number("minutes"),
            centiseconds: seconds.saturating_mul(100).saturating_add(fraction),
        })
    }

    /// A duration of `centiseconds`, expressed in days, hours, minutes and seconds.
    pub fn from_centiseconds(centiseconds: u64) -> IsoDuration {
        IsoDuration {
            centiseconds,
            ..IsoDuration::ZERO
        }
        .normalized()
    }

    /// The sum of two durations, component by component, with centiseconds
    /// carried up to days (also available as `+`).
    pub fn saturating_add(self, other: IsoDuration) -> IsoDuration {
        IsoDuration {
            years: self.years.saturating_add(other.years),
            months: self.months.saturating_add(other.months),
            days: self.days.saturating_add(other.days),
            hours: self.hours.saturating_add(other.hours),
            minutes: self.minutes.saturating_add(other.minutes),
            centiseconds: self.centiseconds.saturating_add(other.centiseconds),
        }
        .normalized()
    }

    /// The same duration with seconds below 60, minutes below 60 and hours
    /// below 24 (the excess carried upwards; years and months untouched).
    pub fn normalized(self) -> IsoDuration {
        let minutes = self.minutes.saturating_add(self.centiseconds / 6000);
        let hours = self.hours.saturating_add(minutes / 60);
        let days = self.days.saturating_add(hours / 24);
        IsoDuration {
            years: self.years,
            months: self.months,
            days,
            hours: hours % 24,
            minutes: minutes % 60,
            centiseconds: self.centiseconds % 6000,
        }
    }

    /// The length in centiseconds, when it does not depend on the calendar
    /// (no years, no months); `None` otherwise or on overflow.
    pub fn exact_centiseconds(&self) -> Option<u64> {
        if self.years != 0 || self.months != 0 {
            return None;
        }
        let hours = self.days.checked_mul(24)?.checked_add(self.hours)?;
        let minutes = hours.checked_mul(60)?.checked_add(self.minutes)?;
        minutes.checked_mul(6000)?.checked_add(self.centiseconds)
    }
}

impl std::ops::Add for IsoDuration {
    type Output = IsoDuration;

    fn add(self, other: IsoDuration) -> IsoDuration {
        self.saturating_add(other)
    }
}

impl fmt::Display for IsoDuration {
    /// Writes the duration with zero components left out, and the empty
    /// duration as `PT0H0M0S` (the initial `cmi.total_time`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == IsoDuration::ZERO {
            return f.write_str("PT0H0M0S");
        }
        f.write_str("P")?;
        for (value, unit) in [(self.years, 'Y'), (self.months, 'M'), (self.days, 'D')] {
            if value != 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        if self.hours == 0 && self.minutes == 0 && self.centiseconds == 0 {
            return Ok(());
        }
        f.write_str("T")?;
        if self.hours != 0 {
            write!(f, "{}H", self.hours)?;
        }
        if self.minutes != 0 {
            write!(f, "{}M", self.minutes)?;
        }
        if self.centiseconds != 0 {
            write!(f, "{}", self.centiseconds / 100)?;
            match self.centiseconds % 100 {
                0 => {}
                fraction if fraction % 10 == 0 => write!(f, ".{}", fraction / 10)?,
                fraction => write!(f, ".{fraction:02}")?,
            }
            f.write_str("S")?;
        }
        Ok(())
    }
}

/// A SCORM 1.2 `CMITimespan`, `HHHH:MM:SS.SS`, held in centiseconds.
///
/// Hours have two to four digits, so the largest span is
/// `9999:59:59.99`; sums clamp there rather than wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timespan12 {
    centiseconds: u64,
}

impl Timespan12 {
    /// The empty span, written `0000:00:00.00`.
    pub const ZERO: Timespan12 = Timespan12 { centiseconds: 0 };

    /// The largest span `CMITimespan` can write, `9999:59:59.99`.
    pub const MAX: Timespan12 = Timespan12 {
        centiseconds: ((9999 * 60 + 59) * 60 + 59) * 100 + 99,
    };

    /// Parses `HH:MM:SS`, with two to four hour digits and one or two
    /// fractional digits; the blank span `""` is zero.
    pub fn parse(text: &str) -> Result<Timespan12, TimeError> {
        if text.is_empty() {
            return Ok(Timespan12::ZERO);
        }
        let caps = Pattern::Timespan12
            .regex()
            .captures(text)
            .ok_or_else(|| TimeError::InvalidTimespan(text.to_owned()))?;
        let number = |name: &str| caps.name(name).map_or(0, |m| saturating_digits(m.as_str()));
        let fraction = caps
            .name("fraction")
            .map_or(0, |m| centis_of_fraction(m.as_str()));
        let seconds = (number("hours") * 60 + number("minutes")) * 60 + number("seconds");
        Ok(Timespan12 {
            centiseconds: seconds * 100 + fraction,
        })
    }

    /// A span of `centiseconds`, clamped to [`Timespan12::MAX`].
    pub fn from_centiseconds(centiseconds: u64) -> Timespan12 {
        Timespan12 {
            centiseconds: centiseconds.min(Timespan12::MAX.centiseconds),
        }
    }

    /// The span in centiseconds.
    pub fn centiseconds(self) -> u64 {
        self.centiseconds
    }

    /// The sum of two spans, clamped to [`Timespan12::MAX`] (also available as `+`).
    pub fn saturating_add(self, other: Timespan12) -> Timespan12 {
        Timespan12::from_centiseconds(self.centiseconds.saturating_add(other.centiseconds))
    }
}

impl std::ops::Add for Timespan12 {
    type Output = Timespan12;

    fn add(self, other: Timespan12) -> Timespan12 {
        self.saturating_add(other)
    }
}

impl fmt::Display for Timespan12 {
    /// Writes four hour digits and two fractional digits: `0001:02:03.40`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_seconds = self.centiseconds / 100;
        write!(
            f,
            "{:04}:{:02}:{:02}.{:02}",
            total_seconds / 3600,
            total_seconds / 60 % 60,
            total_seconds % 60,
            self.centiseconds % 100
        )
    }
}

/// Reads a run of ASCII digits, saturating instead of overflowing.
pub(crate) fn saturating_digits(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    })
}

/// Reads one or two fractional digits as hundredths (`"5"` is 50).
fn centis_of_fraction(digits: &str) -> u64 {
    let value = saturating_digits(digits);
    if digits.len() == 1 { value * 10 } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_to_components() {
        let cases = [
            ("PT0H0M0S", IsoDuration::ZERO),
            (
                "P1Y2M3DT4H5M6.7S",
                IsoDuration {
                    years: 1,
                    months: 2,
                    days: 3,
                    hours: 4,
                    minutes: 5,
                    centiseconds: 670,
                },
            ),
            (
                "PT01H059M020S",
                IsoDuration {
                    hours: 1,
                    minutes: 59,
                    centiseconds: 2000,
                    ..IsoDuration::ZERO
                },
            ),
            (
                "PT0.05S",
                IsoDuration {
                    centiseconds: 5,
                    ..IsoDuration::ZERO
                },
            ),
            (
                "P29D",
                IsoDuration {
                    days: 29,
                    ..IsoDuration::ZERO
                },
            ),
            (
                "PT99999999999999999999999H",
                IsoDuration {
                    hours: u64::MAX,
                    ..IsoDuration::ZERO
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(IsoDuration::parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in [
            "", "P", "PT", "P1DT", "1H", "PT1H2", "PT1.5H", "PT1.123S", "P1W", "pt1h", "PT-1S",
            "P1H", "PT1M1H", " PT1S", "PT1S ", "P1Y1Y", "PT.5S",
        ] {
            assert_eq!(
                IsoDuration::parse(text),
                Err(TimeError::InvalidDuration(text.to_owned())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn durations_add_with_carry_up_to_days() {
        let cases = [
            ("PT0H0M0S", "PT0H0M0S", "PT0H0M0S"),
            ("PT1M", "PT01H059M020S", "PT2H20S"),
            ("PT2H20S", "PT0H05M49S", "PT2H6M9S"),
            ("PT0H0M0S", "P0Y029DT0H", "P29D"),
            ("PT59.99S", "PT0.01S", "PT1M"),
            ("PT23H59M59.5S", "PT0.5S", "P1D"),
            ("P1Y", "P13M", "P1Y13M"),
            ("PT0.1S", "PT0.05S", "PT0.15S"),
            ("PT0.5S", "PT0S", "PT0.5S"),
            ("PT90S", "PT0S", "PT1M30S"),
        ];
        for (a, b, sum) in cases {
            let total = IsoDuration::parse(a).unwrap() + IsoDuration::parse(b).unwrap();
            assert_eq!(total.to_string(), sum, "{a} + {b}");
            assert_eq!(IsoDuration::parse(sum).unwrap(), total, "{sum} round trip");
        }
    }

    #[test]
    fn exact_length_is_known_without_years_and_months() {
        assert_eq!(
            IsoDuration::parse("P1DT1H1M1.01S")
                .unwrap()
                .exact_centiseconds(),
            Some(((24 + 1) * 60 + 1) * 6000 + 101)
        );
        assert_eq!(
            IsoDuration::parse("P1M").unwrap().exact_centiseconds(),
            None
        );
        assert_eq!(
            IsoDuration::from_centiseconds(9_000_001).to_string(),
            "P1DT1H0.01S"
        );
    }

    #[test]
    fn timespans_parse_add_and_format() {
        let cases = [
            ("00:00:00", 0),
            ("", 0),
            ("01:02:03.4", ((60 + 2) * 60 + 3) * 100 + 40),
            ("0001:02:03.45", ((60 + 2) * 60 + 3) * 100 + 45),
            ("9999:59:59.99", Timespan12::MAX.centiseconds()),
        ];
        for (text, centis) in cases {
            assert_eq!(
                Timespan12::parse(text).unwrap().centiseconds(),
                centis,
                "{text}"
            );
        }
        let sum =
            Timespan12::parse("0000:59:59.99").unwrap() + Timespan12::parse("00:00:00.01").unwrap();
        assert_eq!(sum.to_string(), "0001:00:00.00");
        let clamped = Timespan12::MAX + Timespan12::parse("01:00:00").unwrap();
        assert_eq!(clamped.to_string(), "9999:59:59.99");
        assert_eq!(Timespan12::ZERO.to_string(), "0000:00:00.00");
    }

    #[test]
    fn malformed_timespans_are_refused() {
        for text in [
            "1:00:00",
            "00000:00:00",
            "00:60:00",
            "00:00:60",
            "00:00:00.123",
            "00:00",
        ] {
            assert!(Timespan12::parse(text).is_err(), "{text:?}");
        }
    }
}
