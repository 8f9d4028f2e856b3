//! The follow streams of one service worker, all in one dataflow that streams join and leave
//! without it being rebuilt.
//!
//! ```text
//! captures ─ keyed audio chunks ─ encode_streams ─ follow_streams ─ write_stream_events
//!            (and notes: watermark, health, failure, end)
//! ```
//!
//! The dataflow is built once, when the worker's first follow stream comes. Adding a stream
//! opens its capture and puts its state in the operators' tables under a key of its own: its
//! framing and seat at the worker's encoder pools, its follower, its sink. Its capture feeds
//! the one input (`keyed_feeds`); when it ends, or fails, each operator drops the stream as its
//! end passes.
//!
//! Follow streams that compare video keep a dataflow of their own.

use timely::dataflow::operators::Input;
use timely::worker::Worker;

use crate::encode::AudioFramer;
use crate::events::RunKind;
use crate::flow::driver::open_capture;
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::jobs::follow::{follow_encoders, follow_stage};
use crate::flow::jobs::live_audio::pooled_audio_stage;
use crate::flow::jobs::many_streams::SharedWriter;
use crate::flow::operators::{
    EncodeStreams, EncodedStreams, EventSink, FollowStreams, FollowedStreams, StreamSinks, WriteStreamEvents,
};
use crate::flow::{FlowError, FollowJob, Keyed};
use crate::media::{AudioChunk, AudioNeeds, MediaError, MediaNeeds};

use super::keyed_feeds::FedDataflow;

/// The worker's follow streams and their one dataflow.
pub(super) struct SharedFollows {
    pub(super) fed: FedDataflow<AudioChunk>,
    encoded: EncodedStreams<AudioFramer, f32>,
    followed: FollowedStreams,
}

impl SharedFollows {
    /// Builds the dataflow on `worker`, with no stream yet.
    pub(super) fn build(worker: &mut Worker) -> Self {
        let encoded = EncodedStreams::default();
        let followed = FollowedStreams::default();
        let sinks = StreamSinks::default();
        let input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, chunks) = scope.new_input::<Vec<Keyed<AudioChunk>>>();
            chunks
                .encode_streams("AudioFeatures", encoded.clone())
                .follow_streams(followed.clone())
                .write_stream_events(sinks.clone());
            input
        });
        Self {
            fed: FedDataflow::new(input, sinks),
            encoded,
            followed,
        }
    }

    /// Adds `job`'s stream: its reference, encoders and capture are made ready and its capture
    /// started. A capture that cannot start ends the stream at once, its events saying why.
    pub(super) fn add(
        &mut self,
        job: &FollowJob,
        pools: &EncoderPools,
        writer: &SharedWriter,
    ) -> Result<(), FlowError> {
        job.follower.oltw.validate()?;
        let mut encoders = follow_encoders(job)?;
        let stage = follow_stage(job, &mut encoders)?;
        let needs = MediaNeeds {
            audio: Some(AudioNeeds {
                rate_hz: encoders.audio.params().rate_hz,
            }),
            video: None,
        };
        let opened = open_capture(&job.live, needs, job.pace, job.supervision)?;
        if opened.audio.is_none() {
            let source_name = job.live.display_name();
            return Err(MediaError::MissingStream {
                source_name,
                kind: "audio",
            }
            .into());
        }
        let encoding = pooled_audio_stage(encoders.audio, pools, job.batching, &job.metrics, &job.stream)?;
        let sink = EventSink::new(
            Box::new(writer.clone()),
            RunKind::Follow,
            job.stream.clone(),
            opened.capture.stats(),
            Some(stage.reference_duration_ns),
            job.progress_every_ns,
        );
        let key = self.fed.new_key();
        let (follower, timing, events, metrics) = stage.into_parts();
        self.encoded.add(key, encoding);
        self.followed.add(key, follower, timing, events, metrics);
        self.fed
            .start(key, sink, opened, job.stop.clone(), &job.metrics, &job.stream);
        Ok(())
    }
}
