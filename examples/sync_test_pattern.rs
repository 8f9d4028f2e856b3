//! Measures the A/V offset of the built-in flash-and-beep pattern through the library API,
//! printing each event as JSON and the summary at the end.
//!
//! Run with: `cargo run --example sync_test_pattern -- 120`
//! (the argument is the audio delay in ms the pattern is made with; default 80).

use anyhow::{Context, Result};

use warpflow::align::{LagConfig, OffsetTrackerConfig, RegionLagConfig};
use warpflow::config::{Pace, SourceSpec, TestPatternParams};
use warpflow::encode::DeviceChoice;
use warpflow::flow::operators::Batching;
use warpflow::flow::{run_sync, StopSignal, SyncJob};
use warpflow::media::SupervisionConfig;
use warpflow::serve::{event_writer, OutputFormat};

fn main() -> Result<()> {
    let av_offset_ms: i64 = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .with_context(|| format!("'{text}' is not a number of milliseconds"))?,
        None => 80,
    };
    let params = TestPatternParams::from_query(&format!("av_offset_ms={av_offset_ms}&duration_s=8"))?;
    let job = SyncJob {
        source: SourceSpec::Test(params),
        pace: Pace::Fast,
        device: DeviceChoice::Auto,
        batching: Batching::default(),
        supervision: SupervisionConfig::default(),
        speech_model: None,
        face_model: None,
        sync_model: None,
        stream: "pattern".into(),
        captured_by: None,
        lag: LagConfig::default(),
        region: RegionLagConfig::default(),
        tracker: OffsetTrackerConfig::default(),
        emit_every_ns: 500_000_000,
        progress_every_ns: 1_000_000_000,
        stop: StopSignal::default(),
        metrics: Default::default(),
    };
    let summary = run_sync(job, event_writer(OutputFormat::JsonLines, true))?;
    let measured_ms = summary.median_offset_ns().map(|ns| ns as f64 / 1e6);
    println!("made with {av_offset_ms} ms, measured {measured_ms:?} ms");
    Ok(())
}
