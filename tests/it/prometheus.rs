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
        SimServe::start_file(&fixture(config), extra)
    }

    pub fn start_file(config: &std::path::Path, extra: &[&str]) -> SimServe {
        let mut child = Command::new(bin())
            .args(["--config", config.to_str().unwrap(), "sim", "serve", "--listen", "127.0.0.1:0"])
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

impl SimServe {
    /// Stops the process: every page and the control API go with it.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A Prometheus server (Debian's package, installed by `scripts/test.sh`) with its own data
/// directory on a free port, scraping every second; killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: String,
    /// Its command line, to start it again (only the Prometheus backend's tests do).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scraping each `(job, target, labels)`: `labels` is a YAML flow mapping of target
    /// labels, or empty.
    pub fn scraping_jobs(jobs: &[(&str, &str, &str)]) -> Prometheus {
        Prometheus::scraping_jobs_with(jobs, None, None)
    }

    /// [`scraping_jobs`](Self::scraping_jobs), its data directory first filled with
    /// `history` (OpenMetrics text) by `promtool tsdb create-blocks-from openmetrics`, and
    /// `rules` (a rule file's YAML) evaluated every second.
    pub fn scraping_jobs_with(
        jobs: &[(&str, &str, &str)],
        history: Option<&str>,
        rules: Option<&str>,
    ) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        if let Some(history) = history {
            let input = dir.path().join("history.om");
            std::fs::write(&input, history).unwrap();
            let out = Command::new("promtool")
                .args(["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h"])
                .arg(&input)
                .arg(dir.path().join("data"))
                .output()
                .expect("promtool (Debian package `prometheus`)");
            let said =
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "promtool tsdb create-blocks-from openmetrics: {said}");
        }
        let config = dir.path().join("prometheus.yml");
        let mut yaml = String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
        if let Some(rules) = rules {
            let file = dir.path().join("rules.yml");
            std::fs::write(&file, rules).unwrap();
            yaml += &format!("rule_files: ['{}']\n", file.display());
        }
        yaml += "scrape_configs:\n";
        for (job, target, labels) in jobs {
            yaml += &format!("  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n");
            if !labels.is_empty() {
                yaml += &format!("        labels: {labels}\n");
            }
        }
        std::fs::write(&config, yaml).unwrap();
        // A free port: bound, read, released (Prometheus cannot report the one it took).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={addr}"),
        ];
        Prometheus { child: Prometheus::spawn(&args), addr, args, _dir: dir }
    }

    fn spawn(args: &[String]) -> Child {
        Command::new("prometheus")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package `prometheus`; ./scripts/test.sh installs it)")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (Needs the `prometheus` feature: its answers are read by fleetdeck's own parser.)
#[cfg(feature = "prometheus")]
pub mod peer {
    use super::*;

    /// A JSON `POST` on `addr`: (status code, body).
    pub fn http_post_json(addr: &str, path: &str, json: &str) -> (u16, String) {
        http_send_json(addr, "POST", path, json)
    }

    /// The first of the daemon's lines after its first `seen` that `matches`.
    fn new_line(
        daemon: &crate::daemon::Daemon,
        seen: usize,
        what: &str,
        matches: impl Fn(&str) -> bool,
    ) -> String {
        wait_for(what, WAIT, || {
            let lines = daemon.lines();
            let fresh = &lines[seen.min(lines.len())..];
            fresh.iter().find(|l| matches(l)).cloned().ok_or_else(|| fresh.join("\n"))
        })
    }

    /// A JSON `PUT` on `addr`: (status code, body).
    pub fn http_put_json(addr: &str, path: &str, json: &str) -> (u16, String) {
        http_send_json(addr, "PUT", path, json)
    }

    fn http_send_json(addr: &str, method: &str, path: &str, json: &str) -> (u16, String) {
        crate::daemon::http_request(
            addr,
            &format!(
                "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            ),
        )
    }

    impl Prometheus {
        /// Stops the server (its data stays).
        pub fn stop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }

        /// Starts it again on the same address and data.
        pub fn start_again(&mut self) {
            self.child = Prometheus::spawn(&self.args);
        }

        /// Scraping `sim serve`'s two pages as two jobs: the GPU one with the exporter's own
        /// pod as target labels (so the GPUs' pods become `exported_pod`, as dcgm-exporter's
        /// chart scrapes), the serving one plain.
        pub fn scraping(sim: &SimServe) -> Prometheus {
            Prometheus::scraping_jobs(&[
                ("dcgm-exporter", &sim.gpu, "{pod: nvidia-dcgm-exporter-x7k2p, namespace: gpu-operator}"),
                ("serving", &sim.serving, ""),
            ])
        }

        /// An instant query's answer, read by fleetdeck's own parser.
        pub fn query(
            &self,
            promql: &str,
        ) -> Result<fleetdeck::backends::prometheus::response::Answer, String> {
            let url = reqwest::Url::parse_with_params(
                &format!("http://{}/api/v1/query", self.addr),
                [("query", promql)],
            )
            .map_err(|e| e.to_string())?;
            let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
            // Prometheus takes a few seconds to listen: a refused connection is "not yet".
            std::net::TcpStream::connect(&self.addr)
                .map_err(|e| format!("Prometheus not listening yet: {e}"))?;
            let (_, body) = http_get(&self.addr, &path);
            fleetdeck::backends::prometheus::response::parse(body.as_bytes()).map_err(|e| format!("{e:?}"))
        }
    }

    #[test]
    fn the_default_queries_read_sim_serves_figures_through_a_real_prometheus() {
        use fleetdeck::backends::prometheus::queries::{self, Aggregate, Selection};
        use std::time::Duration;
        // The fast fixture with warm-ups of minutes, so launched instances stay warming.
        let dir = tempfile::tempdir().unwrap();
        let config = fast_with(
            dir.path(),
            "slow-warmup.toml",
            r#"warmup = { min = "5s", max = "10s" }"#,
            r#"warmup = { min = "10m", max = "10m" }"#,
        );
        let sim = SimServe::start_file(&config, &[]);
        let prometheus = Prometheus::scraping(&sim);
        let selection = Selection::new(["llm-chat", "vision", "embeddings"], Duration::from_secs(5));
        // Waits until llm-chat's figure covers its 4 instances with a value in `expected`:
        // the first scrapes give rates over too few samples.
        let read = |what: &str, promql: &str, expected: std::ops::Range<f64>| {
            wait_for(what, WAIT, || {
                let answer = prometheus.query(promql)?;
                let figures = queries::figures(&answer.result);
                match figures.get("llm-chat") {
                    Some(f)
                        if f.instances == Some(4)
                            && f.at.is_some()
                            && f.value.is_some_and(|v| expected.contains(&v)) =>
                    {
                        Ok(*f)
                    }
                    _ => Err(format!("{figures:?}")),
                }
            })
        };
        // The fixture runs llm-chat's 4 instances at 60 % (19.2 req/s, 8 req/s each).
        let util = queries::gauge(&selection, "DCGM_FI_DEV_GPU_UTIL", Aggregate::Avg, "UUID").instant();
        read("GPU utilization by group", &util, 55.0..65.0);
        let rate = queries::counter_rate(&selection, &["vllm:request_success_total"], Duration::from_secs(5))
            .instant();
        read("the request rate", &rate, 15.0..24.0);
        let p95 = queries::histogram_quantile(
            &selection,
            "vllm:e2e_request_latency_seconds",
            0.95,
            Duration::from_secs(5),
        )
        .instant();
        let figure = read("p95 latency", &p95, 0.9..5.0);
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let age = now_ms - figure.at.unwrap().0;
        assert!(age < 30_000, "the oldest sample behind a figure is a recent one: {age} ms");

        // Two more instances launched: their GPUs report (idle, loading) before their
        // servers answer. The serving-gated utilization leaves them out: 4 at 60 %.
        let (code, body) = http_put_json(&sim.control, "/v1/groups/llm-chat/desired", r#"{"desired":6}"#);
        assert_eq!(code, 200, "{body}");
        let serving =
            selection.serving_pods(&["vllm:num_requests_running", "nv_inference_pending_request_count"]);
        let gated = queries::gauge_serving(
            &selection,
            "DCGM_FI_DEV_GPU_UTIL",
            "timestamp(DCGM_FI_DEV_GPU_UTIL)",
            Aggregate::Avg,
            "UUID",
            Some(&serving),
        )
        .instant();
        wait_for("all 6 GPUs in Prometheus", WAIT, || {
            let figures = queries::figures(&prometheus.query(&util)?.result);
            let f = figures.get("llm-chat").copied().unwrap_or_default();
            if f.instances == Some(6) { Ok(()) } else { Err(format!("{f:?}")) }
        });
        read("GPU utilization of the serving instances only", &gated, 55.0..65.0);
    }

    /// A fleet config reading `prometheus` and scaling through `sim`'s control API:
    /// the fast fixture's llm-chat, polled every second.
    pub fn fleet_config(
        dir: &std::path::Path,
        prometheus: &Prometheus,
        sim: &SimServe,
    ) -> std::path::PathBuf {
        fleet_config_with(dir, prometheus, sim, "")
    }

    /// [`fleet_config`]'s llm-chat policy line.
    const TRACKING: &str = "target_tracking = [{ metric = \"gpu_util\", target = 0.7 }]\n";
    /// A policy line for decisions that act at once, scale-in included.
    const UNSTABILIZED: &str = "stabilization = { scale_up = \"0s\", scale_down = \"0s\" }\n";

    /// The fast fixture with `from` (which it must have) replaced by `to`, written into
    /// `dir` as `name`.
    fn fast_with(dir: &std::path::Path, name: &str, from: &str, to: &str) -> std::path::PathBuf {
        let text = std::fs::read_to_string(fixture("fast.toml")).unwrap();
        assert!(text.contains(from), "the fast fixture has {from}");
        let path = dir.join(name);
        std::fs::write(&path, text.replace(from, to)).unwrap();
        path
    }

    /// A config file with each `(from, to)` replaced; each `from` must be there.
    fn rewrite(path: &std::path::Path, replacements: &[(&str, &str)]) {
        let mut text = std::fs::read_to_string(path).unwrap();
        for (from, to) in replacements {
            assert!(text.contains(from), "{} has {from}", path.display());
            text = text.replace(from, to);
        }
        std::fs::write(path, text).unwrap();
    }

    /// Waits until `sim serve` reports llm-chat at `desired`.
    fn wait_for_desired(sim: &SimServe, desired: u32) {
        wait_for(&format!("sim serve at {desired}"), WAIT, || {
            let (_, view) = http_get(&sim.control, "/v1/groups/llm-chat");
            if view.contains(&format!(r#""desired":{desired}"#)) { Ok(()) } else { Err(view) }
        });
    }

    /// [`fleet_config`] with `more` (groups, tables) appended.
    pub fn fleet_config_with(
        dir: &std::path::Path,
        prometheus: &Prometheus,
        sim: &SimServe,
        more: &str,
    ) -> std::path::PathBuf {
        let path = dir.join("fleet.toml");
        let text = format!(
            "fleet = \"prom-loop\"\npoll_interval = \"1s\"\n\n\
             [sources.prom]\nkind = \"prometheus\"\nurl = \"http://{}\"\nrate_window = \"5s\"\nstale_after = \"5s\"\n\n\
             [actuators.sim-http]\nkind = \"sim-http\"\nurl = \"http://{}\"\n\n\
             [[groups]]\nname = \"llm-chat\"\ninstance_type = \"p4d.24xlarge\"\nhourly_cost_usd = 32.77\n\
             min = 2\nmax = 16\ndesired = 4\nwarmup = {{ min = \"5s\", max = \"10s\" }}\nserving = \"vllm\"\n\
             slo_p95 = \"2s\"\nsource = \"prom\"\nactuator = \"sim-http\"\n\n\
             [groups.policy]\ntarget_tracking = [{{ metric = \"gpu_util\", target = 0.7 }}]\n",
            prometheus.addr, sim.control
        ) + more;
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The whole loop: `sim serve`, a Prometheus scraping it, and `fleetdeck --auto`
    /// reading that Prometheus and scaling through sim-http, up to its first decision on
    /// Prometheus data. Fields drop in order: the daemon first, its home last.
    struct Loop {
        daemon: crate::daemon::Daemon,
        prometheus: Prometheus,
        sim: SimServe,
        first_decision: String,
        _home: tempfile::TempDir,
    }

    impl Loop {
        fn start() -> Loop {
            let sim = SimServe::start("fast.toml", &[]);
            let prometheus = Prometheus::scraping(&sim);
            let home = tempfile::tempdir().unwrap();
            let config = fleet_config(home.path(), &prometheus, &sim);
            let daemon = crate::daemon::Daemon::start_config(home.path(), &config, None, &[], &[]);
            let first_decision = daemon.wait_for_line("a decision on Prometheus data", |l| {
                l.contains(r#""event":"decided""#) && l.contains(r#""kind":"gpu_util""#)
            });
            Loop { daemon, prometheus, sim, first_decision, _home: home }
        }
    }

    #[test]
    fn the_daemon_reads_prometheus_and_a_spike_scales_sim_serve_out() {
        let lp = Loop::start();
        let Loop { sim, daemon, first_decision, .. } = &lp;
        // Steady at 60 % of 4: the first decisions read Prometheus's figure and keep 4.
        assert!(first_decision.contains(r#""current":4"#), "{first_decision}");
        // `ctl sim` goes to the daemon, which sends it on to sim serve (sim-http).
        let spiked = daemon.ctl(&["sim", "spike", "llm-chat", "x2", "2m"]);
        let said =
            String::from_utf8_lossy(&spiked.stdout).into_owned() + &String::from_utf8_lossy(&spiked.stderr);
        assert!(spiked.status.success() && said.contains("llm-chat: demand ×2 for 2m"), "{said}");
        let grown = wait_for("sim serve to report the scale-out", WAIT, || {
            let (_, body) = http_get(&sim.control, "/v1/groups/llm-chat");
            let view: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
            let desired = view["capacity"]["desired"].as_u64().unwrap_or_default();
            if desired > 4 { Ok(desired) } else { Err(body) }
        });
        // 2 × 60 % of 4 instances needs 7 at a 70 % target; warming GPUs (idle, no server
        // yet) must not drag the mean down into the tolerance and stop it short.
        let settled = wait_for("the scale-out to reach what the load needs", WAIT, || {
            let (_, body) = http_get(&sim.control, "/v1/groups/llm-chat");
            let view: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
            let desired = view["capacity"]["desired"].as_u64().unwrap_or_default();
            if desired >= 7 { Ok(desired) } else { Err(body) }
        });
        assert!(grown > 4 && settled >= 7);
    }

    #[test]
    fn a_marker_another_process_writes_on_the_target_pauses_the_acting_daemon() {
        let lp = Loop::start();
        let Loop { sim, prometheus, daemon, .. } = &lp;
        // A console attached to the daemon draws llm-chat's sparklines from Prometheus.
        let console =
            crate::support::Tmux::start(&format!("{} --attach {}", bin(), daemon.socket.display()), 140, 40);
        wait_for("llm-chat's sparklines on the attached console", WAIT, || {
            let screen = console.capture();
            let row =
                screen.lines().find(|l| l.contains("llm-chat") && l.contains("4/0/4")).unwrap_or_default();
            let bars = row.chars().filter(|c| ('▁'..='█').contains(c)).count();
            if screen.contains("attached to") && bars >= 20 { Ok(()) } else { Err(screen) }
        });
        // Another process (here: a plain HTTP client) pauses the group on its target.
        let marker = r#"{"marker":"v1 mode=full by=bo@example.com why=INC-9"}"#;
        let (code, body) = http_put_json(&sim.control, "/v1/groups/llm-chat/marker", marker);
        assert_eq!(code, 200, "{body}");
        let blocked = daemon.wait_for_line("a decision blocked by the marker's pause", |l| {
            l.contains(r#""event":"decided""#) && l.contains("blocked: paused by bo@example.com")
        });
        assert!(blocked.contains("INC-9"), "the reason names the marker's why: {blocked}");
        // A spike that would scale out changes nothing while the pause holds.
        let spiked = daemon.ctl(&["sim", "spike", "llm-chat", "x3", "2m"]);
        assert!(spiked.status.success(), "{}", String::from_utf8_lossy(&spiked.stderr));
        let status = daemon.ctl(&["status"]);
        let status = String::from_utf8_lossy(&status.stdout).into_owned();
        assert!(status.contains("bo@example.com"), "ctl status shows who paused:\n{status}");
        console.wait_for_text(&[
            "paused (no automated changes) by bo@example.com",
            "INC-9 (marker on the target)",
        ]);
        // Decisions are announced once per run of equal ones, so the pause holding is seen
        // from outside: Prometheus shows the spike, sim serve still has 4; the marker
        // cleared, the same daemon scales out.
        let util = fleetdeck::backends::prometheus::queries::gauge(
            &fleetdeck::backends::prometheus::queries::Selection::new(
                ["llm-chat"],
                std::time::Duration::from_secs(5),
            ),
            "DCGM_FI_DEV_GPU_UTIL",
            fleetdeck::backends::prometheus::queries::Aggregate::Avg,
            "UUID",
        )
        .instant();
        wait_for("the spike in Prometheus", WAIT, || {
            let figures = fleetdeck::backends::prometheus::queries::figures(&prometheus.query(&util)?.result);
            let value = figures.get("llm-chat").and_then(|f| f.value).unwrap_or_default();
            if value >= 95.0 { Ok(()) } else { Err(format!("{figures:?}")) }
        });
        let (_, view) = http_get(&sim.control, "/v1/groups/llm-chat");
        assert!(view.contains(r#""desired":4"#), "nothing scaled while paused: {view}");
        let (code, body) = http_put_json(&sim.control, "/v1/groups/llm-chat/marker", r#"{"marker":null}"#);
        assert_eq!(code, 200, "{body}");
        wait_for("the scale-out once the marker is gone", WAIT, || {
            let (_, view) = http_get(&sim.control, "/v1/groups/llm-chat");
            if view.contains(r#""desired":4"#) { Err(view) } else { Ok(()) }
        });
    }

    #[test]
    fn a_dead_server_behind_a_live_gpu_exporter_is_stale_data_not_idle_gpus() {
        let lp = Loop::start();
        let Loop { sim, daemon, .. } = &lp;
        // Only what the daemon says from now on counts (its first decision, before
        // Prometheus had data, said gpu_util missing too).
        let seen = daemon.lines().len();
        let (code, body) = http_put_json(&sim.control, "/v1/serving", r#"{"up":false}"#);
        assert_eq!(code, 200, "{body}");
        // The GPU page goes on, but no GPU counts as serving: utilization is missing, and
        // missing data never scales in.
        let (code, _) = http_get(&sim.gpu, "/metrics");
        assert_eq!(code, 200);
        // The engine keeps the last sample it had, so it reads as stale, not fresh.
        let missing = new_line(daemon, seen, "gpu_util stale once the servers are gone", |l| {
            l.contains(r#""event":"decided""#) && l.contains("no scale-in: gpu_util")
        });
        assert!(missing.contains("gpu_util stale") || missing.contains("gpu_util missing"), "{missing}");
        let (_, view) = http_get(&sim.control, "/v1/groups/llm-chat");
        assert!(view.contains(r#""desired":4"#), "{view}");
    }

    #[test]
    fn an_instance_restart_resets_its_counters_without_a_spike_in_the_request_rate() {
        use fleetdeck::backends::prometheus::queries::{self, Selection};
        use std::time::Duration;
        let sim = SimServe::start("fast.toml", &[]);
        let prometheus = Prometheus::scraping(&sim);
        let selection = Selection::new(["llm-chat"], Duration::from_secs(5));
        let rate = queries::counter_rate(&selection, &["vllm:request_success_total"], Duration::from_secs(5))
            .instant();
        let read = || -> Result<(f64, i64), String> {
            let figures = queries::figures(&prometheus.query(&rate)?.result);
            match figures.get("llm-chat") {
                Some(f) if f.instances == Some(4) => {
                    Ok((f.value.unwrap_or_default(), f.at.map_or(0, |t| t.0)))
                }
                other => Err(format!("{other:?}")),
            }
        };
        wait_for("a steady request rate", WAIT, || match read()? {
            (v, _) if (15.0..24.0).contains(&v) => Ok(()),
            other => Err(format!("{other:?}")),
        });
        let restarted_at =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let (code, body) = http_post_json(&sim.control, "/v1/groups/llm-chat/restart", r#"{"instances":2}"#);
        assert_eq!(code, 200, "{body}");
        // Every rate until one whose window lies wholly after the restart: none jumps (a
        // counter falling to 0 read as a rise would be a spike of thousands).
        let mut seen = Vec::new();
        wait_for("rates over a window wholly after the restart", WAIT, || {
            let (value, at) = read()?;
            seen.push(value);
            assert!(value < 30.0, "the request rate spiked after a counter reset: {seen:?}");
            if at > restarted_at + 7_000 { Ok(()) } else { Err(format!("{seen:?}")) }
        });
        // And the counters did fall: Prometheus counts the resets.
        let resets =
            prometheus.query(r#"count(resets(vllm:request_success_total{finished_reason="stop"}[30s]) > 0)"#);
        let resets = match resets.map(|a| a.result) {
            Ok(fleetdeck::backends::prometheus::response::QueryResult::Vector(v)) => {
                v.first().map(|(_, p)| p.value)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(resets, Some(2.0), "two pods' counters were reset");
    }

    #[test]
    fn prometheus_stopped_is_a_failing_source_with_backoff_and_recovers_when_it_returns() {
        let mut lp = Loop::start();
        let Loop { sim, prometheus, daemon, .. } = &mut lp;
        // (It may have failed already while Prometheus started: only what follows counts.)
        let seen = daemon.lines().len();
        prometheus.stop();
        let failed = new_line(daemon, seen, "the source failing", |l| {
            l.contains(r#""event":"backend_failed""#) && l.contains(r#""backend":"source""#)
        });
        assert!(failed.contains("cannot connect") && failed.contains("retry_at"), "{failed}");
        let seen = daemon.lines().len();
        prometheus.start_again();
        // No restart of the daemon: the source recovers and decisions read data again.
        new_line(daemon, seen, "the source to recover", |l| l.contains(r#""event":"backend_recovered""#));
        let (_, view) = http_get(&sim.control, "/v1/groups/llm-chat");
        assert!(view.contains(r#""desired":4"#), "nothing scaled in while the source was away: {view}");
    }

    /// vision's own p95 query is one Prometheus refuses: vision alone fails, with
    /// Prometheus's own words, and llm-chat goes on deciding on its data.
    #[test]
    fn a_bad_promql_fails_its_group_with_prometheus_words_while_the_others_keep_working() {
        let sim = SimServe::start("fast.toml", &[]);
        let prometheus = Prometheus::scraping(&sim);
        let home = tempfile::tempdir().unwrap();
        let vision = "\n[[groups]]\nname = \"vision\"\ninstance_type = \"g4dn.xlarge\"\nhourly_cost_usd = 0.526\n\
                      min = 2\nmax = 20\ndesired = 4\nsource = \"prom\"\nactuator = \"sim-http\"\n\n\
                      [groups.policy]\ntarget_tracking = [{ metric = \"gpu_util\", target = 0.7 }]\n\n\
                      [groups.prometheus.queries]\n\
                      latency_p95 = 'histogram_quantile(0.95, sum by (le) (rate(nv_inference_request_duration_us[5s]))'\n";
        let config = fleet_config_with(home.path(), &prometheus, &sim, vision);
        let daemon = crate::daemon::Daemon::start_config(home.path(), &config, None, &[], &[]);
        let refused = daemon.wait_for_line("vision's source refused", |l| {
            l.contains(r#""event":"backend_failed""#)
                && l.contains(r#""group":"vision""#)
                && l.contains("refused: latency_p95")
        });
        assert!(
            refused.contains("refused: latency_p95: Prometheus http://") && refused.contains("bad_data"),
            "{refused}"
        );
        assert!(refused.contains("parse error"), "Prometheus's own words: {refused}");
        let seen = daemon.lines().len();
        let decided = new_line(&daemon, seen, "llm-chat deciding on Prometheus data", |l| {
            l.contains(r#""event":"decided""#)
                && l.contains(r#""group":"llm-chat""#)
                && l.contains(r#""kind":"gpu_util""#)
        });
        assert!(decided.contains(r#""current":4"#), "{decided}");
        let lines = daemon.lines();
        let fresh = &lines[seen.min(lines.len())..];
        assert!(
            !fresh
                .iter()
                .any(|l| l.contains(r#""event":"backend_failed""#) && l.contains(r#""group":"llm-chat""#)),
            "llm-chat never fails: {fresh:?}"
        );
        let (_, view) = http_get(&sim.control, "/v1/groups/vision");
        assert!(view.contains(r#""desired":4"#), "nothing scaled vision on a query that cannot run: {view}");
    }

    /// The whole `sim serve` gone (exporters, servers and control API) while Prometheus
    /// runs: the data goes stale, the target cannot be observed, nothing scales in.
    #[test]
    fn sim_serve_stopped_is_stale_data_and_a_failing_target_never_a_scale_in() {
        let mut lp = Loop::start();
        let seen = lp.daemon.lines().len();
        lp.sim.stop();
        let Loop { daemon, .. } = &lp;
        new_line(daemon, seen, "the target failing", |l| {
            l.contains(r#""event":"backend_failed""#) && l.contains(r#""backend":"actuator""#)
        });
        let held = new_line(daemon, seen, "a decision on stale data", |l| {
            l.contains(r#""event":"decided""#)
                && (l.contains("gpu_util stale") || l.contains("gpu_util missing"))
        });
        assert!(scales_in(&held).is_none(), "{held}");
        let lines = daemon.lines();
        let after = &lines[seen.min(lines.len())..];
        let scale_ins: Vec<&String> = after.iter().filter(|l| scales_in(l).is_some()).collect();
        assert!(scale_ins.is_empty(), "nothing scaled in once sim serve was gone: {scale_ins:?}");
    }

    /// A `decided` line's scale-in (current, desired), if it is one.
    fn scales_in(line: &str) -> Option<(u64, u64)> {
        let entry: serde_json::Value = serde_json::from_str(line).ok()?;
        if entry["event"] != "decided" {
            return None;
        }
        let (current, desired) = (entry["current"].as_u64()?, entry["desired"].as_u64()?);
        (desired < current).then_some((current, desired))
    }

    /// Eight days of llm-chat's history up to two minutes before `now` (Unix seconds), in
    /// OpenMetrics, as two pods of an earlier rollout wrote it every 15 s: 20 requests a
    /// second each, and in the last three hours 2, then 5, then 9 requests waiting each.
    /// Returns the text and the time of its last sample.
    fn eight_days_of_history(now: u64) -> (String, u64) {
        use std::fmt::Write;
        let end = now - 120 - now % 15;
        let start = end - 8 * 86_400;
        let labels: Vec<String> = ["llm-chat-7d9f-0", "llm-chat-7d9f-1"]
            .iter()
            .map(|pod| {
                format!(r#"{{job="history",instance="{pod}:8000",namespace="inference",pod="{pod}"}}"#)
            })
            .collect();
        let mut text = String::with_capacity(9_000_000);
        for t in (start..=end).step_by(15) {
            for pod in &labels {
                writeln!(text, "vllm:request_success_total{pod} {} {t}", (t - start) * 20).unwrap();
            }
        }
        let hours_start = end - 3 * 3600;
        for t in (hours_start + 15..=end).step_by(15) {
            let waiting = [2, 5, 9][((t - hours_start - 1) / 3600) as usize];
            for pod in &labels {
                writeln!(text, "vllm:num_requests_waiting{pod} {waiting} {t}").unwrap();
            }
        }
        (text + "# EOF\n", end)
    }

    /// Backfill: a Prometheus holding eight days of history before fleetdeck ever ran. At
    /// start the daemon reads it back: the store's minutes hold its known values, an
    /// attached console's first frame has a day of history, and the predictive group's
    /// weekly profile from it (40 requests a second at 4 an instance) scales out to 10
    /// while the live load alone needs 4.
    #[test]
    fn history_written_before_fleetdeck_ran_fills_the_charts_and_the_weekly_profile() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let (history, end) = eight_days_of_history(now);
        let sim = SimServe::start("fast.toml", &[]);
        let prometheus = Prometheus::scraping_jobs_with(
            &[
                ("dcgm-exporter", &sim.gpu, "{pod: nvidia-dcgm-exporter-x7k2p, namespace: gpu-operator}"),
                ("serving", &sim.serving, ""),
            ],
            Some(&history),
            None,
        );
        wait_for("Prometheus to serve the history", WAIT, || {
            let answer =
                prometheus.query(r#"count(last_over_time(vllm:num_requests_waiting{job="history"}[1h]))"#)?;
            match answer.result {
                fleetdeck::backends::prometheus::response::QueryResult::Vector(v) if !v.is_empty() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        let home = tempfile::tempdir().unwrap();
        let config = fleet_config(home.path(), &prometheus, &sim);
        let predictive = "predictive = { metric = \"request_rate\", target_per_instance = 4, mode = \"forecast_and_scale\" }\n";
        rewrite(
            &config,
            &[
                // The history's 15 s scrapes: fresh within 30 s, rates over a minute.
                ("rate_window = \"5s\"\nstale_after = \"5s\"", "rate_window = \"1m\"\nstale_after = \"30s\""),
                (TRACKING, &format!("{TRACKING}{predictive}")),
            ],
        );
        let daemon = crate::daemon::Daemon::start_config(home.path(), &config, None, &[], &[]);
        let console =
            crate::support::Tmux::start(&format!("{} --attach {}", bin(), daemon.socket.display()), 160, 50);
        let screen = console.wait_for_text(&["llm-chat", "history "]);
        let span = screen
            .lines()
            .find_map(|l| l.split(" UTC (").nth(1)?.split(" min)").next()?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("the history's span on the first frame:\n{screen}"));
        assert!(span >= 1400, "a day of minutes on the first frame, not {span}:\n{screen}");
        let decided = daemon.wait_for_line("a predictive decision from the weekly profile", |l| {
            l.contains(r#""event":"decided""#)
                && l.contains("predictive (forecast and scale): forecast request_rate")
        });
        assert!(decided.contains("→ 10 instances at 4 per instance"), "{decided}");
        wait_for_desired(&sim, 10);
        // The store holds the history's values, minute by minute.
        let db = home.path().join("state/fleetdeck/prom-loop/state.db");
        let store = fleetdeck::store::Store::open(&db).unwrap();
        let before_end =
            |m: &fleetdeck::store::MinuteAggregate| m.minute.as_millis() < (end as i64 - 60) * 1000;
        let since = fleetdeck::model::Timestamp::from_millis((now as i64 - 15 * 86_400) * 1000);
        let minutes = |kind| -> Vec<f64> {
            let stored = store.load_minutes("llm-chat", &kind, since).unwrap();
            stored.iter().filter(|m| before_end(m)).map(|m| m.mean).collect()
        };
        let rates = minutes(fleetdeck::model::MetricKind::RequestRate);
        let steady = rates.iter().filter(|r| (39.5..40.5).contains(*r)).count();
        assert!(steady >= 8 * 1440 - 10, "{steady} of {} minutes at 40/s", rates.len());
        let queue = minutes(fleetdeck::model::MetricKind::QueueLength);
        // An hour is 59 or 60 whole minutes of its own, as its edges fall between steps.
        let hours: Vec<usize> =
            [4.0, 10.0, 18.0].iter().map(|waiting| queue.iter().filter(|q| *q == waiting).count()).collect();
        assert!(hours.iter().all(|n| (59..=60).contains(n)), "minutes at 4, 10, 18 waiting: {hours:?}");
        assert_eq!(hours.iter().sum::<usize>(), queue.len(), "nothing but the history's values: {queue:?}");
    }

    /// Prometheus's own alerting rules on llm-chat's pods, read with `alerts = true`: the
    /// firing one and the pending one (its `for` not yet reached) are among llm-chat's
    /// alarms, marked as Prometheus's, and fleetdeck pages neither.
    #[test]
    fn prometheus_alerts_on_a_groups_pods_are_shown_beside_its_alarms_and_never_paged() {
        let rules = "groups:\n  - name: serving\n    rules:\n\
                     \x20     - alert: VllmServing\n        expr: vllm:num_requests_running >= 0\n\
                     \x20       annotations: { summary: '{{ $labels.pod }} serves' }\n\
                     \x20     - alert: VllmSlowBurn\n        expr: vllm:num_requests_running >= 0\n        for: 1h\n";
        let sim = SimServe::start("fast.toml", &[]);
        let prometheus = Prometheus::scraping_jobs_with(
            &[
                ("dcgm-exporter", &sim.gpu, "{pod: nvidia-dcgm-exporter-x7k2p, namespace: gpu-operator}"),
                ("serving", &sim.serving, ""),
            ],
            None,
            Some(rules),
        );
        let home = tempfile::tempdir().unwrap();
        let config = fleet_config(home.path(), &prometheus, &sim);
        rewrite(&config, &[("stale_after = \"5s\"\n", "stale_after = \"5s\"\nalerts = true\n")]);
        let daemon = crate::daemon::Daemon::start_config(home.path(), &config, None, &[], &[]);
        let alarms = wait_for("Prometheus's alerts among llm-chat's alarms", WAIT, || {
            let status = daemon.ctl(&["status", "--json"]);
            let text = String::from_utf8_lossy(&status.stdout).into_owned();
            let snapshot: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
            let alarms = snapshot["groups"][0]["alarms"].as_array().cloned().unwrap_or_default();
            let from_prom: Vec<serde_json::Value> =
                alarms.into_iter().filter(|a| a["source"] == "prom").collect();
            // One alert per pod of each rule: 4 pods serve.
            if from_prom.len() == 8 { Ok(from_prom) } else { Err(format!("{from_prom:?}")) }
        });
        let of = |name: &str| alarms.iter().filter(|a| a["name"] == name).collect::<Vec<_>>();
        assert!(of("VllmServing").iter().all(|a| a["state"] == "FIRING"), "{alarms:?}");
        assert!(of("VllmSlowBurn").iter().all(|a| a["state"] == "PENDING"), "{alarms:?}");
        assert!(
            of("VllmServing").iter().all(|a| a["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("llm-chat-") && s.ends_with(" serves"))),
            "{alarms:?}"
        );
        // Read only: no page went out for any of them.
        let paged: Vec<String> = daemon.lines().into_iter().filter(|l| l.contains("Vllm")).collect();
        assert!(paged.is_empty(), "fleetdeck announced or paged Prometheus's alerts: {paged:?}");
    }

    /// `examples/kind/fleetdeck.toml` as it is (polled every second instead of 15 s)
    /// against `sim serve` through a Prometheus whose targets carry the labels that
    /// `examples/kind/prometheus.yml` gives in a cluster: `pod` and `namespace` of the
    /// scraped pod (here the sim's own), the pages' own `pod` renamed `exported_pod`.
    #[test]
    fn the_kind_examples_fleetdeck_config_reads_sim_serve_under_the_kind_scrapes_labels() {
        let sim = SimServe::start("fast.toml", &[]);
        let target = "{pod: fleetdeck-sim-5d8f7c9b6-x2x7q, namespace: inference}";
        let prometheus = Prometheus::scraping_jobs(&[
            ("dcgm-exporter", &sim.gpu, target),
            ("serving", &sim.serving, target),
        ]);
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("kind.toml");
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kind/fleetdeck.toml");
        std::fs::copy(&example, &config).unwrap();
        rewrite(
            &config,
            &[
                ("url = \"http://127.0.0.1:9090\"", &format!("url = \"http://{}\"", prometheus.addr)),
                ("url = \"http://127.0.0.1:9400\"", &format!("url = \"http://{}\"", sim.control)),
                ("poll_interval = \"15s\"", "poll_interval = \"1s\""),
            ],
        );
        let daemon = crate::daemon::Daemon::start_config(home.path(), &config, None, &[], &[]);
        let decided = daemon.wait_for_line("a decision on the GPUs' utilization", |l| {
            l.contains(r#""event":"decided""#) && l.contains(r#""kind":"gpu_util","value":"#)
        });
        let util: f64 = decided
            .split(r#""kind":"gpu_util","value":"#)
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{decided}"));
        assert!((0.5..0.7).contains(&util), "sim serve's 60 % read through the kind labels: {decided}");
        assert!(decided.contains(r#""current":4"#), "{decided}");
    }

    /// No traffic at all: every GPU idle, the request rate 0 and the latency quantiles
    /// undefined (NaN, left out) — an idle group, not missing data, so it scales in to
    /// its min.
    #[test]
    fn zero_traffic_is_an_idle_group_that_scales_in_to_its_min() {
        let dir = tempfile::tempdir().unwrap();
        let idle = fast_with(
            dir.path(),
            "idle.toml",
            r#"traffic = { shape = "constant", rps = 19.2, noise = 0.01 }"#,
            r#"traffic = { shape = "constant", rps = 0 }"#,
        );
        let sim = SimServe::start_file(&idle, &[]);
        let prometheus = Prometheus::scraping(&sim);
        let config = fleet_config(dir.path(), &prometheus, &sim);
        rewrite(&config, &[(TRACKING, &format!("{TRACKING}{UNSTABILIZED}"))]);
        let daemon = crate::daemon::Daemon::start_config(dir.path(), &config, None, &[], &[]);
        let scaled = new_line(&daemon, 0, "the idle group scaled in", |l| {
            l.contains(r#""event":"decided""#) && l.contains(r#""desired":2"#)
        });
        assert_eq!(scales_in(&scaled), Some((4, 2)));
        assert!(scaled.contains("scale in 4→2: gpu_util 0.00 < target 0.70"), "{scaled}");
        assert!(
            scaled.contains(r#"{"kind":"request_rate","value":0.0"#),
            "an idle group, read as such: {scaled}"
        );
        wait_for_desired(&sim, 2);
    }

    /// The GPU exporters of 2 of llm-chat's 4 nodes down, the other 2 GPUs at 10 % under a
    /// 50 % target: the samples cover 2 instances, and the policy counts the 2 it cannot
    /// see as at target (the HPA's rule) — 3, never 1.
    #[test]
    fn two_of_four_gpus_reporting_at_ten_percent_under_a_fifty_percent_target_is_three_never_one() {
        let dir = tempfile::tempdir().unwrap();
        // 10 % of 4 instances at 8 req/s each.
        let light = fast_with(dir.path(), "light.toml", "rps = 19.2, noise = 0.01", "rps = 3.2");
        let sim = SimServe::start_file(&light, &[]);
        let (code, body) = http_put_json(&sim.control, "/v1/groups/llm-chat/exporters", r#"{"down":2}"#);
        assert_eq!(code, 200, "{body}");
        let prometheus = Prometheus::scraping(&sim);
        let config = fleet_config(dir.path(), &prometheus, &sim);
        let half = format!("target_tracking = [{{ metric = \"gpu_util\", target = 0.5 }}]\n{UNSTABILIZED}");
        rewrite(&config, &[("min = 2\n", "min = 1\n"), (TRACKING, &half)]);
        let daemon = crate::daemon::Daemon::start_config(dir.path(), &config, None, &[], &[]);
        let decided =
            new_line(&daemon, 0, "a scale-in on the 2 GPUs that report", |l| scales_in(l).is_some());
        assert_eq!(scales_in(&decided), Some((4, 3)), "{decided}");
        assert!(
            decided.contains("gpu_util 0.10 from 2 of 4 instances < target 0.50 (needs 3; the 2 without a metric count as at target)"),
            "{decided}"
        );
        wait_for_desired(&sim, 3);
        // At 3 (1 of them reporting, at 13 %), it holds there.
        let seen = daemon.lines().len();
        new_line(&daemon, seen, "a decision at 3 that keeps 3", |l| {
            l.contains(r#""event":"decided""#) && l.contains(r#""current":3"#) && l.contains("no change at 3")
        });
        let ones: Vec<String> =
            daemon.lines().into_iter().filter(|l| scales_in(l).is_some_and(|(_, d)| d < 3)).collect();
        assert!(ones.is_empty(), "never below what the unseen instances may need: {ones:?}");
    }

    /// Triton (vision, a generic group): its mean latency from request time over
    /// requests, and its p95 from the latency summary `--triton-summaries` turns on.
    #[test]
    fn tritons_mean_latency_and_summary_p95_read_through_a_real_prometheus() {
        use fleetdeck::backends::prometheus::queries::{self, Selection};
        use std::time::Duration;
        let sim = SimServe::start("fast.toml", &["--triton-summaries"]);
        let prometheus = Prometheus::scraping(&sim);
        let selection = Selection::new(["llm-chat", "vision"], Duration::from_secs(5));
        let read = |what: &str, promql: &str| {
            wait_for(what, WAIT, || {
                let figures = queries::figures(&prometheus.query(promql)?.result);
                match figures.get("vision") {
                    Some(f) if f.instances == Some(4) && f.value.is_some_and(f64::is_finite) => {
                        Ok(f.value.unwrap())
                    }
                    other => Err(format!("{other:?}")),
                }
            })
        };
        let mean = queries::counter_ratio(
            &selection,
            "nv_inference_request_duration_us",
            &["nv_inference_request_success", "nv_inference_request_failure"],
            1e-6,
            Duration::from_secs(5),
        )
        .instant();
        let p95 = queries::summary_quantiles(
            &selection,
            "nv_inference_request_summary_us",
            &[(0.95, "value")],
            true,
        )
        .instant();
        // 120 ms of service at 60 % utilization: a mean of a few tenths of a second, in
        // seconds (not µs), and a p95 above it.
        let mean = read("Triton's mean latency", &mean);
        assert!((0.1..1.0).contains(&mean), "mean {mean} s");
        let p95 = read("Triton's summary p95", &p95);
        assert!(p95 >= mean && p95 < 5.0, "p95 {p95} s, mean {mean} s");
        // llm-chat is vLLM: no Triton series, so no figure rather than a zero.
        let figures = queries::figures(
            &prometheus
                .query(
                    &queries::summary_quantiles(
                        &selection,
                        "nv_inference_request_summary_us",
                        &[(0.95, "value")],
                        true,
                    )
                    .instant(),
                )
                .unwrap()
                .result,
        );
        assert!(!figures.contains_key("llm-chat"), "{figures:?}");
    }
}
