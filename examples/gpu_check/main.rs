//! The GPU check: everything warpflow runs on libtorch, run on a device and on the CPU side by
//! side, in one go, with the results written as JSON and a markdown table.
//!
//! It needs no GStreamer and no cargo where it runs (the machines with a GPU have neither): it
//! is built here and carried there with a TorchScript ResNet-18 (`scripts/gpu_check.sh` does
//! both ends). Its sections:
//! - `parity`: every encoder on the device gives the CPU's values, within a stated tolerance,
//!   in f32 (and the model in half precision);
//! - `throughput`: records per second and the p99 time per batch, CPU and device, at batches of
//!   1, 8, 64 and 256 records;
//! - `whole_runs`: a whole `follow` (encoded and followed through the library, as `follow` does
//!   after decoding) and a whole `sync` (flashes and beeps through the sync encoders and
//!   estimator) on both, their answers compared.
//!
//! With `--device cpu` the "device" is the CPU too: that run tries every step on a machine
//! without a GPU, and its numbers are CPU numbers, labelled so.
//!
//! Run with: `cargo run --release --example gpu_check -- --device cuda|cpu --out DIR
//! [--model FILE.pt]... [--device-name NAME] [--quick]`.

mod parity;
mod report;
mod signals;
mod throughput;
mod whole_runs;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use report::Report;

/// What to run.
struct Options {
    device: tch::Device,
    out: PathBuf,
    /// TorchScript video models (e.g. a ResNet-18 at 224×224, the same at 1280×720).
    models: Vec<PathBuf>,
    /// What the results call the device (the GPU's name, as the script reads it).
    device_name: String,
    /// Fewer passes and smaller inputs: a try of every step, not a measurement.
    quick: bool,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut args = std::env::args().skip(1);
        let (mut device, mut out, mut models, mut quick, mut device_name) = (None, None, Vec::new(), false, None);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--device" => {
                    let value = args.next().context("--device needs cuda or cpu")?;
                    device = Some(match value.as_str() {
                        "cpu" => tch::Device::Cpu,
                        "cuda" => warpflow::encode::DeviceChoice::Cuda(0).resolve()?,
                        other => bail!("--device '{other}': expected cuda or cpu"),
                    });
                }
                "--out" => out = Some(PathBuf::from(args.next().context("--out needs a folder")?)),
                "--model" => models.push(PathBuf::from(args.next().context("--model needs a FILE.pt")?)),
                "--device-name" => device_name = Some(args.next().context("--device-name needs a name")?),
                "--quick" => quick = true,
                other => bail!("unknown option '{other}': expected --device, --out, --model, --device-name or --quick"),
            }
        }
        let device = device.context("--device cuda|cpu is required")?;
        let device_name = device_name.unwrap_or_else(|| match device {
            tch::Device::Cpu => "CPU (no GPU: every number here is a CPU number)".to_owned(),
            _ => "CUDA device 0".to_owned(),
        });
        Ok(Self {
            device,
            out: out.context("--out DIR is required")?,
            models,
            device_name,
            quick,
        })
    }
}

fn main() -> Result<()> {
    let options = Options::parse()?;
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    // The CPU side is one core, as the targets are stated per core.
    tch::set_num_threads(1);
    let mut report = Report::new(options.device, options.device_name.clone());
    eprintln!("gpu_check: parity");
    parity::run(&options, &mut report)?;
    eprintln!("gpu_check: whole runs");
    whole_runs::run(&options, &mut report)?;
    eprintln!("gpu_check: throughput");
    throughput::run(&options, &mut report)?;
    report.write(&options.out)?;
    eprintln!(
        "gpu_check: {} checks, {} failed; results in {}",
        report.checks(),
        report.failures(),
        options.out.display()
    );
    if report.failures() > 0 {
        bail!("{} checks failed (see {})", report.failures(), options.out.display());
    }
    Ok(())
}
