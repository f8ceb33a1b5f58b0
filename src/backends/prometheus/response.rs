//! The Prometheus HTTP API's answers (`/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/alerts`) read into our types: the envelope (`status`, `data`, `errorType`,
//! `error`, `warnings`, `infos`), the active alerts, and the four result types — `vector`, `matrix`, `scalar`, `string` — with
//! sample values as the API writes them, strings that may be `"NaN"`, `"+Inf"` or
//! `"-Inf"`, and times as Unix seconds with a fraction. Pure: bytes in, values out.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{BackendError, Timestamp};

/// Labels of one series (`__name__` included where the query kept it).
pub type Labels = BTreeMap<String, String>;

/// One series' value at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub at: Timestamp,
    pub value: f64,
}

/// What a query answered, each series' labels read as `L` ([`Labels`], or a type that
/// reads only the labels it needs, borrowing them from the body).
#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult<L = Labels> {
    /// An instant query: one point per series.
    Vector(Vec<(L, Point)>),
    /// A range query: points per series, oldest first.
    Matrix(Vec<(L, Vec<Point>)>),
    Scalar(Point),
    String(Timestamp, String),
}

/// A successful answer and the warnings that came with it (the data is still good).
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<L = Labels> {
    pub result: QueryResult<L>,
    pub warnings: Vec<String>,
}

/// The API's envelope around `data` of type `D` (a query's result, the alerts).
#[derive(Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct Envelope<D> {
    status: String,
    data: Option<D>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    /// Prometheus 3's informational annotations: logged like warnings.
    #[serde(default)]
    infos: Vec<String>,
}

/// A successful answer's data and its warnings (and infos), or why there is none: an
/// error envelope (which Prometheus sends with 400, 422 or 503) with its `errorType` and
/// words, or a body that is not the API's JSON (a proxy's error page).
fn open<'a, D: Deserialize<'a>>(body: &'a [u8]) -> Result<(D, Vec<String>), ApiFailure> {
    let envelope: Envelope<D> = serde_json::from_slice(body).map_err(|e| {
        let start = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
        ApiFailure::Unreadable(format!("not a Prometheus API answer ({e}): {start}"))
    })?;
    if envelope.status != "success" {
        return Err(ApiFailure::Error {
            error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
            error: envelope.error.unwrap_or_else(|| "no error message".into()),
        });
    }
    let data =
        envelope.data.ok_or_else(|| ApiFailure::Unreadable("a successful answer without data".into()))?;
    let mut warnings = envelope.warnings;
    warnings.extend(envelope.infos);
    Ok((data, warnings))
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
#[serde(bound(deserialize = "'de: 'a, L: Deserialize<'de> + Default"))]
enum Data<'a, L> {
    Vector(Vec<VectorItem<'a, L>>),
    Matrix(Vec<MatrixItem<'a, L>>),
    Scalar(RawPoint<'a>),
    String((f64, String)),
}

/// `[<unix seconds>, "<value>"]`, its value read in place (no copy of the text: a
/// poll's answers hold thousands).
#[derive(Deserialize)]
struct RawPoint<'a>(f64, #[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a, L: Deserialize<'de> + Default"))]
struct VectorItem<'a, L> {
    #[serde(default)]
    metric: L,
    /// Absent for a native histogram sample (`histogram`), which we do not read.
    value: Option<RawPoint<'a>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a, L: Deserialize<'de> + Default"))]
struct MatrixItem<'a, L> {
    #[serde(default)]
    metric: L,
    #[serde(default)]
    values: Vec<RawPoint<'a>>,
}

/// A sample value as the API writes it. Go spells the special values `NaN`, `+Inf` and
/// `-Inf`; Rust's parser reads all three.
pub fn value(text: &str) -> Result<f64, String> {
    text.parse::<f64>().map_err(|_| format!("`{text}` is not a sample value"))
}

fn point(RawPoint(at, text): &RawPoint) -> Result<Point, String> {
    Ok(Point { at: Timestamp::from_secs_f64(*at), value: value(text)? })
}

/// Reads an answer, whatever its HTTP status: an error envelope (which Prometheus sends
/// with 400, 422 or 503) becomes an error with its `errorType` and words; a body that is
/// not the API's JSON (a proxy's error page) is unreadable.
pub fn parse(body: &[u8]) -> Result<Answer, ApiFailure> {
    parse_as(body)
}

/// [`parse`], each series' labels read as `L`.
pub fn parse_as<'a, L: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<Answer<L>, ApiFailure> {
    let (data, warnings) = open::<Data<'a, L>>(body)?;
    let result = match data {
        Data::Vector(items) => QueryResult::Vector(
            items
                .into_iter()
                .filter_map(|item| item.value.map(|v| point(&v).map(|p| (item.metric, p))))
                .collect::<Result<_, _>>()
                .map_err(ApiFailure::Unreadable)?,
        ),
        Data::Matrix(items) => QueryResult::Matrix(
            items
                .into_iter()
                .map(|item| {
                    item.values.iter().map(point).collect::<Result<Vec<_>, _>>().map(|p| (item.metric, p))
                })
                .collect::<Result<_, _>>()
                .map_err(ApiFailure::Unreadable)?,
        ),
        Data::Scalar(raw) => QueryResult::Scalar(point(&raw).map_err(ApiFailure::Unreadable)?),
        Data::String((at, text)) => QueryResult::String(Timestamp::from_secs_f64(at), text),
    };
    Ok(Answer { result, warnings })
}

/// One alert of `/api/v1/alerts`, as the API writes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Alert {
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    /// `pending` or `firing`.
    pub state: String,
    /// RFC 3339 with nanoseconds (`2018-07-04T20:27:12.60602144+02:00`).
    #[serde(rename = "activeAt")]
    pub active_at: Option<String>,
    /// The expression's value, as a sample value is written (`1e+00`).
    pub value: Option<String>,
}

#[derive(Deserialize)]
struct AlertsData {
    alerts: Vec<Alert>,
}

/// Reads an answer of `/api/v1/alerts`: every active alert, and the warnings.
pub fn parse_alerts(body: &[u8]) -> Result<(Vec<Alert>, Vec<String>), ApiFailure> {
    open::<AlertsData>(body).map(|(data, warnings)| (data.alerts, warnings))
}

/// Why an answer carried no result.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiFailure {
    /// The API's error envelope: `bad_data`, `execution`, `timeout`, `canceled`,
    /// `unavailable`, `internal`, …
    Error { error_type: String, error: String },
    /// Not the API's JSON at all.
    Unreadable(String),
}

impl ApiFailure {
    /// As the engine's error policy takes it: a query Prometheus cannot parse or run is
    /// refused (the config must change); its timeouts and unavailability pass.
    pub fn into_backend_error(self, what: &str) -> BackendError {
        match self {
            ApiFailure::Error { error_type, error } => {
                let message = format!("{what}: {error_type}: {error}");
                match error_type.as_str() {
                    "bad_data" | "execution" => BackendError::rejected(message),
                    _ => BackendError::transient(message),
                }
            }
            ApiFailure::Unreadable(why) => BackendError::transient(format!("{what}: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorKind;

    /// The instant query example of Prometheus's HTTP API documentation (`up` at
    /// 2015-07-01T20:10:51.781Z).
    const DOCUMENTED_VECTOR: &str = r#"{
       "status" : "success",
       "data" : {
          "resultType" : "vector",
          "result" : [
             { "metric" : { "__name__" : "up", "job" : "prometheus", "instance" : "localhost:9090" },
               "value": [ 1435781451.781, "1" ] },
             { "metric" : { "__name__" : "up", "job" : "node", "instance" : "localhost:9100" },
               "value" : [ 1435781451.781, "0" ] }
          ]
       }
    }"#;

    /// The alerts example of the same page.
    const DOCUMENTED_ALERTS: &str = r#"{
        "data": {
            "alerts": [
                {
                    "activeAt": "2018-07-04T20:27:12.60602144+02:00",
                    "annotations": {},
                    "labels": { "alertname": "my-alert" },
                    "state": "firing",
                    "value": "1e+00"
                }
            ]
        },
        "status": "success"
    }"#;

    #[test]
    fn the_documented_alerts_answer_reads() {
        let (alerts, warnings) = parse_alerts(DOCUMENTED_ALERTS.as_bytes()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert.labels.get("alertname").map(String::as_str), Some("my-alert"));
        assert_eq!((alert.state.as_str(), alert.value.as_deref()), ("firing", Some("1e+00")));
        assert_eq!(alert.active_at.as_deref(), Some("2018-07-04T20:27:12.60602144+02:00"));
        let refused = r#"{"status":"error","errorType":"unavailable","error":"rule manager not ready"}"#;
        assert_eq!(
            parse_alerts(refused.as_bytes()).unwrap_err(),
            ApiFailure::Error { error_type: "unavailable".into(), error: "rule manager not ready".into() }
        );
    }

    /// The range query example of the same page (`up` over 30 s at 15 s steps).
    const DOCUMENTED_MATRIX: &str = r#"{
       "status" : "success",
       "data" : {
          "resultType" : "matrix",
          "result" : [
             { "metric" : { "__name__" : "up", "job" : "prometheus", "instance" : "localhost:9090" },
               "values" : [ [ 1435781430.781, "1" ], [ 1435781445.781, "1" ], [ 1435781460.781, "1" ] ] },
             { "metric" : { "__name__" : "up", "job" : "node", "instance" : "localhost:9091" },
               "values" : [ [ 1435781430.781, "0" ], [ 1435781445.781, "0" ], [ 1435781460.781, "1" ] ] }
          ]
       }
    }"#;

    #[test]
    fn a_vector_reads_as_labelled_points_stamped_to_the_millisecond() {
        let answer = parse(DOCUMENTED_VECTOR.as_bytes()).unwrap();
        let QueryResult::Vector(series) = answer.result else { panic!("a vector") };
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].0["job"], "prometheus");
        assert_eq!(series[0].1, Point { at: Timestamp(1_435_781_451_781), value: 1.0 });
        assert_eq!(series[1].1.value, 0.0);
        assert!(answer.warnings.is_empty());
    }

    #[test]
    fn a_matrix_reads_each_series_points_in_order() {
        let QueryResult::Matrix(series) = parse(DOCUMENTED_MATRIX.as_bytes()).unwrap().result else {
            panic!("a matrix")
        };
        let node: Vec<f64> = series[1].1.iter().map(|p| p.value).collect();
        assert_eq!(node, [0.0, 0.0, 1.0]);
        assert_eq!(series[0].1[2].at, Timestamp(1_435_781_460_781));
    }

    #[test]
    fn scalars_strings_and_the_special_values_read() {
        let scalar =
            parse(br#"{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"NaN"]}}"#);
        let QueryResult::Scalar(p) = scalar.unwrap().result else { panic!("a scalar") };
        assert!(p.value.is_nan());
        let text =
            parse(br#"{"status":"success","data":{"resultType":"string","result":[1435781451.781,"hi"]}}"#);
        assert_eq!(text.unwrap().result, QueryResult::String(Timestamp(1_435_781_451_781), "hi".into()));
        assert_eq!((value("+Inf"), value("-Inf")), (Ok(f64::INFINITY), Ok(f64::NEG_INFINITY)));
        assert!(value("1e3").is_ok_and(|v| v == 1000.0) && value("one").is_err());
    }

    #[test]
    fn warnings_and_infos_come_with_the_data() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[]},
            "warnings":["PromQL warning: encountered a mix of histograms and floats"],"infos":["PromQL info: x"]}"#;
        let answer = parse(body).unwrap();
        assert_eq!(answer.result, QueryResult::Vector(Vec::new()));
        assert_eq!(answer.warnings.len(), 2);
    }

    #[test]
    fn an_error_envelope_keeps_its_type_and_words_and_a_bad_query_is_refused() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"}"#;
        let failure = parse(body).unwrap_err();
        let err = failure.clone().into_backend_error("llm-chat gpu_util");
        assert_eq!(err.kind, ErrorKind::Rejected);
        assert!(err.message.contains("bad_data: invalid parameter \"query\""), "{}", err.message);
        let timeout = ApiFailure::Error { error_type: "timeout".into(), error: "query timed out".into() };
        assert_eq!(timeout.into_backend_error("q").kind, ErrorKind::Transient);
    }

    #[test]
    fn a_body_that_is_not_the_apis_json_is_transient_and_quoted() {
        let failure = parse(b"<html>502 Bad Gateway</html>").unwrap_err();
        let err = failure.into_backend_error("query");
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(err.message.contains("<html>502 Bad Gateway"), "{}", err.message);
    }
}
