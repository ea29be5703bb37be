//! Durations and instants as the sequencer needs them: `xs:duration` /
//! `timeinterval (second,10,2)` text to milliseconds, and `xs:dateTime` text
//! to UTC instants.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Parses an ISO 8601 duration (`P1DT2H3M4.5S`) into milliseconds. Years and
/// months count as 365 and 30 days, as limit conditions need an order, not a
/// calendar. Returns `None` for text that is not a duration.
pub(crate) fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let rest = text.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return None,
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let mut total = 0.0_f64;
    let mut parse_part = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut unit_index = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let position = units[unit_index..].iter().position(|(u, _)| *u == c)?;
            unit_index += position + 1;
            let value: f64 = number.parse().ok()?;
            total += value * units[unit_index - 1].1;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    const DAY: f64 = 86_400_000.0;
    parse_part(
        date,
        &[
            ('Y', 365.0 * DAY),
            ('M', 30.0 * DAY),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(time) = time {
        parse_part(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)])?;
    }
    if !total.is_finite() || total < 0.0 {
        return None;
    }
    Some(total.round() as u64)
}

/// Parses an `xs:dateTime`; a value without offset is taken as UTC.
pub(crate) fn parse_date_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::{parse_date_time, parse_duration_ms};

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("PT1H2M3.5S"), Some(3_723_500));
        assert_eq!(parse_duration_ms("P1D"), Some(86_400_000));
        assert_eq!(parse_duration_ms("PT0S"), Some(0));
        assert_eq!(parse_duration_ms("P1DT1S"), Some(86_401_000));
        for invalid in ["", "P", "PT", "1H", "PT1X", "PT1S2M", "PT1.2.3S"] {
            assert_eq!(parse_duration_ms(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn date_times() {
        let with_offset = parse_date_time("2024-01-02T03:04:05+01:00").unwrap();
        let without = parse_date_time("2024-01-02T02:04:05").unwrap();
        assert_eq!(with_offset, without);
        assert!(parse_date_time("yesterday").is_none());
    }
}
