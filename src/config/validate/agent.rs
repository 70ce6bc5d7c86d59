//! `[agent]`: the node-wide settings, each checked with the line it stands on.

use toml::Spanned;

use super::super::AgentSettings;
use super::super::defaults::*;
use super::super::error::{ConfigError, Source};
use super::super::raw::RawAgent;
use super::{auto_or, bytes_or, count_or, duration_or, nonzero_duration_or, path_or};
use crate::identity::{is_instance_id, is_region};

pub(super) fn agent(src: &Source<'_>, raw: RawAgent) -> Result<AgentSettings, ConfigError> {
    let instance_id = auto_or(src, raw.instance_id, "instance_id", |id| {
        is_instance_id(id).then_some(()).ok_or_else(|| {
            format!(
                "{id:?} is not an instance ID: expected \"auto\", i- followed by 8 or 17 \
                 letters/digits (EC2) or mi- followed by 17 (hybrid node)"
            )
        })
    })?;
    let region = auto_or(src, raw.region, "region", |region| {
        is_region(region).then_some(()).ok_or_else(|| {
            format!("{region:?} is not a region: expected \"auto\" or a name such as \"us-east-1\"")
        })
    })?;
    let endpoint_url = match raw.endpoint_url {
        None => None,
        Some(url) => {
            if !is_http_url(url.get_ref()) {
                return Err(src.invalid(
                    &url.span(),
                    "endpoint_url",
                    format!(
                        "{:?} is not an http(s) URL such as \"https://ssm.us-east-1.amazonaws.com\"",
                        url.get_ref()
                    ),
                ));
            }
            Some(url.into_inner())
        }
    };
    let state_dir = path_or(src, raw.state_dir, "state_dir", DEFAULT_STATE_DIR)?;
    let probes_dir = path_or(src, raw.probes_dir, "probes_dir", DEFAULT_PROBES_DIR)?;

    let splay = duration_or(raw.splay, DEFAULT_SPLAY);
    let min_push_interval = duration_or(raw.min_push_interval, DEFAULT_MIN_PUSH_INTERVAL);
    let refresh_interval = nonzero_duration_or(
        src,
        raw.refresh_interval,
        "refresh_interval",
        DEFAULT_REFRESH_INTERVAL,
    )?;
    let quarantine_retry = nonzero_duration_or(
        src,
        raw.quarantine_retry,
        "quarantine_retry",
        DEFAULT_QUARANTINE_RETRY,
    )?;

    let max_request_bytes = bytes_or(
        src,
        raw.max_request_bytes,
        "max_request_bytes",
        DEFAULT_MAX_REQUEST_BYTES,
        MIN_REQUEST_BYTES..=MAX_REQUEST_BYTES,
        "64 MiB",
    )?;
    let max_concurrent_probes = count_or(
        src,
        raw.max_concurrent_probes,
        "max_concurrent_probes",
        DEFAULT_MAX_CONCURRENT_PROBES,
        MIN_CONCURRENT_PROBES..=MAX_CONCURRENT_PROBES,
    )?;
    let probe_output_budget = bytes_or(
        src,
        raw.probe_output_budget,
        "probe_output_budget",
        DEFAULT_PROBE_OUTPUT_BUDGET,
        MIN_PROBE_OUTPUT_BUDGET..=MAX_PROBE_OUTPUT_BUDGET,
        "4 GiB",
    )?;
    let on_removed = raw
        .on_removed
        .map_or(DEFAULT_ON_REMOVED, Spanned::into_inner);

    let profile = match raw.profile {
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err(src.invalid(
                &p.span(),
                "profile",
                "is empty; give a profile name or leave the key out",
            ));
        }
        other => other.map(Spanned::into_inner),
    };
    let credentials_file = match raw.credentials_file {
        None => None,
        Some(p) => Some(path_or(src, Some(p), "credentials_file", "")?),
    };
    let retry_base = nonzero_duration_or(src, raw.retry_base, "retry_base", DEFAULT_RETRY_BASE)?;
    let retry_cap = match raw.retry_cap {
        None => DEFAULT_RETRY_CAP,
        Some(cap) if cap.get_ref().0 < retry_base => {
            return Err(src.invalid(
                &cap.span(),
                "retry_cap",
                format!(
                    "{} is shorter than retry_base ({})",
                    humantime::format_duration(cap.get_ref().0),
                    humantime::format_duration(retry_base)
                ),
            ));
        }
        Some(cap) => cap.into_inner().0,
    };
    let metrics_file = match raw.metrics_file {
        None => None,
        Some(p) => Some(path_or(src, Some(p), "metrics_file", "")?),
    };
    let strict_permissions = raw
        .strict_permissions
        .map_or(DEFAULT_STRICT_PERMISSIONS, Spanned::into_inner);
    let log_level = match raw.log_level {
        None => DEFAULT_LOG_LEVEL.to_string(),
        Some(level) if LOG_LEVELS.contains(&level.get_ref().as_str()) => level.into_inner(),
        Some(level) => {
            return Err(src.invalid(
                &level.span(),
                "log_level",
                format!(
                    "{:?} is not a level: expected one of {}",
                    level.get_ref(),
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
    };

    let fleet = super::fleet::settings(
        src,
        super::fleet::RawFleet {
            parameters: raw.fleet_config,
            poll_interval: raw.fleet_poll_interval,
            size_hint: raw.fleet_size_hint,
            exec_dirs: raw.fleet_exec_dirs,
            allow_shell: raw.fleet_allow_shell,
            allow_user: raw.fleet_allow_user,
        },
    )?;

    Ok(AgentSettings {
        instance_id,
        region,
        endpoint_url,
        state_dir,
        probes_dir,
        splay,
        min_push_interval,
        refresh_interval,
        quarantine_retry,
        max_request_bytes,
        max_concurrent_probes,
        probe_output_budget,
        on_removed,
        profile,
        credentials_file,
        retry_base,
        retry_cap,
        strict_permissions,
        log_level,
        metrics_file,
        fleet,
    })
}

pub(super) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !url.contains(|c: char| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}
