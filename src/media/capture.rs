//! A running capture: one source's pipeline, its rings and its bus, and — for live sources —
//! its supervision: a source that fails or stalls is torn down and rebuilt into the same rings.
//!
//! The rings end when end-of-stream reaches the bus (every sink has had its last buffer). A
//! file or the test pattern ends there. A live source does not end by itself — a camera or a
//! network feed that says end-of-stream (a server shutting down or restarting) is lost and
//! rebuilt — unless the run asked it to end ([`Capture::send_eos`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_app::AppSink;

use crate::config::{Pace, SourceSpec};

use super::appsink::{connect_audio, connect_video, DiscontinuityLog};
use super::ring::{record_ring, RingCloser, SharedSender};
use super::source::build_pipeline;
use super::stopping::StoppingPipelines;
use super::supervision::{SourceStatus, SupervisionConfig, Supervisor, SupervisorAction};
use super::{AudioChunk, CaptureStats, MediaError, MediaNeeds, RecordReceiver, VideoFrame};

/// Capacity of the audio ring, in buffers (a few seconds of typical 10–20 ms buffers).
const AUDIO_RING_RECORDS: usize = 256;
/// Capacity of the video ring, in frames (about a second at 30 fps).
const VIDEO_RING_RECORDS: usize = 32;
/// Jumps this close to the last one reported are the same jump seen by the other medium.
const SAME_DISCONT_NS: u64 = 1_000_000_000;
/// How long end-of-stream may take to come through the pipeline once the run asked to end. A
/// source that is not delivering (a server that has not answered, a stalled camera) never
/// passes it on; its rings are ended then, so that a run ends within 2 s of a signal.
const EOS_GRACE: Duration = Duration::from_millis(500);

/// Where a capture stands after looking at its bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureState {
    /// Data is flowing or about to (or a lost live source is waiting to be rebuilt).
    Running,
    /// The source reached end-of-stream.
    Finished,
}

/// A built pipeline and its bus.
struct Running {
    pipeline: gst::Pipeline,
    bus: gst::Bus,
    input_error: Arc<Mutex<Option<MediaError>>>,
    audio_sink: Option<AppSink>,
    video_sink: Option<AppSink>,
}

/// One source's pipeline, from GStreamer to the rings.
pub struct Capture {
    spec: SourceSpec,
    needs: MediaNeeds,
    /// Whether the appsinks play in real time.
    sync: bool,
    source_name: String,
    live: bool,
    running: Option<Running>,
    /// Pipelines torn down and still on their way to `Null`: those supervision gave up on,
    /// then the one that ran.
    stopping: StoppingPipelines,
    audio_sender: Option<SharedSender<AudioChunk>>,
    video_sender: Option<SharedSender<VideoFrame>>,
    audio: Option<RecordReceiver<AudioChunk>>,
    video: Option<RecordReceiver<VideoFrame>>,
    closers: Vec<RingCloser>,
    stats: CaptureStats,
    supervision: SupervisionConfig,
    supervisor: Option<Supervisor>,
    /// The base time of the first pipeline, which rebuilt ones keep, so that running time
    /// goes on across an outage instead of starting again from zero.
    base_time: Option<gst::ClockTime>,
    statuses: Vec<SourceStatus>,
    discontinuities: DiscontinuityLog,
    last_discont_ns: Option<u64>,
    /// When the run asked the source to end.
    eos_requested_at: Option<Instant>,
    finished: bool,
}

impl Capture {
    /// Builds the pipeline for `spec` delivering what `needs` asks for. Live sources always run
    /// in real time and are supervised; `pace` applies to files and the test pattern.
    pub fn open(spec: &SourceSpec, needs: MediaNeeds, pace: Pace) -> Result<Self, MediaError> {
        super::init()?;
        let live = spec.is_live();
        let pace = if live { Pace::Realtime } else { pace };
        let stats = CaptureStats::default();
        let mut closers = Vec::new();
        let (audio_sender, audio) = needs
            .audio
            .map(|_| {
                let (sender, receiver, closer) = record_ring(AUDIO_RING_RECORDS, pace, stats.clone());
                closers.push(closer);
                (Arc::new(Mutex::new(sender)), receiver)
            })
            .unzip();
        let (video_sender, video) = needs
            .video
            .map(|_| {
                let (sender, receiver, closer) = record_ring(VIDEO_RING_RECORDS, pace, stats.clone());
                closers.push(closer);
                (Arc::new(Mutex::new(sender)), receiver)
            })
            .unzip();
        let mut capture = Self {
            spec: spec.clone(),
            needs,
            // Pushed media come paced by their host pipeline, on its clock.
            sync: pace == Pace::Realtime && !matches!(spec, SourceSpec::Pushed(_)),
            source_name: spec.display_name(),
            live,
            running: None,
            stopping: StoppingPipelines::default(),
            audio_sender,
            video_sender,
            audio,
            video,
            closers,
            stats,
            supervision: SupervisionConfig::default(),
            supervisor: None,
            base_time: None,
            statuses: Vec::new(),
            discontinuities: DiscontinuityLog::default(),
            last_discont_ns: None,
            eos_requested_at: None,
            finished: false,
        };
        capture.running = Some(capture.build()?);
        Ok(capture)
    }

    /// Sets how a live source is supervised (before [`Capture::start`]).
    pub fn set_supervision(&mut self, config: SupervisionConfig) {
        self.supervision = config;
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

    /// Starts the pipeline. A live source that fails here has never delivered anything, so
    /// the failure is the input's (a wrong address, a missing device), not an outage.
    pub fn start(&mut self) -> Result<(), MediaError> {
        self.play()?;
        if self.live {
            self.supervisor = Some(Supervisor::new(
                self.supervision,
                Instant::now(),
                self.stats.frames_in(),
            ));
        }
        Ok(())
    }

    /// Reads the bus without waiting: end-of-stream finishes; errors become [`MediaError`]s,
    /// except on a live source that has delivered data, which is lost, torn down and rebuilt
    /// (see [`Capture::take_statuses`]).
    pub fn poll(&mut self) -> Result<CaptureState, MediaError> {
        let now = Instant::now();
        let mut failure = None;
        let mut ended = false;
        if let Some(running) = &self.running {
            while let Some(message) = running.bus.pop() {
                match message.view() {
                    gst::MessageView::Eos(_) => {
                        ended = true;
                        break;
                    }
                    gst::MessageView::Error(error) => {
                        failure = Some(self.classify(error));
                        break;
                    }
                    gst::MessageView::Warning(warning) => {
                        let text = self.spec.redact(&warning.error().to_string());
                        tracing::warn!(source = %self.source_name, "{text}");
                    }
                    _ => {}
                }
            }
        }
        if ended {
            match self.supervisor.as_mut() {
                Some(supervisor) if self.eos_requested_at.is_none() => {
                    if let Some(action) = supervisor.on_error(now, "the source ended the stream".into()) {
                        self.apply(action, now);
                    }
                }
                _ => {
                    self.end_rings();
                    self.finished = true;
                }
            }
        }
        if let Some(error) = failure {
            match self.supervisor.as_mut() {
                Some(supervisor) if !supervisor.never_started() => {
                    if let Some(action) = supervisor.on_error(now, error.to_string()) {
                        self.apply(action, now);
                    }
                }
                _ => return Err(error),
            }
        }
        if !self.finished
            && self
                .eos_requested_at
                .is_some_and(|asked| now.duration_since(asked) > EOS_GRACE)
        {
            tracing::debug!(source = %self.source_name, "end-of-stream did not come through; the rings end here");
            self.end_rings();
            self.finished = true;
        }
        self.report_discontinuities();
        if !self.finished {
            let frames_in = self.stats.frames_in();
            let never_started = self.supervisor.as_ref().is_some_and(Supervisor::never_started);
            if let Some(action) = self.supervisor.as_mut().and_then(|s| s.observe(now, frames_in)) {
                // A source that has never delivered anything is refused, silent or failing
                // alike: a server that takes the connection and never answers is as wrong an
                // address as one that refuses it. One whose media came but wait for another
                // is the right address on a bad first connection: it is connected again.
                if let (true, SupervisorAction::TearDown { reason, .. }) = (never_started, &action) {
                    if !self.held_back_by_a_medium() {
                        return Err(MediaError::Unreadable {
                            source_name: self.source_name.clone(),
                            detail: format!("it delivered nothing ({reason})"),
                        });
                    }
                }
                self.apply(action, now);
            }
        }
        Ok(if self.finished {
            CaptureState::Finished
        } else {
            CaptureState::Running
        })
    }

    /// Changes in the source's health since the last call, oldest first.
    pub fn take_statuses(&mut self) -> Vec<SourceStatus> {
        std::mem::take(&mut self.statuses)
    }

    /// The pipeline clock's running time now: what a record's running time is compared with
    /// to tell how long ago it was captured. `None` while the source is down or not playing.
    pub fn running_time_ns(&self) -> Option<u64> {
        let running = self.running.as_ref()?;
        running.pipeline.current_running_time().map(gst::ClockTime::nseconds)
    }

    /// The source's length, once the pipeline knows it (files, after they start playing).
    pub fn duration_ns(&self) -> Option<u64> {
        self.running
            .as_ref()?
            .pipeline
            .query_duration::<gst::ClockTime>()
            .map(gst::ClockTime::nseconds)
    }

    /// Asks the source to end: end-of-stream flows through the pipeline like at the end of a
    /// file, so every record already captured still reaches the rings. A lost source, which
    /// has no pipeline, ends its rings at once, and so does one that has not passed
    /// end-of-stream on within `EOS_GRACE`.
    pub fn send_eos(&mut self) {
        self.eos_requested_at = Some(Instant::now());
        match &self.running {
            Some(running) => {
                running.pipeline.send_event(gst::event::Eos::new());
            }
            None => {
                self.end_rings();
                self.finished = true;
            }
        }
    }

    /// Stops the pipeline and waits for it, at most [`STOP_GRACE`](super::STOP_GRACE); streaming
    /// threads waiting on a full ring give up first. The rings are closed by then, so nothing
    /// the pipeline might still produce reaches the run, and a source stuck in its own
    /// shutdown (an RTSP source waiting on a server that neither answers nor closes) is left to
    /// finish on its thread instead of holding the run after the user asked it to end.
    pub fn stop(&mut self) {
        self.stop_without_waiting().wait();
    }

    /// Starts stopping the pipeline as [`Self::stop`] does, without waiting: what comes back
    /// is still stopping, for a worker that drives other streams to wait on where it ends.
    pub fn stop_without_waiting(&mut self) -> StoppingPipelines {
        for closer in &self.closers {
            closer.close();
        }
        self.tear_down();
        std::mem::take(&mut self.stopping)
    }

    /// Builds a pipeline for the source, feeding the capture's rings.
    fn build(&self) -> Result<Running, MediaError> {
        let built = build_pipeline(&self.spec, self.needs, self.sync)?;
        if let (Some(sink), Some(sender)) = (&built.audio_sink, &self.audio_sender) {
            connect_audio(sink, sender.clone(), self.discontinuities.clone());
        }
        if let (Some(sink), Some(sender)) = (&built.video_sink, &self.video_sender) {
            connect_video(sink, sender.clone(), self.discontinuities.clone());
        }
        let bus = built.pipeline.bus().ok_or_else(|| MediaError::Runtime {
            source_name: self.source_name.clone(),
            detail: "pipeline without a bus".into(),
        })?;
        Ok(Running {
            pipeline: built.pipeline,
            bus,
            input_error: built.input_error,
            audio_sink: built.audio_sink,
            video_sink: built.video_sink,
        })
    }

    /// Sets the built pipeline playing; a live one on the system clock at the first
    /// pipeline's base time.
    fn play(&mut self) -> Result<(), MediaError> {
        let Some(running) = &self.running else {
            return Ok(());
        };
        if self.live {
            let clock = gst::SystemClock::obtain();
            running.pipeline.use_clock(Some(&clock));
            let base_time = *self.base_time.get_or_insert_with(|| clock.time());
            running.pipeline.set_start_time(gst::ClockTime::NONE);
            running.pipeline.set_base_time(base_time);
        }
        if running.pipeline.set_state(gst::State::Playing).is_err() {
            // The reason is on the bus; give it a moment to arrive.
            if let Some(message) = running
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

    /// Carries out what supervision decided.
    fn apply(&mut self, action: SupervisorAction, now: Instant) {
        match action {
            SupervisorAction::TearDown { reason, retries } => {
                tracing::warn!(source = %self.source_name, retries, "lost: {reason}");
                self.tear_down();
                self.statuses.push(SourceStatus::Lost {
                    live_ns: self.stats.latest_running_time_ns(),
                    reason,
                    retries,
                });
            }
            SupervisorAction::Rebuild => {
                tracing::info!(source = %self.source_name, "rebuilding the source");
                let started = self
                    .build()
                    .map(|running| self.running = Some(running))
                    .and_then(|_| self.play());
                if let Err(error) = started {
                    if let Some(action) = self
                        .supervisor
                        .as_mut()
                        .and_then(|s| s.on_error(now, error.to_string()))
                    {
                        self.apply(action, now);
                    }
                }
            }
            SupervisorAction::Recovered { retries } => {
                tracing::info!(source = %self.source_name, retries, "recovered");
                self.statuses.push(SourceStatus::Recovered {
                    live_ns: self.stats.latest_running_time_ns(),
                    retries,
                });
            }
        }
    }

    /// Moves the jumps the appsinks found into the statuses, one per jump however many media
    /// saw it.
    fn report_discontinuities(&mut self) {
        let found = match self.discontinuities.lock() {
            Ok(mut log) => std::mem::take(&mut *log),
            Err(_) => return,
        };
        for jump in found {
            if self
                .last_discont_ns
                .is_some_and(|last| last.abs_diff(jump.live_ns) < SAME_DISCONT_NS)
            {
                continue;
            }
            tracing::warn!(source = %self.source_name, live_ns = jump.live_ns, "discontinuity: {}", jump.reason);
            self.last_discont_ns = Some(jump.live_ns);
            self.statuses.push(SourceStatus::Discont {
                live_ns: jump.live_ns,
                kind: jump.kind,
                reason: jump.reason,
            });
        }
    }

    /// Starts stopping the running pipeline, if any.
    fn tear_down(&mut self) {
        if let Some(running) = self.running.take() {
            self.stopping.stop(running.pipeline, &self.source_name);
        }
    }

    fn end_rings(&self) {
        if let Some(sender) = &self.audio_sender {
            if let Ok(sender) = sender.lock() {
                sender.end();
            }
        }
        if let Some(sender) = &self.video_sender {
            if let Ok(sender) = sender.lock() {
                sender.end();
            }
        }
    }

    /// Whether one medium reached its branch and another did not, so that nothing was
    /// delivered: the media that came wait in preroll for the one held back, as when an RTSP
    /// source's first connection keeps back the pad of a stream it was offered (see
    /// `source::add_uri_decoder`). A source in this state is the right address.
    fn held_back_by_a_medium(&self) -> bool {
        let Some(running) = &self.running else {
            return false;
        };
        let reached: Vec<bool> = [&running.audio_sink, &running.video_sink]
            .into_iter()
            .flatten()
            .map(|sink| sink.static_pad("sink").is_some_and(|pad| pad.current_caps().is_some()))
            .collect();
        reached.contains(&true) && reached.contains(&false)
    }

    /// Says whose fault an error is: the input's when a handler found the input unusable or
    /// when a non-live source fails before producing anything; otherwise the run's.
    fn classify(&self, error: &gst::message::Error) -> MediaError {
        let found = self
            .running
            .as_ref()
            .and_then(|running| running.input_error.lock().ok().and_then(|mut slot| slot.take()));
        if let Some(found) = found {
            return found;
        }
        let detail = self.spec.redact(&match error.debug() {
            Some(debug) => format!("{} ({})", error.error(), debug),
            None => error.error().to_string(),
        });
        if detail.contains("not-negotiated") {
            return MediaError::UnusableCaps {
                source_name: self.source_name.clone(),
                needs: self.needs.describe(),
                detail,
            };
        }
        if self.stats.frames_in() == 0 {
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
