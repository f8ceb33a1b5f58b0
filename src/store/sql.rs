//! How domain types are written as SQL values: a [`Timestamp`] as INTEGER milliseconds, a
//! [`MetricKind`] by its name (`gpu_util`, `custom:NAME`), enums by their snake_case
//! names. Reading a name this build does not know is a conversion error, not a default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::breaker::{BreakerKind, TripMode};
use crate::model::PauseMode;
use crate::model::{MetricKind, Timestamp};

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_millis()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(Timestamp::from_millis)
    }
}

impl ToSql for MetricKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for MetricKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// An enum's name is its serde name, so the database reads like the config and the wire,
/// and a new variant needs no second table of names to keep in step.
fn enum_to_sql<T: Serialize>(value: &T) -> rusqlite::Result<ToSqlOutput<'static>> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(ToSqlOutput::from(name)),
        Ok(other) => {
            Err(rusqlite::Error::ToSqlConversionFailure(format!("not a unit variant: {other}").into()))
        }
        Err(e) => Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))),
    }
}

fn enum_from_sql<T: DeserializeOwned>(value: ValueRef<'_>) -> FromSqlResult<T> {
    let name = value.as_str()?;
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|e| FromSqlError::Other(Box::new(e)))
}

macro_rules! enum_sql {
    ($($ty:ty),+) => {$(
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                enum_to_sql(self)
            }
        }
        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                enum_from_sql(value)
            }
        }
    )+};
}

enum_sql!(PauseMode, TripMode, BreakerKind);

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn enums_are_stored_by_their_snake_case_names() {
        let conn = Connection::open_in_memory().unwrap();
        let text: String = conn.query_row("SELECT ?1", [PauseMode::ScaleInOnly], |row| row.get(0)).unwrap();
        assert_eq!(text, "scale_in_only");
        let kind: BreakerKind = conn.query_row("SELECT 'actuator_failures'", [], |row| row.get(0)).unwrap();
        assert_eq!(kind, BreakerKind::ActuatorFailures);
    }

    #[test]
    fn an_unknown_enum_name_is_an_error_not_a_default() {
        let conn = Connection::open_in_memory().unwrap();
        let read = conn.query_row("SELECT 'half_open'", [], |row| row.get::<_, TripMode>(0));
        assert!(read.is_err());
    }

    #[test]
    fn metric_kinds_round_trip_by_name() {
        let conn = Connection::open_in_memory().unwrap();
        for kind in [MetricKind::LatencyP95, MetricKind::Custom("tok/s".into())] {
            let back: MetricKind = conn.query_row("SELECT ?1", [&kind], |row| row.get(0)).unwrap();
            assert_eq!(back, kind);
        }
    }
}
