//! The GPU check's results: kept as they come, written as `results.json` and `results.md`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// One encoder's values on the device against the CPU's.
pub struct ParityRow {
    pub encoder: String,
    pub precision: &'static str,
    /// The largest difference over the largest magnitude of the CPU's values (at least 1).
    pub max_relative_difference: f64,
    pub tolerance: f64,
}

/// One encoder at one batch size on one device.
pub struct ThroughputRow {
    pub encoder: String,
    pub device: String,
    pub batch: usize,
    pub records_per_s: f64,
    pub p99_batch_ms: f64,
}

/// A whole run on both devices, compared.
pub struct WholeRunRow {
    pub run: &'static str,
    /// What was compared, in words, with both answers.
    pub detail: String,
    pub passed: bool,
}

pub struct Report {
    device: tch::Device,
    device_name: String,
    parity: Vec<ParityRow>,
    throughput: Vec<ThroughputRow>,
    whole_runs: Vec<WholeRunRow>,
}

impl Report {
    pub fn new(device: tch::Device, device_name: String) -> Self {
        Self {
            device,
            device_name,
            parity: Vec::new(),
            throughput: Vec::new(),
            whole_runs: Vec::new(),
        }
    }

    pub fn device(&self) -> tch::Device {
        self.device
    }

    pub fn parity(&mut self, row: ParityRow) {
        eprintln!(
            "  {} ({}): {:.2e} (tolerance {:.0e})",
            row.encoder, row.precision, row.max_relative_difference, row.tolerance
        );
        self.parity.push(row);
    }

    pub fn throughput(&mut self, row: ThroughputRow) {
        eprintln!(
            "  {} on {} at {}: {:.0} records/s, p99 {:.3} ms",
            row.encoder, row.device, row.batch, row.records_per_s, row.p99_batch_ms
        );
        self.throughput.push(row);
    }

    pub fn whole_run(&mut self, row: WholeRunRow) {
        eprintln!(
            "  {}: {} ({})",
            row.run,
            row.detail,
            if row.passed { "ok" } else { "FAILED" }
        );
        self.whole_runs.push(row);
    }

    pub fn checks(&self) -> usize {
        self.parity.len() + self.whole_runs.len()
    }

    pub fn failures(&self) -> usize {
        self.parity
            .iter()
            .filter(|r| r.max_relative_difference.is_nan() || r.max_relative_difference > r.tolerance)
            .count()
            + self.whole_runs.iter().filter(|r| !r.passed).count()
    }

    /// Records per second of `encoder` at `batch` on the device over the CPU's, where both ran.
    fn speedup(&self, encoder: &str, batch: usize) -> Option<f64> {
        let rate = |device: &str| {
            self.throughput
                .iter()
                .find(|r| r.encoder == encoder && r.batch == batch && r.device == device)
                .map(|r| r.records_per_s)
        };
        Some(rate("device")? / rate("cpu")?)
    }

    /// The targets on a GPU: (what, measured, goal). Unmeasured without a GPU.
    fn targets(&self) -> Vec<(&'static str, Option<f64>, f64)> {
        let on_gpu = self.device != tch::Device::Cpu;
        let best_device_rate = |prefix: &str| {
            self.throughput
                .iter()
                .filter(|r| r.device == "device" && r.encoder.starts_with(prefix))
                .map(|r| r.records_per_s)
                .fold(None, |best: Option<f64>, rate| Some(best.map_or(rate, |b| b.max(rate))))
        };
        vec![
            (
                "the shared audio encoder (semitone-flux) at a batch of 256, GPU over one CPU thread",
                self.speedup("follow's semitone-flux", 256).filter(|_| on_gpu),
                20.0,
            ),
            (
                "ResNet-18 at 1280×720 in half precision, frames per second (best batch)",
                best_device_rate("model resnet18_720p").filter(|_| on_gpu),
                2000.0,
            ),
        ]
    }

    pub fn write(&self, folder: &Path) -> Result<()> {
        let json = json!({
            "device": self.device_name,
            "libtorch_device": format!("{:?}", self.device),
            "cuda_devices": tch::Cuda::device_count(),
            "parity": self.parity.iter().map(|r| json!({
                "encoder": r.encoder,
                "precision": r.precision,
                "max_relative_difference": r.max_relative_difference,
                "tolerance": r.tolerance,
                "passed": r.max_relative_difference <= r.tolerance,
            })).collect::<Vec<Value>>(),
            "throughput": self.throughput.iter().map(|r| json!({
                "encoder": r.encoder,
                "device": r.device,
                "batch": r.batch,
                "records_per_s": r.records_per_s,
                "p99_batch_ms": r.p99_batch_ms,
            })).collect::<Vec<Value>>(),
            "whole_runs": self.whole_runs.iter().map(|r| json!({
                "run": r.run,
                "detail": r.detail,
                "passed": r.passed,
            })).collect::<Vec<Value>>(),
            "targets": self.targets().iter().map(|(what, measured, goal)| json!({
                "target": what,
                "measured": measured,
                "goal": goal,
                "met": measured.map(|m| m >= *goal),
            })).collect::<Vec<Value>>(),
            "checks": self.checks(),
            "failures": self.failures(),
        });
        let path = folder.join("results.json");
        std::fs::write(&path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let path = folder.join("results.md");
        std::fs::write(&path, self.markdown()).with_context(|| format!("writing {}", path.display()))
    }

    fn markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "Device: {} (libtorch {:?}); the CPU side on one thread.\n",
            self.device_name, self.device
        );
        let _ = writeln!(
            text,
            "| encoder | precision | max difference (relative) | tolerance | |"
        );
        let _ = writeln!(text, "| --- | --- | --- | --- | --- |");
        for r in &self.parity {
            let verdict = if r.max_relative_difference <= r.tolerance {
                "ok"
            } else {
                "FAILED"
            };
            let _ = writeln!(
                text,
                "| {} | {} | {:.2e} | {:.0e} | {verdict} |",
                r.encoder, r.precision, r.max_relative_difference, r.tolerance
            );
        }
        let _ = writeln!(text, "\n| run | compared | |");
        let _ = writeln!(text, "| --- | --- | --- |");
        for r in &self.whole_runs {
            let _ = writeln!(
                text,
                "| {} | {} | {} |",
                r.run,
                r.detail,
                if r.passed { "ok" } else { "FAILED" }
            );
        }
        let _ = writeln!(text, "\n| target | measured | goal | |");
        let _ = writeln!(text, "| --- | --- | --- | --- |");
        for (what, measured, goal) in self.targets() {
            let (value, verdict) = match measured {
                Some(m) => (format!("{m:.1}"), if m >= goal { "met" } else { "not met" }),
                None => ("—".to_owned(), "not measured (no GPU)"),
            };
            let _ = writeln!(text, "| {what} | {value} | ≥ {goal} | {verdict} |");
        }
        let _ = writeln!(
            text,
            "\n| encoder | batch | CPU records/s | CPU p99 ms | device records/s | device p99 ms | device / CPU |"
        );
        let _ = writeln!(text, "| --- | --- | --- | --- | --- | --- | --- |");
        let mut keys: Vec<(&str, usize)> = Vec::new();
        for r in &self.throughput {
            if !keys.contains(&(r.encoder.as_str(), r.batch)) {
                keys.push((r.encoder.as_str(), r.batch));
            }
        }
        for (encoder, batch) in keys {
            let on = |device: &str| {
                self.throughput
                    .iter()
                    .find(|r| r.encoder == encoder && r.batch == batch && r.device == device)
                    .map_or_else(
                        || " | ".to_owned(),
                        |r| format!("{:.0} | {:.3}", r.records_per_s, r.p99_batch_ms),
                    )
            };
            let ratio = self
                .speedup(encoder, batch)
                .map_or_else(String::new, |s| format!("{s:.2}×"));
            let _ = writeln!(
                text,
                "| {encoder} | {batch} | {} | {} | {ratio} |",
                on("cpu"),
                on("device")
            );
        }
        text
    }
}
