//! A running capture: one source's pipeline, its rings and its bus.

use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::config::{Pace, SourceSpec};

use super::appsink::{connect_audio, connect_video};
use super::ring::{record_ring, RingCloser};
use super::source::build_pipeline;
use super::{AudioChunk, CaptureStats, MediaError, MediaNeeds, RecordReceiver, VideoFrame};

/// Capacity of the audio ring, in buffers (a few seconds of typical 10–20 ms buffers).
const AUDIO_RING_RECORDS: usize = 256;
/// Capacity of the video ring, in frames (about a second at 30 fps).
const VIDEO_RING_RECORDS: usize = 32;

/// Where a capture stands after looking at its bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureState {
    /// Data is flowing or about to.
    Running,
    /// The source reached end-of-stream.
    Finished,
}

/// One source's pipeline, from GStreamer to the rings.
pub struct Capture {
    source_name: String,
    live: bool,
    pipeline: gst::Pipeline,
    bus: gst::Bus,
    audio: Option<RecordReceiver<AudioChunk>>,
    video: Option<RecordReceiver<VideoFrame>>,
    closers: Vec<RingCloser>,
    stats: CaptureStats,
    input_error: Arc<Mutex<Option<MediaError>>>,
    finished: bool,
}

impl Capture {
    /// Builds the pipeline for `spec` delivering what `needs` asks for. Live sources always run
    /// in real time; `pace` applies to files and the test pattern.
    pub fn open(spec: &SourceSpec, needs: MediaNeeds, pace: Pace) -> Result<Self, MediaError> {
        super::init()?;
        let live = spec.is_live();
        let pace = if live { Pace::Realtime } else { pace };
        let built = build_pipeline(spec, needs, pace == Pace::Realtime)?;
        let stats = CaptureStats::default();
        let mut closers = Vec::new();
        let audio = built.audio_sink.as_ref().map(|sink| {
            let (sender, receiver, closer) = record_ring(AUDIO_RING_RECORDS, pace, stats.clone());
            connect_audio(sink, sender);
            closers.push(closer);
            receiver
        });
        let video = built.video_sink.as_ref().map(|sink| {
            let (sender, receiver, closer) = record_ring(VIDEO_RING_RECORDS, pace, stats.clone());
            connect_video(sink, sender);
            closers.push(closer);
            receiver
        });
        let bus = built.pipeline.bus().ok_or_else(|| MediaError::Runtime {
            source_name: spec.display_name(),
            detail: "pipeline without a bus".into(),
        })?;
        Ok(Self {
            source_name: spec.display_name(),
            live,
            pipeline: built.pipeline,
            bus,
            audio,
            video,
            closers,
            stats,
            input_error: built.input_error,
            finished: false,
        })
    }

    /// Counters of records captured and dropped.
    pub fn stats(&self) -> CaptureStats {
        self.stats.clone()
    }

    /// Takes the audio ring's receiving end, if audio is captured.
    pub fn take_audio(&mut self) -> Option<RecordReceiver<AudioChunk>> {
        self.audio.take()
    }

    /// Takes the video ring's receiving end, if video is captured.
    pub fn take_video(&mut self) -> Option<RecordReceiver<VideoFrame>> {
        self.video.take()
    }

    /// Starts the pipeline.
    pub fn start(&mut self) -> Result<(), MediaError> {
        if self.pipeline.set_state(gst::State::Playing).is_err() {
            // The reason is on the bus; give it a moment to arrive.
            if let Some(message) = self
                .bus
                .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
            {
                if let gst::MessageView::Error(error) = message.view() {
                    return Err(self.classify(error));
                }
            }
            return Err(MediaError::Unreadable {
                source_name: self.source_name.clone(),
                detail: "the pipeline would not start".into(),
            });
        }
        Ok(())
    }

    /// Reads the bus without waiting: errors become [`MediaError`]s, end-of-stream finishes.
    pub fn poll(&mut self) -> Result<CaptureState, MediaError> {
        while let Some(message) = self.bus.pop() {
            match message.view() {
                gst::MessageView::Eos(_) => self.finished = true,
                gst::MessageView::Error(error) => return Err(self.classify(error)),
                gst::MessageView::Warning(warning) => {
                    tracing::warn!(source = %self.source_name, "{}", warning.error());
                }
                _ => {}
            }
        }
        Ok(if self.finished {
            CaptureState::Finished
        } else {
            CaptureState::Running
        })
    }

    /// The source's length, once the pipeline knows it (files, after they start playing).
    pub fn duration_ns(&self) -> Option<u64> {
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(gst::ClockTime::nseconds)
    }

    /// Asks the source to end: end-of-stream flows through the pipeline like at the end of a
    /// file, so every record already captured still reaches the rings.
    pub fn send_eos(&self) {
        self.pipeline.send_event(gst::event::Eos::new());
    }

    /// Stops the pipeline; streaming threads waiting on a full ring give up first.
    pub fn stop(&mut self) {
        for closer in &self.closers {
            closer.close();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }

    /// Says whose fault an error is: the input's when a handler found the input unusable or
    /// when a non-live source fails before producing anything; otherwise the run's.
    fn classify(&self, error: &gst::message::Error) -> MediaError {
        if let Some(found) = self.input_error.lock().ok().and_then(|mut slot| slot.take()) {
            return found;
        }
        let detail = match error.debug() {
            Some(debug) => format!("{} ({})", error.error(), debug),
            None => error.error().to_string(),
        };
        if self.stats.frames_in() == 0 && !self.live {
            MediaError::Unreadable {
                source_name: self.source_name.clone(),
                detail,
            }
        } else {
            MediaError::Runtime {
                source_name: self.source_name.clone(),
                detail,
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}
