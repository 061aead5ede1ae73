//! Durations written as `250ms`, `30s`, `2m`, `1h` or a number of seconds.

use std::time::Duration;

/// The longest duration a pipeline may give (100 years of 365 days), in seconds. Anything
/// longer is a typo or a stand-in for "forever"; bounding it keeps every `Instant + Duration`
/// the run computes from it far from overflow.
pub const MAX_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A duration such as `500ms`, `30s`, `2m` or `1h`, or a number of seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HumanDuration {
    /// Seconds.
    Seconds(f64),
    /// A number with a unit: `ms`, `s`, `m` or `h`, e.g. `500ms`, `30s`.
    Text(String),
}

impl HumanDuration {
    /// The duration, or a message saying what is wrong with the text.
    pub fn to_duration(&self) -> Result<Duration, String> {
        let secs = match self {
            HumanDuration::Seconds(s) => *s,
            HumanDuration::Text(t) => parse_seconds(t)?,
        };
        if secs.is_nan() || secs < 0.0 {
            return Err(format!(
                "duration must be a non-negative number, got {}",
                compact_number(secs)
            ));
        }
        // `try_from` also refuses what does not fit a `Duration` at all (`1e20s`).
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if secs <= MAX_SECONDS => Ok(d),
            _ => Err(format!(
                "duration too long: {} is more than 100 years",
                self.as_written()
            )),
        }
    }

    /// The duration as the user wrote it, for messages.
    fn as_written(&self) -> String {
        match self {
            HumanDuration::Seconds(s) => format!("{}s", compact_number(*s)),
            HumanDuration::Text(t) => format!("`{}`", t.trim()),
        }
    }
}

/// A number as short as it can be written without losing it: `1e20`, not 21 digits.
pub fn compact_number(v: f64) -> String {
    // `Debug` switches to exponent notation for very large and very small magnitudes.
    let s = format!("{v:?}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return Err(format!(
            "`{text}` has no unit; write e.g. `500ms`, `30s`, `2m` or `1h`"
        ));
    };
    num.trim()
        .parse::<f64>()
        .map(|v| v * scale)
        .map_err(|_| format!("`{text}` is not a duration; write e.g. `500ms`, `30s`, `2m` or `1h`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let d = |s: &str| HumanDuration::Text(s.into()).to_duration().unwrap();
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("2m"), Duration::from_secs(120));
        assert_eq!(d(" 1.5h "), Duration::from_secs(5400));
        assert!(HumanDuration::Text("30".into()).to_duration().is_err());
        assert!(HumanDuration::Text("abc s".into()).to_duration().is_err());
        assert!(HumanDuration::Seconds(-1.0).to_duration().is_err());
    }

    #[test]
    fn too_long_is_an_error_not_a_panic() {
        for text in [
            "99999999999999999999h",
            "1e20s",
            "1e400s",
            "inf s",
            "101000000h",
        ] {
            let e = HumanDuration::Text(text.into()).to_duration().unwrap_err();
            assert!(e.starts_with("duration too long"), "{text}: {e}");
        }
        let e = HumanDuration::Seconds(1e300).to_duration().unwrap_err();
        assert_eq!(e, "duration too long: 1e300s is more than 100 years");
        assert!(HumanDuration::Seconds(f64::INFINITY).to_duration().is_err());
        assert!(HumanDuration::Text("NaN s".into()).to_duration().is_err());
        assert!(HumanDuration::Text("8760h".into()).to_duration().is_ok());
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact_number(1e308), "1e308");
        assert_eq!(compact_number(5.0), "5");
        assert_eq!(compact_number(0.25), "0.25");
        assert_eq!(compact_number(1e23), "1e23");
    }
}
