//! The warpflow engine inside the element: a job of the element's mode on a thread of its own,
//! reading the media the pads push, posting its events from the element.
//!
//! The engine starts with the first buffer (when the pipeline's liveness is known: a live
//! pipeline's inputs drop rather than hold the streaming threads) and stops on a flush (its
//! remaining events discarded) or on the way back to READY (its last events posted). A failed
//! run becomes a GStreamer error on the bus.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use gst::glib;
use gst::prelude::*;
use warpflow::engine_metrics::EngineMetrics;
use warpflow::flow::{run_follow, run_sync, StopSignal};
use warpflow::media::{Medium, PushedInputs};
use warpflow::serve::feed::{FeedServer, FeedSettings, RunDescription};

use super::messages::BusWriter;
use super::meta::Latest;
use super::settings::{Job, Settings};
use super::settings_error::SettingsError;
use super::Mode;

/// A running engine.
pub(super) struct Engine {
    inputs: Arc<PushedInputs>,
    stop: StopSignal,
    muted: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts a job as `settings` say, reading media pushed into [`Engine::inputs`].
    pub fn start(
        element: &gst::Element,
        settings: &Settings,
        live: bool,
        latest: Arc<Latest>,
    ) -> Result<Self, SettingsError> {
        // Small live batches: libtorch's spinning thread pool would only take cores from the
        // pipeline.
        warpflow::encode::encode_on_calling_threads();
        let inputs = PushedInputs::new(live, &settings.media());
        let stop = StopSignal::default();
        let metrics = Arc::new(EngineMetrics::default());
        let job = settings.job(inputs.source(), live, stop.clone(), metrics.clone())?;
        let feed = match settings.serve_address()? {
            Some(bind) => {
                let command = match settings.mode {
                    Mode::Sync => "sync",
                    Mode::Follow => "follow",
                };
                let feed_settings = FeedSettings {
                    run: RunDescription::new(command),
                    engine: metrics,
                    ..FeedSettings::new(bind, None)
                };
                let server =
                    FeedServer::start(feed_settings).map_err(|source| SettingsError::ServeListen { bind, source })?;
                gst::info!(
                    super::imp::CAT,
                    "event feed and live page at http://{}/",
                    server.local_addr()
                );
                Some(server)
            }
            None => None,
        };
        let muted = Arc::new(AtomicBool::new(false));
        let writer = BusWriter::new(element, latest, feed.as_ref().map(FeedServer::hub), muted.clone());
        let weak: glib::WeakRef<gst::Element> = element.downgrade();
        let run_inputs = inputs.clone();
        let thread = std::thread::Builder::new()
            .name("avalign-engine".into())
            .spawn(move || {
                // The feed lives as long as the run.
                let _feed = feed;
                let writer = Box::new(writer);
                let outcome = match job {
                    Job::Sync(job) => run_sync(*job, writer).map(drop),
                    Job::Follow(job) => run_follow(*job, writer).map(drop),
                };
                // Nothing reads the inputs any more: pushes must not wait for it.
                run_inputs.close();
                if let (Err(error), Some(element)) = (outcome, weak.upgrade()) {
                    if error.is_bad_input() {
                        gst::element_error!(element, gst::LibraryError::Settings, ("{}", error));
                    } else {
                        gst::element_error!(element, gst::StreamError::Failed, ("{}", error));
                    }
                }
            })
            .map_err(|source| SettingsError::EngineThread { source })?;
        Ok(Self {
            inputs,
            stop,
            muted,
            thread: Some(thread),
        })
    }

    /// Where the pads push their media.
    pub fn inputs(&self) -> Arc<PushedInputs> {
        self.inputs.clone()
    }

    /// Stops the run without posting what it still had to say: after a flush, its results
    /// are about media the pipeline has left behind.
    pub fn discard(self) {
        self.muted.store(true, Ordering::Release);
    }

    /// Lets the run finish what its inputs still hold, once every input has ended, and waits
    /// for it. No stop is requested: a stop ends the capture with an EOS that its sources
    /// take before the buffers still queued in them, which would go unanalysed and uncounted.
    pub fn finish(mut self) {
        self.end_inputs_and_wait();
    }

    fn end_inputs_and_wait(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.inputs.end(Medium::Audio);
            self.inputs.end(Medium::Video);
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    /// Ends the run (its last events are still posted) and waits for it.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop.request();
        }
        self.end_inputs_and_wait();
    }
}
