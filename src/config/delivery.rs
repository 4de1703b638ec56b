//! Feed delivery targets of a shop (`[[shops.delivery]]`): where the
//! published feed is pushed, on which schedule, and how failures retry.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::CronSchedule;
use super::raw::RawSecret;
use super::validate::{EnvLookup, Problems, secret, url};
use crate::delivery::feed_api::FeedApiSettings;
use crate::delivery::sftp::{HostKeyPin, SftpSettings};
use crate::delivery::snapshot::{ShardLimits, ShardPrefix, SnapshotFormat};

/// One target, as written in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub id: Option<String>,
    /// `sftp` or `feed_api`.
    pub kind: Option<String>,
    pub enabled: Option<bool>,
    /// Cron expression (UTC).
    pub schedule: Option<String>,
    /// First wait after a failed delivery (doubled up to `retry_max_secs`).
    pub retry_initial_secs: Option<f64>,
    pub retry_max_secs: Option<f64>,
    // sftp
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key: Option<String>,
    pub private_key_passphrase: Option<RawSecret>,
    pub host_key: Option<String>,
    pub remote_dir: Option<String>,
    pub formats: Option<Vec<String>>,
    pub file_prefix: Option<String>,
    pub max_rows_per_shard: Option<u64>,
    pub max_bytes_per_shard: Option<u64>,
    pub connect_timeout_secs: Option<f64>,
    pub io_timeout_secs: Option<f64>,
    // feed_api
    pub base_url: Option<String>,
    pub api_key: Option<RawSecret>,
    pub feed_id: Option<String>,
    pub batch_size: Option<usize>,
    pub timeout_secs: Option<f64>,
    pub target_country: Option<String>,
}

/// Where one delivery target sends the feed.
#[derive(Debug, Clone)]
pub enum DeliveryKind {
    /// Full snapshots over SFTP (OpenAI's file upload).
    Sftp(SftpTarget),
    /// Changed products to an ACP Feed API.
    FeedApi(FeedApiTarget),
}

impl DeliveryKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryKind::Sftp(_) => "sftp",
            DeliveryKind::FeedApi(_) => "feed_api",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SftpTarget {
    pub sftp: SftpSettings,
    /// One shard set per format, each under its own stable names.
    pub formats: Vec<SnapshotFormat>,
    pub prefix: ShardPrefix,
    pub limits: ShardLimits,
}

#[derive(Debug, Clone)]
pub struct FeedApiTarget {
    pub api: FeedApiSettings,
    /// A feed id registered elsewhere (during onboarding); otherwise the
    /// first delivery creates the feed and keeps its id.
    pub feed_id: Option<String>,
}

/// One configured delivery target of a shop.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    /// Unique within the shop; names the target in records and metrics.
    pub id: String,
    pub schedule: CronSchedule,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub kind: DeliveryKind,
}

fn seconds(
    p: &mut Problems,
    key: &str,
    value: Option<f64>,
    default: Duration,
    max: f64,
) -> Duration {
    match value {
        None => default,
        Some(v) if v.is_finite() && v > 0.0 && v <= max => Duration::from_secs_f64(v),
        Some(v) => {
            p.add(
                key,
                format!("{v} is not a positive number of seconds up to {max}"),
            );
            default
        }
    }
}

fn required<'a>(p: &mut Problems, key: &str, value: Option<&'a str>) -> Option<&'a str> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            p.add(key, "missing");
            None
        }
    }
}

/// Validates a shop's targets; problems are added to `p`.
pub(super) fn validate_deliveries(
    p: &mut Problems,
    key: &str,
    shop: &str,
    raw: Vec<RawDelivery>,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Vec<DeliveryTarget> {
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for (i, target) in raw.into_iter().enumerate() {
        let tkey = format!("{key}[{i}]");
        if !target.enabled.unwrap_or(true) {
            continue;
        }
        let id = match target.id.as_deref().map(str::trim) {
            Some(id)
                if !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                id.to_owned()
            }
            _ => {
                p.add(
                    &format!("{tkey}.id"),
                    "missing, or not 1-64 letters, digits, `-` or `_`",
                );
                continue;
            }
        };
        if !ids.insert(id.clone()) {
            p.add(&format!("{tkey}.id"), format!("`{id}` is used twice"));
        }
        if let Some(t) = validate_target(p, &tkey, shop, id, target, base_dir, env) {
            out.push(t);
        }
    }
    out
}

fn validate_target(
    p: &mut Problems,
    key: &str,
    shop: &str,
    id: String,
    raw: RawDelivery,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<DeliveryTarget> {
    let before = p.0.len();
    let schedule_text = raw
        .schedule
        .clone()
        .unwrap_or_else(|| "30 3 * * *".to_owned());
    let schedule = CronSchedule::parse(&schedule_text)
        .map_err(|e| {
            p.add(
                &format!("{key}.schedule"),
                format!("`{schedule_text}`: {e}"),
            )
        })
        .ok();
    let retry_initial = seconds(
        p,
        &format!("{key}.retry_initial_secs"),
        raw.retry_initial_secs,
        Duration::from_secs(60),
        86_400.0,
    );
    let retry_max = seconds(
        p,
        &format!("{key}.retry_max_secs"),
        raw.retry_max_secs,
        Duration::from_secs(3600),
        86_400.0,
    );
    if retry_initial > retry_max {
        p.add(
            &format!("{key}.retry_initial_secs"),
            "must not exceed retry_max_secs",
        );
    }
    let kind = match raw.kind.as_deref() {
        Some("sftp") => validate_sftp(p, key, shop, raw, base_dir, env).map(DeliveryKind::Sftp),
        Some("feed_api") => {
            validate_feed_api(p, key, raw, env, base_dir).map(DeliveryKind::FeedApi)
        }
        Some(other) => {
            p.add(
                &format!("{key}.kind"),
                format!("`{other}` is not one of: sftp, feed_api"),
            );
            None
        }
        None => {
            p.add(&format!("{key}.kind"), "missing (sftp or feed_api)");
            None
        }
    };
    if p.0.len() != before {
        return None;
    }
    Some(DeliveryTarget {
        id,
        schedule: schedule?,
        retry_initial,
        retry_max,
        kind: kind?,
    })
}

fn validate_sftp(
    p: &mut Problems,
    key: &str,
    shop: &str,
    raw: RawDelivery,
    base_dir: Option<&Path>,
    env: EnvLookup<'_>,
) -> Option<SftpTarget> {
    let host = required(p, &format!("{key}.host"), raw.host.as_deref()).map(str::to_owned);
    let user = required(p, &format!("{key}.user"), raw.user.as_deref()).map(str::to_owned);
    let private_key =
        required(p, &format!("{key}.private_key"), raw.private_key.as_deref()).map(|path| {
            let expanded = path.replace(
                "${CREDENTIALS_DIRECTORY}",
                &env("CREDENTIALS_DIRECTORY").unwrap_or_default(),
            );
            let mut full = PathBuf::from(expanded);
            if full.is_relative()
                && let Some(dir) = base_dir
            {
                full = dir.join(full);
            }
            full
        });
    // Never trust on first use: the host key must be pinned.
    let host_key =
        required(p, &format!("{key}.host_key"), raw.host_key.as_deref()).and_then(|text| {
            text.parse::<HostKeyPin>()
                .map_err(|e| p.add(&format!("{key}.host_key"), e))
                .ok()
        });
    let passphrase = raw.private_key_passphrase.as_ref().and_then(|s| {
        secret(
            p,
            &format!("{key}.private_key_passphrase"),
            s,
            base_dir,
            env,
        )
    });
    let names = raw.formats.unwrap_or_else(|| vec!["parquet".to_owned()]);
    let mut formats = Vec::new();
    for name in &names {
        match name.parse::<SnapshotFormat>() {
            Ok(f) if !formats.contains(&f) => formats.push(f),
            Ok(_) => p.add(
                &format!("{key}.formats"),
                format!("`{name}` is listed twice"),
            ),
            Err(e) => p.add(&format!("{key}.formats"), e),
        }
    }
    if names.is_empty() {
        p.add(&format!("{key}.formats"), "name at least one format");
    }
    let prefix_text = raw
        .file_prefix
        .unwrap_or_else(|| format!("{shop}-products"));
    let prefix = ShardPrefix::parse(&prefix_text)
        .map_err(|e| p.add(&format!("{key}.file_prefix"), e.0))
        .ok();
    let defaults = ShardLimits::default();
    let limits = ShardLimits {
        max_rows: raw.max_rows_per_shard.unwrap_or(defaults.max_rows),
        max_bytes: raw.max_bytes_per_shard.unwrap_or(defaults.max_bytes),
    };
    if limits.max_rows == 0 || limits.max_rows > defaults.max_rows {
        p.add(
            &format!("{key}.max_rows_per_shard"),
            format!("must be between 1 and {}", defaults.max_rows),
        );
    }
    if limits.max_bytes == 0 || limits.max_bytes > defaults.max_bytes {
        p.add(
            &format!("{key}.max_bytes_per_shard"),
            format!("must be between 1 and {}", defaults.max_bytes),
        );
    }
    let connect_timeout = seconds(
        p,
        &format!("{key}.connect_timeout_secs"),
        raw.connect_timeout_secs,
        Duration::from_secs(30),
        600.0,
    );
    let io_timeout = seconds(
        p,
        &format!("{key}.io_timeout_secs"),
        raw.io_timeout_secs,
        Duration::from_secs(60),
        3600.0,
    );
    Some(SftpTarget {
        sftp: SftpSettings {
            host: host?,
            port: raw.port.unwrap_or(22),
            user: user?,
            private_key_path: private_key?,
            private_key_passphrase: passphrase,
            host_key: host_key?,
            remote_dir: raw.remote_dir.unwrap_or_default(),
            connect_timeout,
            io_timeout,
        },
        formats,
        prefix: prefix?,
        limits,
    })
}

fn validate_feed_api(
    p: &mut Problems,
    key: &str,
    raw: RawDelivery,
    env: EnvLookup<'_>,
    base_dir: Option<&Path>,
) -> Option<FeedApiTarget> {
    let base_url = required(p, &format!("{key}.base_url"), raw.base_url.as_deref())
        .and_then(|u| url(p, &format!("{key}.base_url"), u));
    let api_key = match &raw.api_key {
        Some(s) => secret(p, &format!("{key}.api_key"), s, base_dir, env),
        None => {
            p.add(&format!("{key}.api_key"), "missing");
            None
        }
    };
    let (base_url, api_key) = (base_url?, api_key?);
    let mut api = FeedApiSettings::new(base_url, api_key);
    if let Some(n) = raw.batch_size {
        match std::num::NonZeroUsize::new(n) {
            Some(n) if n.get() <= 1000 => api.batch_size = n,
            _ => p.add(&format!("{key}.batch_size"), "must be between 1 and 1000"),
        }
    }
    api.timeout = seconds(
        p,
        &format!("{key}.timeout_secs"),
        raw.timeout_secs,
        api.timeout,
        3600.0,
    );
    api.target_country = raw.target_country;
    Some(FeedApiTarget {
        api,
        feed_id: raw.feed_id.filter(|f| !f.trim().is_empty()),
    })
}
