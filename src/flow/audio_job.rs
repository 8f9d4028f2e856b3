//! What `follow` and `locate` share: live audio captured, framed and encoded into feature
//! frames, a job-specific stage turning them into events, and the event sink.
//!
//! ```text
//! live audio ─ features (log-mel or chroma, 20 ms) ─ job stage ─ write events
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use timely::dataflow::operators::Input;
use timely::dataflow::StreamVec;

use crate::config::{Pace, SourceSpec};
use crate::encode::{AudioFeatureEncoder, AudioFramer};
use crate::media::{AudioChunk, AudioNeeds, Capture, MediaError, MediaNeeds, VideoFrame};
use crate::serve::{EventWriter, RunSummary};

use super::driver::{drive, local_worker};
use super::ingest::{Feed, Ingest};
use super::operators::{EncodeBatches, EventSink, WriteEvents};
use super::stages::feature_stage;
use super::{FailureSlot, FeatureFrame, FlowError, StopSignal, StreamEvent};

/// The job-specific part of the graph: feature frames in, events out.
pub(crate) trait FeatureStage {
    /// Adds the stage's operators after `frames`.
    fn attach<'scope>(
        self,
        frames: StreamVec<'scope, u64, FeatureFrame>,
        failures: &FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

/// The settings of a live-audio run that are not the stage's.
pub(crate) struct LiveAudioRun<'a> {
    pub live: &'a SourceSpec,
    pub pace: Pace,
    pub stream: String,
    pub progress_every_ns: u64,
    /// For `progress.ref_fraction`, when there is one reference.
    pub reference_duration_ns: Option<u64>,
    pub stop: &'a StopSignal,
}

/// Captures `run.live`'s audio, encodes it with `encoder` and runs `stage` on the frames until
/// the source ends, writing events to `writer`.
pub(crate) fn run_live_audio<S: FeatureStage>(
    run: LiveAudioRun<'_>,
    encoder: AudioFeatureEncoder,
    stage: S,
    writer: Box<dyn EventWriter + Send>,
) -> Result<RunSummary, FlowError> {
    let framer = AudioFramer::new(encoder.params())?;
    let needs = MediaNeeds {
        audio: Some(AudioNeeds {
            rate_hz: encoder.params().rate_hz,
        }),
        video: None,
    };
    let mut capture = Capture::open(run.live, needs, run.pace)?;
    let audio_rx = capture.take_audio().ok_or_else(|| MediaError::MissingStream {
        source_name: run.live.display_name(),
        kind: "audio",
    })?;

    let failures = FailureSlot::default();
    let sink = Rc::new(RefCell::new(EventSink::new(
        writer,
        run.stream,
        capture.stats(),
        run.reference_duration_ns,
        run.progress_every_ns,
    )));
    let mut worker = local_worker();
    let audio_in = worker.dataflow::<u64, _, _>(|scope| {
        let (audio_in, audio) = scope.new_input::<Vec<AudioChunk>>();
        let frames = audio.encode_batches("AudioFeatures", failures.clone(), feature_stage(framer, encoder));
        stage
            .attach(frames, &failures)
            .write_events(sink.clone(), failures.clone());
        audio_in
    });
    let mut ingest: Ingest<AudioChunk, VideoFrame> = Ingest::new(Some(Feed::new(audio_rx, audio_in)), None);
    drive(&mut worker, &mut capture, &mut ingest, &failures, run.stop)?;
    let summary = sink.borrow_mut().finish()?;
    Ok(summary)
}
