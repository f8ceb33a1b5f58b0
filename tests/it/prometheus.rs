//! The Prometheus backend end to end: `fleetdeck sim serve` as the exporters, a real
//! Prometheus (Debian's package, installed by `scripts/test.sh`) scraping it, and
//! fleetdeck reading that Prometheus.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::daemon::http_get;
use crate::support::{WAIT, bin, fixture, wait_for};

/// `fleetdeck sim serve` on free ports; killed on drop.
pub struct SimServe {
    child: Child,
    pub control: String,
    pub gpu: String,
    pub serving: String,
}

impl SimServe {
    pub fn start(config: &str, extra: &[&str]) -> SimServe {
        let mut child = Command::new(bin())
            .args(["--config", fixture(config).to_str().unwrap(), "sim", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sim serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("sim serve's first line");
        let bound: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let addr = |key: &str| bound[key].as_str().unwrap_or_else(|| panic!("{key} in {line}")).to_string();
        SimServe { control: addr("control"), gpu: addr("gpu"), serving: addr("serving"), child }
    }
}

impl Drop for SimServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` on a page: 0 is clean, 3 lint findings only, 1 a parse error.
fn promtool_check(page: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; ./scripts/test.sh installs it)");
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn sim_serves_pages_that_promtool_parses_with_only_the_exporters_own_lint() {
    let sim = SimServe::start("fast.toml", &["--triton-summaries"]);
    let (code, groups) = http_get(&sim.control, "/v1/groups");
    assert!(code == 200 && groups.contains("\"name\":\"llm-chat\""), "{code} {groups}");
    for (what, addr) in [("GPU", &sim.gpu), ("serving", &sim.serving)] {
        let page = wait_for(&format!("the {what} page"), WAIT, || match http_get(addr, "/metrics") {
            (200, body) => Ok(body),
            (code, body) => Err(format!("{code} {body}")),
        });
        let (code, findings) = promtool_check(&page);
        assert!(code == 0 || code == 3, "promtool exit {code} on the {what} page:\n{findings}");
        // Only what the real exporters' names cause (DEPENDENCIES.md): camelCase dcgm
        // labels, colons in vLLM names, Triton's names without `_total` or with units.
        for finding in findings.lines() {
            let known = [
                "should be written in 'snake_case' not 'camelCase'",
                "metric names should not contain ':'",
                "counter metrics should have \"_total\" suffix",
                "non-histogram and non-summary metrics should not have \"_count\" suffix",
                "metric names should not contain abbreviated units",
                "metric name should not include type 'summary'",
            ];
            assert!(
                known.iter().any(|k| finding.contains(k)),
                "an unexpected finding on the {what} page: {finding}"
            );
        }
    }
}
