//! Pipelines on their way to `Null`, each on a thread of its own, and the bounded wait for
//! them.
//!
//! Setting a pipeline to `Null` can take long: an RTSP source waits on a server that neither
//! answers nor closes, a camera driver on its device. A worker thread drives many streams, so
//! it starts a stream's stop and goes on; the process waits for what is still stopping only
//! where it is about to end (a pipeline torn down by the process's exit can crash it), and then
//! at most [`STOP_GRACE`] for all of them together. This module only stops pipelines; which
//! ones, and when, is the capture's call.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use gst::prelude::*;

/// How long the end of a run waits for its sources' pipelines to stop, all of them together,
/// once their rings have ended.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// One pipeline being set to `Null`.
#[derive(Debug)]
struct StoppingPipeline {
    /// The source's name, for the warning if it does not stop in time.
    source_name: String,
    /// Hears (or hangs up) once the pipeline is in `Null`.
    stopped: Receiver<()>,
}

/// The pipelines that are stopping. Dropping the set waits for them (see [`Self::wait`]).
#[derive(Debug, Default)]
pub struct StoppingPipelines {
    pipelines: Vec<StoppingPipeline>,
}

impl StoppingPipelines {
    /// Starts setting `pipeline` (the source `source_name`'s) to `Null` on a thread of its own.
    /// Should no thread start, it is stopped here.
    pub(super) fn stop(&mut self, pipeline: gst::Pipeline, source_name: &str) {
        self.forget_stopped();
        let (stopped, heard) = std::sync::mpsc::channel();
        let on_thread = pipeline.clone();
        let spawned = std::thread::Builder::new()
            .name("warpflow-teardown".into())
            .spawn(move || {
                let _ = on_thread.set_state(gst::State::Null);
                let _ = stopped.send(());
            });
        match spawned {
            Ok(_) => self.pipelines.push(StoppingPipeline {
                source_name: source_name.to_owned(),
                stopped: heard,
            }),
            Err(_) => {
                let _ = pipeline.set_state(gst::State::Null);
            }
        }
    }

    /// Takes over `other`'s pipelines.
    pub fn append(&mut self, mut other: StoppingPipelines) {
        self.forget_stopped();
        self.pipelines.append(&mut other.pipelines);
    }

    /// Lets go of the pipelines that have stopped, so that a service whose streams come and
    /// go for weeks holds only those still stopping.
    pub fn forget_stopped(&mut self) {
        self.pipelines
            .retain(|pipeline| matches!(pipeline.stopped.try_recv(), Err(TryRecvError::Empty)));
    }

    /// How many are still stopping.
    pub fn still_stopping(&mut self) -> usize {
        self.forget_stopped();
        self.pipelines.len()
    }

    /// Waits until every pipeline has stopped, or [`STOP_GRACE`] has passed; one that has not
    /// stopped by then is left to finish on its thread, with a warning that names its source.
    pub fn wait(&mut self) {
        self.wait_at_most(STOP_GRACE);
    }

    fn wait_at_most(&mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        for pipeline in self.pipelines.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(RecvTimeoutError::Timeout) = pipeline.stopped.recv_timeout(left) {
                tracing::warn!(
                    source = %pipeline.source_name,
                    "the source did not stop within {:.1} s; the run ends without waiting for it",
                    grace.as_secs_f64()
                );
            }
        }
    }
}

impl Drop for StoppingPipelines {
    fn drop(&mut self) {
        self.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn playing(description: &str) -> gst::Pipeline {
        crate::media::init().expect("GStreamer initialises");
        let pipeline = gst::parse::launch(description)
            .expect("the test pipeline parses")
            .downcast::<gst::Pipeline>()
            .expect("a pipeline");
        pipeline
            .set_state(gst::State::Playing)
            .expect("the test pipeline plays");
        pipeline
    }

    #[test]
    fn a_pipeline_that_stops_is_let_go() {
        let pipeline = playing("audiotestsrc ! fakesink");
        let mut stopping = StoppingPipelines::default();
        stopping.stop(pipeline.clone(), "tone");
        stopping.wait_at_most(Duration::from_secs(30));
        assert_eq!(stopping.still_stopping(), 0);
        assert_eq!(pipeline.current_state(), gst::State::Null);
    }

    /// The streaming thread is held in a pad probe until `open`: setting the pipeline to `Null`
    /// waits for that thread, as with a source stuck on a server that neither answers nor
    /// closes. Should the stop or the wait block after all, a failsafe opens it after 20 s and
    /// says so, and the test fails instead of hanging.
    #[test]
    fn a_stuck_pipeline_holds_neither_the_stop_nor_the_wait_past_its_grace() {
        let pipeline = playing("videotestsrc is-live=true ! fakesink name=sink");
        let open = Arc::new(AtomicBool::new(false));
        let (entered, in_probe) = std::sync::mpsc::channel::<()>();
        let held = Arc::clone(&open);
        let sink = pipeline.by_name("sink").expect("the sink is named");
        sink.static_pad("sink")
            .expect("fakesink has a sink pad")
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                let _ = entered.send(());
                while !held.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                gst::PadProbeReturn::Ok
            });
        in_probe
            .recv_timeout(Duration::from_secs(10))
            .expect("a buffer reaches the sink");
        let failsafe_fired = Arc::new(AtomicBool::new(false));
        {
            let (fired, open) = (Arc::clone(&failsafe_fired), Arc::clone(&open));
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(20));
                fired.store(true, Ordering::SeqCst);
                open.store(true, Ordering::SeqCst);
            });
        }

        let mut stopping = StoppingPipelines::default();
        stopping.stop(pipeline.clone(), "held camera");
        assert!(
            !failsafe_fired.load(Ordering::SeqCst),
            "the stop waited for the pipeline"
        );
        assert_eq!(stopping.still_stopping(), 1);
        stopping.wait_at_most(Duration::from_millis(100));
        assert!(!failsafe_fired.load(Ordering::SeqCst), "the wait outlasted its grace");
        assert_eq!(stopping.still_stopping(), 0, "a wait lets go of what it waited for");
        assert_ne!(
            pipeline.current_state(),
            gst::State::Null,
            "the probe holds the pipeline"
        );

        // Let go of, it still stops on its own thread once its source does.
        open.store(true, Ordering::SeqCst);
        let (_, state, _) = pipeline.state(gst::ClockTime::from_seconds(30));
        assert_eq!(state, gst::State::Null);
    }
}
