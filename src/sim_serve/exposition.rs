//! The two pages `sim serve` exposes, in the Prometheus text format (version 0.0.4):
//! the GPU page as dcgm-exporter writes it, and the serving page as vLLM (groups with
//! `serving = "vllm"`) and Triton (`generic` groups) write theirs. Names, labels and
//! units are the exporters' own: dcgm's utilization in percent and memory in MiB, Triton's
//! durations in microseconds, Triton counters without `_total`.
//!
//! Written by hand rather than through `prometheus-client`, whose encoder appends
//! `_total` to every counter and cannot write Triton's names as they are.

use std::fmt::Write;

use crate::model::Serving;

use super::roster::{GroupRoster, Histogram, Instance, SUMMARY_QUANTILES};

/// The driver version the simulated GPUs report.
const DRIVER_VERSION: &str = "550.54.15";

/// Where the simulated pods run.
pub const NAMESPACE: &str = "default";

/// A family of series: its name, its HELP text and where its value comes from.
type Family<F> = (&'static str, &'static str, F);
type GroupGauge = Family<fn(&GroupRoster) -> Option<f64>>;
type InstanceValue<V> = Family<fn(&Instance) -> V>;
type InstanceHistogram = Family<fn(&Instance) -> &Histogram>;

/// A page being written: families in order, each with its HELP and TYPE lines.
struct Page {
    out: String,
}

impl Page {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        let bounds: Vec<String> = h.bounds.iter().map(|b| number(*b)).collect();
        for (bound, count) in bounds.iter().zip(&h.buckets) {
            with_le.push(("le", bound));
            self.sample(&format!("{name}_bucket"), &with_le, count.round());
            with_le.pop();
        }
        with_le.push(("le", "+Inf"));
        self.sample(&format!("{name}_bucket"), &with_le, h.count as f64);
        self.sample(&format!("{name}_count"), labels, h.count as f64);
        self.sample(&format!("{name}_sum"), labels, h.sum);
    }
}

/// A label value as the format wants it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A sample value: Go's float forms for the special values, else Rust's shortest form.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

/// The GPU model and its memory (MiB) for an instance type, by the GPU its family carries.
fn gpu_model(instance_type: &str) -> (&'static str, f64) {
    let family = instance_type.split('.').next().unwrap_or_default();
    match family {
        "p4d" => ("NVIDIA A100-SXM4-40GB", 40_960.0),
        "p4de" => ("NVIDIA A100-SXM4-80GB", 81_920.0),
        "g5" => ("NVIDIA A10G", 23_028.0),
        "g6" => ("NVIDIA L4", 23_034.0),
        "g4dn" => ("Tesla T4", 15_360.0),
        "p3" => ("Tesla V100-SXM2-16GB", 16_384.0),
        "p5e" | "p5en" => ("NVIDIA H200", 143_771.0),
        _ => ("NVIDIA H100 80GB HBM3", 81_559.0),
    }
}

/// The GPU memory a warming instance holds while it loads its model.
const LOADING_MEM: f64 = 0.3;

fn gpu_labels<'a>(
    group: &'a GroupRoster,
    instance: &'a Instance,
    model: &'a str,
) -> [(&'a str, &'a str); 10] {
    let container = match group.serving {
        Serving::Vllm => "vllm",
        Serving::Generic => "triton",
    };
    [
        ("gpu", "0"),
        ("UUID", &instance.uuid),
        ("pci_bus_id", &instance.pci_bus_id),
        ("device", "nvidia0"),
        ("modelName", model),
        ("Hostname", &instance.hostname),
        ("DCGM_FI_DRIVER_VERSION", DRIVER_VERSION),
        ("container", container),
        ("namespace", NAMESPACE),
        ("pod", &instance.pod),
    ]
}

/// dcgm-exporter's page: every instance's GPU, ready or warming, of every group not in
/// a gap, where the exporter on its node is up. A ready GPU's series missing from the group's last sample is left out.
pub fn gpu_page(groups: &[GroupRoster]) -> String {
    let mut page = Page { out: String::new() };
    let live = || groups.iter().filter(|g| !g.gap);
    page.family("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).");
    for group in live() {
        let (model, _) = gpu_model(&group.instance_type);
        for instance in group.exported() {
            let util = if instance.ready { group.gauges.gpu_util } else { Some(0.0) };
            if let Some(util) = util {
                page.sample(
                    "DCGM_FI_DEV_GPU_UTIL",
                    &gpu_labels(group, instance, model),
                    (util * 100.0).round(),
                );
            }
        }
    }
    for (name, help, used) in [
        ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", false),
        ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", true),
    ] {
        page.family(name, "gauge", help);
        for group in live() {
            let (model, total) = gpu_model(&group.instance_type);
            for instance in group.exported() {
                let fraction = if instance.ready { group.gauges.gpu_mem } else { Some(LOADING_MEM) };
                if let Some(fraction) = fraction {
                    let used_mib = (fraction * total).round();
                    let value = if used { used_mib } else { total - used_mib };
                    page.sample(name, &gpu_labels(group, instance, model), value);
                }
            }
        }
    }
    page.out
}

/// The serving page: each ready instance's server (a warming pod's server does not
/// answer yet). Every series carries the `pod` and `namespace` a Kubernetes scrape would
/// add as target labels, since one `sim serve` listener stands in for every pod.
/// `triton_summaries`: also Triton's latency summaries, as `--metrics-config
/// summary_latencies=true` turns them on.
pub fn serving_page(groups: &[GroupRoster], triton_summaries: bool) -> String {
    let mut page = Page { out: String::new() };
    let live = |serving: Serving| groups.iter().filter(move |g| !g.gap && g.serving == serving);
    vllm(&mut page, live(Serving::Vllm));
    triton(&mut page, live(Serving::Generic), triton_summaries);
    page.out
}

fn vllm<'a>(page: &mut Page, groups: impl Iterator<Item = &'a GroupRoster> + Clone) {
    let labels = |g: &'a GroupRoster, i: &'a Instance| -> [(&'a str, &'a str); 4] {
        [("engine", "0"), ("model_name", &g.name), ("namespace", NAMESPACE), ("pod", &i.pod)]
    };
    let gauges: [GroupGauge; 4] = [
        ("vllm:num_requests_running", "Number of requests in model execution batches.", |g| g.gauges.running),
        ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", |g| g.gauges.waiting),
        ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", |g| g.gauges.kv_cache),
        (
            "vllm:gpu_cache_usage_perc",
            "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.",
            |g| g.gauges.kv_cache,
        ),
    ];
    for (name, help, value) in gauges {
        page.family(name, "gauge", help);
        for group in groups.clone() {
            if let Some(v) = value(group) {
                for instance in group.ready() {
                    page.sample(name, &labels(group, instance), v);
                }
            }
        }
    }
    let counters: [InstanceValue<u64>; 2] = [
        ("vllm:prompt_tokens", "Number of prefill tokens processed.", |i| i.counters.prompt_tokens),
        ("vllm:generation_tokens", "Number of generation tokens processed.", |i| {
            i.counters.generation_tokens
        }),
    ];
    for (name, help, value) in counters {
        // The text format names a counter's family with its `_total`, as vLLM's Python
        // client writes it.
        let name = format!("{name}_total");
        page.family(&name, "counter", help);
        for group in groups.clone() {
            for instance in group.ready() {
                page.sample(&name, &labels(group, instance), value(instance) as f64);
            }
        }
    }
    page.family("vllm:request_success_total", "counter", "Count of successfully processed requests.");
    for group in groups.clone() {
        for instance in group.ready() {
            let base = labels(group, instance);
            for (reason, count) in
                [("stop", instance.counters.requests), ("abort", instance.counters.failures)]
            {
                let mut with_reason = base.to_vec();
                with_reason.insert(1, ("finished_reason", reason));
                page.sample("vllm:request_success_total", &with_reason, count as f64);
            }
        }
    }
    let histograms: [InstanceHistogram; 3] = [
        ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", |i| {
            &i.counters.e2e
        }),
        ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", |i| {
            &i.counters.ttft
        }),
        ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", |i| {
            &i.counters.itl
        }),
    ];
    for (name, help, histogram) in histograms {
        page.family(name, "histogram", help);
        for group in groups.clone() {
            for instance in group.ready() {
                page.histogram(name, &labels(group, instance), histogram(instance));
            }
        }
    }
}

fn triton<'a>(page: &mut Page, groups: impl Iterator<Item = &'a GroupRoster> + Clone, summaries: bool) {
    let labels = |g: &'a GroupRoster, i: &'a Instance| -> [(&'a str, &'a str); 4] {
        [("model", &g.name), ("version", "1"), ("namespace", NAMESPACE), ("pod", &i.pod)]
    };
    page.family(
        "nv_inference_pending_request_count",
        "gauge",
        "Instantaneous number of pending requests awaiting execution per-model.",
    );
    for group in groups.clone() {
        if let Some(waiting) = group.gauges.waiting {
            for instance in group.ready() {
                page.sample("nv_inference_pending_request_count", &labels(group, instance), waiting.round());
            }
        }
    }
    let counters: [InstanceValue<f64>; 4] = [
        ("nv_inference_request_success", "Number of successful inference requests, all batch sizes", |i| {
            i.counters.requests as f64
        }),
        ("nv_inference_count", "Number of inferences performed (does not include cached requests)", |i| {
            i.counters.requests as f64 * super::roster::TRITON_BATCH
        }),
        (
            "nv_inference_request_duration_us",
            "Cumulative inference request duration in microseconds (includes cached requests)",
            |i| i.counters.request_duration_us.round(),
        ),
        (
            "nv_inference_queue_duration_us",
            "Cumulative inference queuing duration in microseconds (includes cached requests)",
            |i| i.counters.queue_duration_us.round(),
        ),
    ];
    for (name, help, value) in counters {
        page.family(name, "counter", help);
        for group in groups.clone() {
            for instance in group.ready() {
                page.sample(name, &labels(group, instance), value(instance));
            }
        }
    }
    page.family(
        "nv_inference_request_failure",
        "counter",
        "Number of failed inference requests, all batch sizes",
    );
    for group in groups.clone() {
        for instance in group.ready() {
            let mut with_reason = labels(group, instance).to_vec();
            with_reason.insert(1, ("reason", "REJECTED"));
            page.sample("nv_inference_request_failure", &with_reason, instance.counters.failures as f64);
        }
    }
    if !summaries {
        return;
    }
    let name = "nv_inference_request_summary_us";
    page.family(
        name,
        "summary",
        "Summary of inference request duration in microseconds (includes cached requests)",
    );
    for group in groups {
        for instance in group.ready() {
            let base = labels(group, instance);
            if let Some(quantiles) = group.gauges.quantiles {
                for (q, value) in SUMMARY_QUANTILES.iter().zip(quantiles) {
                    let q = q.to_string();
                    let mut with_q = base.to_vec();
                    with_q.push(("quantile", &q));
                    page.sample(name, &with_q, (value * 1e6).round());
                }
            }
            page.sample(&format!("{name}_count"), &base, instance.counters.requests as f64);
            page.sample(&format!("{name}_sum"), &base, instance.counters.request_duration_us.round());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capacity, MetricKind, MetricSample, Sample, Timestamp};
    use crate::sim::SimGroupState;

    fn roster(serving: Serving) -> GroupRoster {
        let mut g = GroupRoster::new("llm-chat", serving, "p5.48xlarge", 7);
        let capacity = Capacity { desired: 3, ready: 2, warming: 1, failed: 0, observed_at: Timestamp(0) };
        let at = Timestamp(0);
        let samples = [(MetricKind::GpuUtil, 0.5), (MetricKind::GpuMem, 0.9), (MetricKind::QueueLength, 3.0)]
            .map(|(kind, value)| MetricSample::new(kind, Sample { at, value }));
        let state = SimGroupState {
            at,
            baseline_rps: 10.0,
            demand_rps: 10.0,
            served_rps: 10.0,
            dropped_rps: 0.0,
            backlog: 0.0,
            capacity_rps: 20.0,
            ready: 2,
        };
        for _ in 0..10 {
            g.update(&capacity, &samples, &state, 0.3, 1.0);
        }
        g
    }

    #[test]
    fn the_gpu_page_has_a_series_per_gpu_warming_ones_included_in_dcgms_units() {
        let page = gpu_page(&[roster(Serving::Vllm)]);
        let util: Vec<&str> = page.lines().filter(|l| l.starts_with("DCGM_FI_DEV_GPU_UTIL{")).collect();
        assert_eq!(util.len(), 3, "{page}");
        assert_eq!(util.iter().filter(|l| l.ends_with(" 50")).count(), 2, "{page}");
        assert!(
            util[0].contains("modelName=\"NVIDIA H100 80GB HBM3\"") && util[0].contains("pod=\"llm-chat-")
        );
        let used = page.lines().find(|l| l.starts_with("DCGM_FI_DEV_FB_USED{")).unwrap();
        assert!(used.ends_with(&format!(" {}", (0.9 * 81_559.0_f64).round())), "{used}");
    }

    #[test]
    fn a_node_whose_exporter_is_down_has_no_gpu_series_and_its_server_goes_on() {
        let mut group = roster(Serving::Vllm);
        assert_eq!(group.exporters_down(2), 2);
        let page = gpu_page(std::slice::from_ref(&group));
        let gpus = |name: &str| page.lines().filter(|l| l.starts_with(&format!("{name}{{"))).count();
        assert_eq!((gpus("DCGM_FI_DEV_GPU_UTIL"), gpus("DCGM_FI_DEV_FB_USED")), (1, 1), "{page}");
        let serving = serving_page(std::slice::from_ref(&group), false);
        assert_eq!(serving.lines().filter(|l| l.starts_with("vllm:num_requests_waiting{")).count(), 2);
        group.exporters_down(0);
        assert_eq!(gpu_page(&[group]).lines().filter(|l| l.starts_with("DCGM_FI_DEV_GPU_UTIL{")).count(), 3);
    }

    #[test]
    fn the_serving_page_has_ready_instances_only_and_complete_histograms() {
        let page = serving_page(&[roster(Serving::Vllm)], false);
        let waiting: Vec<&str> =
            page.lines().filter(|l| l.starts_with("vllm:num_requests_waiting{")).collect();
        assert_eq!(waiting.len(), 2, "{page}");
        assert!(waiting[0].ends_with(" 1.5"), "{}", waiting[0]);
        let inf = page
            .lines()
            .find(|l| l.starts_with("vllm:e2e_request_latency_seconds_bucket{") && l.contains("le=\"+Inf\""))
            .unwrap();
        let count = page.lines().find(|l| l.starts_with("vllm:e2e_request_latency_seconds_count{")).unwrap();
        assert_eq!(inf.rsplit(' ').next(), count.rsplit(' ').next());
        assert!(page.contains("vllm:request_success_total{engine=\"0\",finished_reason=\"stop\""), "{page}");
    }

    #[test]
    fn triton_counters_have_no_total_suffix_and_summaries_only_when_asked() {
        let without = serving_page(&[roster(Serving::Generic)], false);
        assert!(
            without.contains("\nnv_inference_request_success{model=\"llm-chat\",version=\"1\""),
            "{without}"
        );
        assert!(!without.contains("nv_inference_request_summary_us"));
        let with = serving_page(&[roster(Serving::Generic)], true);
        assert!(with.contains(
            "nv_inference_request_summary_us{model=\"llm-chat\",version=\"1\",namespace=\"default\",pod="
        ));
        assert!(with.contains(",quantile=\"0.95\"}"), "{with}");
    }

    #[test]
    fn label_values_are_escaped_and_special_values_spelled_as_go_does() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(
            (number(f64::NAN), number(f64::INFINITY), number(2.0)),
            ("NaN".into(), "+Inf".into(), "2".into())
        );
    }
}
