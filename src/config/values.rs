//! The value parsers of the configuration: Elasticsearch byte sizes and time values, the follow parameters
//! built from them, humantime durations, cron schedules and flattened index settings.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The ten follow parameters of `PUT /{index}/_ccr/follow`, `resume_follow` and auto-follow patterns.
/// Unset parameters are not sent (the cluster's defaults apply) and never count as drift. Sizes and times are
/// Elasticsearch strings (`"32mb"`, `"500ms"`); they are compared by value, so `"1m"` equals `"60s"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowParameters {
    /// Operations per read request to the leader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_read_request_operation_count: Option<u64>,
    /// Read requests in flight at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_outstanding_read_requests: Option<u64>,
    /// Bytes per read request (a byte size such as `"32mb"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_read_request_size: Option<String>,
    /// Operations per bulk write on the follower.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_request_operation_count: Option<u64>,
    /// Bytes per bulk write (a byte size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_request_size: Option<String>,
    /// Write requests in flight at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_outstanding_write_requests: Option<u64>,
    /// Queued operations before reads are paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_buffer_count: Option<u64>,
    /// Queued bytes before reads are paused (a byte size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_buffer_size: Option<String>,
    /// The longest wait before retrying a failed operation (a time value, at most 5m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retry_delay: Option<String>,
    /// How long a read waits for new operations when caught up (a time value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_poll_timeout: Option<String>,
}

impl FollowParameters {
    /// True when no parameter is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The parameters as a JSON object (only the set ones), for request bodies.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// Checks the values like Elasticsearch would (positive counts, parseable sizes and times, retry delay at
    /// most 5m), recording one problem per bad value under `at`.
    pub(super) fn validate(&self, at: &str, p: &mut Vec<String>) {
        for (k, v) in [
            (
                "max_read_request_operation_count",
                self.max_read_request_operation_count,
            ),
            (
                "max_outstanding_read_requests",
                self.max_outstanding_read_requests,
            ),
            (
                "max_write_request_operation_count",
                self.max_write_request_operation_count,
            ),
            (
                "max_outstanding_write_requests",
                self.max_outstanding_write_requests,
            ),
            ("max_write_buffer_count", self.max_write_buffer_count),
        ] {
            if v == Some(0) || v.is_some_and(|n| n > i32::MAX as u64) {
                p.push(format!(
                    "`{at}.parameters.{k}` must be between 1 and {}",
                    i32::MAX
                ));
            }
        }
        for (k, v) in [
            ("max_read_request_size", &self.max_read_request_size),
            ("max_write_request_size", &self.max_write_request_size),
            ("max_write_buffer_size", &self.max_write_buffer_size),
        ] {
            if let Some(v) = v {
                match parse_byte_size(v) {
                    Some(n) if n > 0 => {}
                    _ => p.push(format!(
                        "`{at}.parameters.{k}` = `{v}` is not a positive byte size like \"32mb\""
                    )),
                }
            }
        }
        for (k, v) in [
            ("max_retry_delay", &self.max_retry_delay),
            ("read_poll_timeout", &self.read_poll_timeout),
        ] {
            if let Some(v) = v {
                match parse_es_time(v) {
                    Some(d)
                        if k == "max_retry_delay"
                            && (d.is_zero() || d > Duration::from_secs(300)) =>
                    {
                        p.push(format!(
                            "`{at}.parameters.{k}` = `{v}` must be positive and at most 5m"
                        ))
                    }
                    Some(_) => {}
                    None => p.push(format!(
                        "`{at}.parameters.{k}` = `{v}` is not a time like \"500ms\" or \"1m\""
                    )),
                }
            }
        }
    }
}

/// Parses an Elasticsearch byte size (`"512mb"`, `"9223372036854775807b"`, `"1.5gb"`) into bytes.
pub fn parse_byte_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        "t" | "tb" => 1 << 40,
        "p" | "pb" => 1 << 50,
        _ => return None,
    };
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult);
    }
    let f: f64 = num.parse().ok()?;
    (f.is_finite() && f >= 0.0).then_some((f * mult as f64) as u64)
}

/// Parses an Elasticsearch time value (`"500ms"`, `"1m"`, `"30s"`, `"2h"`, `"1d"`, `"100micros"`).
pub fn parse_es_time(s: &str) -> Option<Duration> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" || t == "0" {
        return Some(Duration::ZERO);
    }
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "nanos" => Duration::from_nanos(n),
        "micros" => Duration::from_micros(n),
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
}

/// A cron schedule accepted by tokio-cron-scheduler (always 6 fields after normalisation), parsed once.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// The expression as the scheduler receives it (a 5-field crontab gets a leading `0 `).
    pub expr: String,
    /// The longest gap between consecutive runs (over the next runs); drives "overdue" detection.
    pub period: Duration,
    /// `expr`, parsed by [`cron_parser`].
    cron: croner::Cron,
}

impl CronSchedule {
    /// Accepts a 6-field cron expression (seconds first) or a 5-field crontab (a `0 ` seconds field is
    /// prepended). `period` is measured over the runs that follow `now`.
    pub fn parse(expr: &str, now: DateTime<Utc>) -> Result<Self, String> {
        let fields = expr.split_whitespace().count();
        let normalised = match fields {
            6 => expr.split_whitespace().collect::<Vec<_>>().join(" "),
            5 => format!("0 {}", expr.split_whitespace().collect::<Vec<_>>().join(" ")),
            n => {
                return Err(format!(
                    "`{expr}` has {n} fields; expected 6 (sec min hour day-of-month month day-of-week) or a 5-field crontab"
                ))
            }
        };
        let cron = cron_parser()
            .parse(&normalised)
            .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))?;
        tokio_cron_scheduler::Job::new_async(normalised.as_str(), |_, _| Box::pin(async {}))
            .map_err(|e| format!("`{expr}` is rejected by the scheduler: {e}"))?;
        let never = |e: croner::errors::CronError| format!("`{expr}` never fires: {e}");
        let mut at = cron.find_next_occurrence(&now, false).map_err(never)?;
        let mut period = Duration::ZERO;
        for _ in 0..16 {
            let next = cron.find_next_occurrence(&at, false).map_err(never)?;
            period = period.max((next - at).to_std().unwrap_or(Duration::ZERO));
            at = next;
        }
        Ok(CronSchedule {
            expr: normalised,
            period,
            cron,
        })
    }

    /// The parsed expression, for computing occurrences (maintenance windows).
    pub fn cron(&self) -> &croner::Cron {
        &self.cron
    }
}

/// The cron parser with tokio-cron-scheduler 0.15's settings (seconds required, day-of-month AND
/// day-of-week), so an expression that passes here also schedules there and fires at the same times.
pub fn cron_parser() -> croner::parser::CronParser {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
}

/// Parses a humantime duration (`"10s"`, `"5m"`) that must be longer than zero, recording a problem under
/// `key` otherwise.
pub(super) fn parse_duration(key: &str, s: &str, problems: &mut Vec<String>) -> Option<Duration> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d > Duration::ZERO => Some(d),
        Ok(_) => {
            problems.push(format!("`{key}` must be longer than zero (got `{s}`)"));
            None
        }
        Err(e) => {
            problems.push(format!(
                "`{key}` = `{s}` is not a duration like \"10s\" or \"5m\": {e}"
            ));
            None
        }
    }
}

/// Flattens nested index settings into `index.*` keys with string values, the form Elasticsearch reports
/// with `flat_settings=true`; keys without the `index.` prefix get it.
pub fn flat_index_settings(
    settings: Option<&serde_json::Map<String, serde_json::Value>>,
) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut flat = BTreeMap::new();
    if let Some(m) = settings {
        walk("", &serde_json::Value::Object(m.clone()), &mut flat);
    }
    flat.into_iter()
        .map(|(k, v)| {
            if k.starts_with("index.") {
                (k, v)
            } else {
                (format!("index.{k}"), v)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::parse_cron;

    #[test]
    fn byte_sizes_and_times() {
        assert_eq!(parse_byte_size("32mb"), Some(32 << 20));
        assert_eq!(
            parse_byte_size("9223372036854775807b"),
            Some(i64::MAX as u64)
        );
        assert_eq!(parse_byte_size("0.5gb"), Some(512 << 20));
        assert_eq!(parse_byte_size("12"), None);
        assert_eq!(parse_es_time("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_es_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_es_time("soon"), None);
    }

    #[test]
    fn cron_accepts_six_and_five_fields() {
        assert_eq!(
            parse_cron("*/15 * * * * *").unwrap().period,
            Duration::from_secs(15)
        );
        let five = parse_cron("*/5 * * * *").unwrap();
        assert_eq!(five.expr, "0 */5 * * * *");
        assert_eq!(five.period, Duration::from_secs(300));
        assert!(parse_cron("* * *").is_err());
        assert!(parse_cron("61 * * * * *").is_err());
    }

    #[test]
    fn cron_schedule_keeps_the_parsed_expression() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
        let s = CronSchedule::parse("0 22 * * *", now).unwrap();
        assert_eq!(s.period, Duration::from_secs(86_400));
        assert_eq!(
            s.cron().find_next_occurrence(&now, false).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 1, 22, 0, 0).unwrap()
        );
    }
}
