//! Standard 5-field crontab expressions on top of the `cron` crate.
//!
//! The `cron` crate wants 6 or 7 fields with seconds first and numbers
//! weekdays 1–7 from **Sunday**, while crontab numbers them 0–7 with both 0
//! and 7 meaning Sunday (Monday = 1). Passing a crontab string through would
//! silently move every numeric weekday by one day, so the day-of-week field
//! is rewritten value by value here. Names (`MON-FRI`) mean the same in both
//! and pass through.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A parsed schedule plus the text the operator wrote.
#[derive(Clone)]
pub struct CronSchedule {
    text: String,
    schedule: cron::Schedule,
}

impl CronSchedule {
    /// Parses a 5-field crontab expression (`min hour dom month dow`) or an
    /// `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly` alias. All times UTC.
    ///
    /// # Errors
    /// A human-readable reason when the expression is not valid crontab.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let translated = if trimmed.starts_with('@') {
            match trimmed {
                "@hourly" | "@daily" | "@weekly" | "@monthly" | "@yearly" | "@annually" => {
                    trimmed.to_owned()
                }
                _ => return Err(format!("unknown alias `{trimmed}`")),
            }
        } else {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                    fields.len()
                ));
            }
            if fields[2] != "*" && fields[2] != "?" && fields[4] != "*" && fields[4] != "?" {
                return Err(
                    "both day-of-month and day-of-week are restricted; crontab runs when EITHER \
                     matches, which this scheduler does not emulate: restrict only one of them"
                        .to_owned(),
                );
            }
            let dow = translate_weekdays(fields[4])?;
            format!(
                "0 {} {} {} {} {}",
                fields[0], fields[1], fields[2], fields[3], dow
            )
        };
        let schedule = cron::Schedule::from_str(&translated).map_err(|e| e.to_string())?;
        Ok(CronSchedule {
            text: trimmed.to_owned(),
            schedule,
        })
    }

    /// The next fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.schedule.after(&after).take(n).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.text)
    }
}

/// Rewrites a crontab day-of-week field into the `cron` crate's numbering.
fn translate_weekdays(field: &str) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
        if range == "*" || range == "?" {
            // `*/n` in crontab starts at Sunday (0); in `cron` at Sunday (1):
            // the same days either way.
            out.push(format!("{range}{step_suffix}"));
            continue;
        }
        let is_numeric = range.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        if !is_numeric {
            if range.bytes().any(|b| b.is_ascii_digit()) {
                return Err(format!("cannot mix names and numbers in weekday `{item}`"));
            }
            out.push(format!("{range}{step_suffix}"));
            continue;
        }
        let parse = |s: &str| -> Result<u32, String> {
            let n: u32 = s
                .parse()
                .map_err(|_| format!("weekday `{s}` is not a number 0-7"))?;
            if n > 7 {
                return Err(format!("weekday {n} is out of range 0-7"));
            }
            Ok(n)
        };
        match range.split_once('-') {
            None => {
                let n = parse(range)?;
                if step.is_some() {
                    return Err(format!(
                        "weekday `{item}`: write the range explicitly (e.g. `1-5/2`)"
                    ));
                }
                out.push((n % 7 + 1).to_string());
            }
            Some((a, b)) => {
                let (a, b) = (parse(a)?, parse(b)?);
                if a > b {
                    return Err(format!("weekday range `{range}` runs backwards"));
                }
                if b == 7 && a > 0 {
                    // `5-7` is Fri, Sat, Sun: Sun (7) becomes 1 in `cron`.
                    if step.is_some() {
                        return Err(format!(
                            "weekday range `{range}` with a step that wraps past Sunday is not supported; list the days instead"
                        ));
                    }
                    out.push(format!("{}-7", a + 1));
                    out.push("1".to_owned());
                } else {
                    let b = if b == 7 { 6 } else { b };
                    out.push(format!("{}-{}{step_suffix}", a + 1, b + 1));
                }
            }
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn weekdays(expr: &str) -> Vec<Weekday> {
        let s = CronSchedule::parse(expr).unwrap();
        // 2026-11-29 is a Sunday; collect one week of fire days.
        let mut days: Vec<Weekday> = s
            .upcoming(at(2026, 11, 28, 23, 59), 7)
            .into_iter()
            .filter(|t| t < &at(2026, 12, 6, 0, 0))
            .map(|t| t.weekday())
            .collect();
        days.dedup();
        days
    }

    #[test]
    fn crontab_monday_is_monday_not_sunday() {
        use Weekday::*;
        assert_eq!(weekdays("0 9 * * 1"), vec![Mon]);
        assert_eq!(weekdays("0 9 * * 0"), vec![Sun]);
        assert_eq!(weekdays("0 9 * * 7"), vec![Sun]);
        assert_eq!(weekdays("0 9 * * 1-5"), vec![Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(weekdays("0 9 * * 5-7"), vec![Sun, Fri, Sat]);
        assert_eq!(weekdays("0 9 * * 0,6"), vec![Sun, Sat]);
        assert_eq!(weekdays("0 9 * * 1-5/2"), vec![Mon, Wed, Fri]);
        assert_eq!(weekdays("0 9 * * */2"), vec![Sun, Tue, Thu, Sat]);
        assert_eq!(weekdays("0 9 * * MON-FRI"), vec![Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(weekdays("0 9 * * SAT"), vec![Sat]);
    }

    #[test]
    fn minutes_and_hours_fire_when_crontab_says() {
        let s = CronSchedule::parse("30 3 * * *").unwrap();
        let next = s.upcoming(at(2026, 11, 28, 12, 0), 3);
        assert_eq!(
            next,
            vec![
                at(2026, 11, 29, 3, 30),
                at(2026, 11, 30, 3, 30),
                at(2026, 12, 1, 3, 30)
            ]
        );
        let every = CronSchedule::parse("*/15 * * * *").unwrap();
        let t = every.next_after(at(2026, 11, 28, 12, 7)).unwrap();
        assert_eq!((t.hour(), t.minute(), t.second()), (12, 15, 0));
        let daily = CronSchedule::parse("@daily").unwrap();
        assert_eq!(
            daily.next_after(at(2026, 11, 28, 12, 7)),
            Some(at(2026, 11, 29, 0, 0))
        );
    }

    #[test]
    fn rejects_what_crontab_would_not_mean_the_same() {
        for bad in [
            "0 9 * *",
            "0 0 9 * * 1",
            "0 9 1 * 1",
            "0 9 * * 8",
            "0 9 * * 5-2",
            "0 9 * * MON-5",
            "0 9 * * 1/2",
            "61 9 * * *",
            "@sometimes",
        ] {
            assert!(
                CronSchedule::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
