//! Durations written as `250ms`, `30s`, `2m`, `1h` or a number of seconds.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A duration as written in YAML.
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
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("duration must be a non-negative number, got {secs}"));
        }
        Ok(Duration::from_secs_f64(secs))
    }
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
}
