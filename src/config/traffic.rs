//! A group's `traffic = { shape = "…", … }` table → [`TrafficSpec`]: which keys each
//! shape takes, their defaults, and the checks on their values. A `trace` shape's file
//! is read here, relative to the config file's directory.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::file::{DurationText, Shape, TrafficFile};
use super::locate::{Document, KeyPath};
use super::trace::load_trace;
use super::validate::{Invalid, non_negative, positive_duration};
use crate::sim::TrafficSpec;

/// Each shape's keys: required first, then optional (besides `shape`).
fn shape_keys(shape: Shape) -> (&'static [&'static str], &'static [&'static str]) {
    match shape {
        Shape::Constant => (&["rps"], &["noise"]),
        Shape::Diurnal => (&["base_rps", "peak_rps", "peak_at"], &["period", "weekend_factor", "noise"]),
        Shape::FlashCrowd => (&["base_rps", "factor", "at", "hold"], &["ramp", "noise"]),
        Shape::Ramp => (&["from_rps", "to_rps", "over"], &["start", "noise"]),
        Shape::Trace => (&["path"], &["scale", "loop"]),
    }
}

/// One day, the natural period of a diurnal cycle.
const DEFAULT_PERIOD: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_FLASH_RAMP: Duration = Duration::from_secs(60);

/// For an unknown key in a `traffic` table: a message listing the written shape's keys
/// rather than serde's list of every shape's. `None` when `path` is not in a traffic
/// table or its shape cannot be read.
pub(super) fn unknown_key_message(document: &Document<'_>, path: &KeyPath) -> Option<String> {
    let (table, key) = path.split_last_key()?;
    let (_, table_name) = table.split_last_key()?;
    if table_name != "traffic" {
        return None;
    }
    let shape = Shape::from_name(document.str_at(&table.key("shape"))?)?;
    Some(format!(
        "unknown key `{key}` for the `{}` traffic shape (its keys: {})",
        shape.name(),
        keys_of(shape)
    ))
}

fn keys_of(shape: Shape) -> String {
    let (required, optional) = shape_keys(shape);
    required.iter().chain(optional).copied().collect::<Vec<_>>().join(", ")
}

pub(super) fn traffic(file: TrafficFile, at: &KeyPath, config_dir: &Path) -> Result<TrafficSpec, Invalid> {
    let shape = file.shape;
    let (required, optional) = shape_keys(shape);
    for key in file.present_keys() {
        if !required.contains(&key) && !optional.contains(&key) {
            return Err(Invalid::at_key(
                at.key(key),
                format!(
                    "`{key}` is not a key of the `{}` traffic shape (its keys: {})",
                    shape.name(),
                    keys_of(shape)
                ),
            ));
        }
    }
    // Reports a required key that is absent, at the traffic table.
    let need = |value: Option<f64>, key: &str| -> Result<f64, Invalid> {
        let path = at.key(key);
        let value = value.ok_or_else(|| {
            Invalid::new(path.clone(), format!("the `{}` traffic shape needs `{key}`", shape.name()))
        })?;
        non_negative(&path, value)
    };
    let need_duration = |value: Option<DurationText>, key: &str| -> Result<Duration, Invalid> {
        value.map(|d| d.0).ok_or_else(|| {
            Invalid::new(at.key(key), format!("the `{}` traffic shape needs `{key}`", shape.name()))
        })
    };
    let noise = non_negative(&at.key("noise"), file.noise.unwrap_or(0.0))?;

    let spec = match shape {
        Shape::Constant => TrafficSpec::Constant { rps: need(file.rps, "rps")?, noise },
        Shape::Diurnal => {
            let base_rps = need(file.base_rps, "base_rps")?;
            let peak_rps = need(file.peak_rps, "peak_rps")?;
            if peak_rps < base_rps {
                return Err(Invalid::new(
                    at.key("peak_rps"),
                    format!("peak_rps ({peak_rps}) is less than base_rps ({base_rps})"),
                ));
            }
            let peak_at = need_duration(file.peak_at, "peak_at")?;
            let period = positive_duration(&at.key("period"), file.period.map_or(DEFAULT_PERIOD, |d| d.0))?;
            if peak_at >= period {
                return Err(Invalid::new(
                    at.key("peak_at"),
                    format!(
                        "peak_at ({}) must fall within the period ({})",
                        crate::model::format_duration(peak_at),
                        crate::model::format_duration(period)
                    ),
                ));
            }
            let weekend_factor = non_negative(&at.key("weekend_factor"), file.weekend_factor.unwrap_or(1.0))?;
            TrafficSpec::Diurnal { base_rps, peak_rps, peak_at, period, weekend_factor, noise }
        }
        Shape::FlashCrowd => {
            let base_rps = need(file.base_rps, "base_rps")?;
            let factor = need(file.factor, "factor")?;
            if factor <= 1.0 {
                return Err(Invalid::new(
                    at.key("factor"),
                    format!(
                        "factor ({factor}) must be greater than 1: a flash crowd multiplies the base rate"
                    ),
                ));
            }
            TrafficSpec::FlashCrowd {
                base_rps,
                factor,
                at: need_duration(file.at, "at")?,
                ramp: file.ramp.map_or(DEFAULT_FLASH_RAMP, |d| d.0),
                hold: need_duration(file.hold, "hold")?,
                noise,
            }
        }
        Shape::Ramp => TrafficSpec::Ramp {
            from_rps: need(file.from_rps, "from_rps")?,
            to_rps: need(file.to_rps, "to_rps")?,
            start: file.start.map_or(Duration::ZERO, |d| d.0),
            over: positive_duration(&at.key("over"), need_duration(file.over, "over")?)?,
            noise,
        },
        Shape::Trace => {
            let path_key = at.key("path");
            let relative = file.path.ok_or_else(|| {
                Invalid::new(path_key.clone(), "the `trace` traffic shape needs `path`".to_string())
            })?;
            if relative.trim().is_empty() {
                return Err(Invalid::new(path_key, "the trace path is empty".to_string()));
            }
            let trace =
                load_trace(&config_dir.join(&relative)).map_err(|message| Invalid::new(path_key, message))?;
            TrafficSpec::Trace {
                trace: Arc::new(trace),
                scale: non_negative(&at.key("scale"), file.scale.unwrap_or(1.0))?,
                looped: file.looped.unwrap_or(true),
            }
        }
    };
    Ok(spec)
}
