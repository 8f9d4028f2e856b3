//! The `locate` job: where a live snippet sits in a library of references.
//!
//! ```text
//! reference files ─ decode ─ features ───────────────┐ (before the run)
//! live audio ─ features (20 ms) ─ locate references (subsequence DTW, in any key) ─ write events
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use timely::dataflow::StreamVec;

use crate::align::LocateConfig;
use crate::config::{Pace, SourceSpec};
use crate::encode::{AudioFeatureEncoder, AudioFeatureKind, DeviceChoice};
use crate::engine_metrics::EngineMetrics;
use crate::events::{EventWriter, RunKind, RunSummary};
use crate::media::SupervisionConfig;

use super::follow::{follow_frames_in, reference_name, FOLLOW_FRAMES};
use super::live_audio::{run_live_audio, FeatureStage, LiveAudioRun};
use super::DEFAULT_PROGRESS_EVERY_NS;
use crate::flow::follow_features::{FollowEncoders, Transposition};
use crate::flow::operators::{Batching, LocateReferences, NamedReference};
use crate::flow::reference::encode_reference_file_with_progress;
use crate::flow::{FailureSlot, FeatureFrame, FlowError, ReferenceProgress, ReferenceStep, StopSignal, StreamEvent};

/// Settings of a `locate` run.
#[derive(Debug, Clone)]
pub struct LocateJob {
    /// The references (media files) to search.
    pub references: Vec<PathBuf>,
    /// The live source.
    pub live: SourceSpec,
    /// Pace of a non-live source.
    pub pace: Pace,
    /// Where the encoders run.
    pub device: DeviceChoice,
    /// Which features are compared.
    pub features: AudioFeatureKind,
    /// How the encoders gather batches.
    pub batching: Batching,
    /// How a live source is supervised (stall timeout, retry delays).
    pub supervision: SupervisionConfig,
    /// Most recent live frames (20 ms each) searched for.
    pub max_query_frames: usize,
    /// Whether the snippet may be in another key than a reference.
    pub transposition: Transposition,
    /// The stream's name in events.
    pub stream: String,
    /// Running time between progress events.
    pub progress_every_ns: u64,
    /// Told how far the references have been encoded, before the run starts.
    pub reference_progress: Option<ReferenceProgress>,
    /// Ends the run early and cleanly when requested.
    pub stop: StopSignal,
    /// Where the engine records its timings and queue depths (for `GET /metrics`).
    pub metrics: Arc<EngineMetrics>,
}

impl LocateJob {
    /// Features compared unless told otherwise: bands a semitone apart, whose pitch classes
    /// (every octave folded onto twelve) give the coarse statistics a snippet is found by, so
    /// that another performance of the same piece outranks another piece by the same
    /// performers; their finer pitch then places it. The low bands come from a longer window
    /// (`semitone-flux-lows`): a bass line and a low voice then count in their own pitch
    /// classes, where a frame's own window spreads them over several.
    pub const DEFAULT_FEATURES: AudioFeatureKind = AudioFeatureKind::SemitoneFluxLows;
    /// Seconds of the most recent live audio searched for unless told otherwise: long enough
    /// to tell apart passages that begin alike, short enough to answer within a phrase.
    pub const DEFAULT_MAX_QUERY_S: f64 = 30.0;

    /// A job looking `live` up in `references`, its events named `stream`, with every other
    /// setting at its default: paced as if live, encoders where [`DeviceChoice::Auto`] puts
    /// them, [`Self::DEFAULT_FEATURES`], the last [`Self::DEFAULT_MAX_QUERY_S`] searched, the
    /// key estimated, progress every [`DEFAULT_PROGRESS_EVERY_NS`].
    pub fn new(references: Vec<PathBuf>, live: SourceSpec, stream: impl Into<String>) -> Self {
        Self {
            references,
            live,
            pace: Pace::Realtime,
            device: DeviceChoice::Auto,
            features: Self::DEFAULT_FEATURES,
            batching: Batching::default(),
            supervision: SupervisionConfig::default(),
            max_query_frames: follow_frames_in(Self::DEFAULT_MAX_QUERY_S),
            transposition: Transposition::Auto,
            stream: stream.into(),
            progress_every_ns: DEFAULT_PROGRESS_EVERY_NS,
            reference_progress: None,
            stop: StopSignal::default(),
            metrics: Arc::default(),
        }
    }
}

/// Runs `job`, writing its events to `writer`; returns the run's summary.
pub fn run_locate(job: LocateJob, writer: Box<dyn EventWriter + Send>) -> Result<RunSummary, FlowError> {
    let device = job.device.resolve()?;
    let mut encoder = AudioFeatureEncoder::new(job.features, FOLLOW_FRAMES, device)?;
    let transposition = job
        .transposition
        .locate_layout_for(encoder.pitch_layout(), &job.features.to_string())?;
    let mut references = Vec::with_capacity(job.references.len());
    for (index, path) in job.references.iter().enumerate() {
        let report = |done_ns, total_ns, finished| {
            if let Some(progress) = &job.reference_progress {
                progress.report(ReferenceStep {
                    path,
                    index,
                    count: job.references.len(),
                    done_ns,
                    total_ns,
                    finished,
                });
            }
        };
        let encoded = encode_reference_file_with_progress(path, &mut encoder, |done_ns, total_ns| {
            report(done_ns, total_ns, false)
        })?;
        report(encoded.duration_ns, Some(encoded.duration_ns), true);
        references.push(NamedReference {
            name: reference_name(path),
            features: Arc::new(encoded.features),
            timing: encoded.timing,
        });
    }
    let stage = LocateStage {
        references,
        max_query_frames: job.max_query_frames,
        config: LocateConfig {
            pitch_layout: encoder.pitch_layout(),
            transposition: transposition.is_some(),
            ..LocateConfig::default()
        },
        stream: job.stream.clone(),
    };
    let run = LiveAudioRun {
        kind: RunKind::Locate,
        live: &job.live,
        pace: job.pace,
        stream: job.stream.clone(),
        progress_every_ns: job.progress_every_ns,
        reference_duration_ns: None,
        batching: job.batching,
        supervision: job.supervision,
        stop: &job.stop,
        metrics: job.metrics.clone(),
        video_compared: false,
    };
    run_live_audio(run, FollowEncoders::new(Box::new(encoder), None, false)?, stage, writer)
}

struct LocateStage {
    references: Vec<NamedReference>,
    max_query_frames: usize,
    config: LocateConfig,
    stream: String,
}

impl FeatureStage for LocateStage {
    fn attach<'scope>(
        stage: Option<Self>,
        frames: StreamVec<'scope, u64, FeatureFrame>,
        failures: &FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        // Where the stream is not held there is nothing to search.
        let stage = stage.unwrap_or(LocateStage {
            references: Vec::new(),
            max_query_frames: 1,
            config: LocateConfig::default(),
            stream: String::new(),
        });
        frames.locate_references(
            stage.references,
            stage.max_query_frames,
            stage.config,
            stage.stream,
            failures.clone(),
        )
    }
}
