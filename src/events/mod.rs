//! The event schema: what warpflow tells the outside world, one JSON object per event.
//!
//! Every event carries the schema version `v` (currently [`SCHEMA_VERSION`]), the stream it
//! belongs to and a per-stream sequence number `seq` that rises by one with no gaps, so a
//! client can resume from the last event it saw. This module owns the wire format, the
//! interface events leave through ([`EventWriter`]) and the summary gathered from them
//! ([`RunSummary`]); it knows nothing of how events are produced, nor of where they go.

mod band;
mod sequencer;
mod stream_control;
mod summary;
mod writer;

pub use band::SyncBand;
pub use sequencer::Sequencer;
pub use stream_control::{StreamControl, StreamDescription, StreamRefusal, StreamState};
pub use summary::{RunKind, RunSummary};
pub use writer::EventWriter;

use serde::{Deserialize, Serialize};

/// The version written in every event's `v` field.
pub const SCHEMA_VERSION: u32 = 1;

/// How a stream broke (`discont` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscontKind {
    /// The timestamps jumped forward with no word from the source: data never came, and the
    /// time axis after the jump may not be the one before it.
    Gap,
    /// The timestamps went back.
    Reset,
    /// The source said it lost data (a GStreamer GAP event, a buffer flagged DISCONT, as after
    /// lost network packets); the time axis goes on unbroken.
    Loss,
}

/// One event as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// The stream the event is about, e.g. `live0`.
    pub stream: String,
    /// Position of the event in its stream's sequence, starting at 0.
    pub seq: u64,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What an event says, tagged on the wire by its `type` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// Where the live stream is in the reference (`follow`).
    Position {
        /// Live running time of the frame this position is for.
        live_ns: u64,
        /// Matching time in the reference.
        ref_ns: u64,
        /// Live speed relative to the reference (1.0 = same tempo).
        tempo: f64,
        /// How sure the aligner is, in [0, 1].
        confidence: f64,
        /// Wall-clock time from capture of the frame to this event.
        latency_ns: u64,
        /// Semitones the live stream sits above the reference (negative: below), where the key
        /// is estimated (`--transposition`, or semitone bands by default).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        semitones: Option<i32>,
        /// False while later input could still change this position.
        #[serde(rename = "final")]
        is_final: bool,
    },
    /// Offset between the audio and the video of one stream (`sync`).
    Offset {
        /// Live running time at the end of the analysis window.
        live_ns: u64,
        /// Tracked (smoothed) offset; positive when audio comes later than its video.
        av_offset_ns: i64,
        /// This window's own estimate, before smoothing.
        raw_offset_ns: i64,
        /// How fast the offset changes, in parts per million.
        drift_ppm: f64,
        /// Whether the tracked offset has settled.
        locked: bool,
        /// How sure the estimator is of this window's estimate, in [0, 1].
        confidence: f64,
        /// The offset against ITU-R BT.1359.
        band: SyncBand,
        /// Where in the picture the sound is made, `[x, y, width, height]` in fractions of the
        /// picture from its top left, when the estimate rests on the part of the picture that
        /// follows the sound (absent for flashes and beeps, which fill the picture).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        region: Option<[f64; 4]>,
        /// False while later input could still change this estimate.
        #[serde(rename = "final")]
        is_final: bool,
    },
    /// The live stream reached a cue of the reference.
    Cue {
        /// The cue's identifier.
        cue: String,
        /// The cue's time in the reference.
        ref_ns: u64,
        /// Live running time at which it was reached.
        live_ns: u64,
    },
    /// A live snippet was found in a reference (`locate`).
    Match {
        /// Which reference matched.
        reference: String,
        /// Start of the match in the reference.
        ref_start_ns: u64,
        /// End of the match in the reference.
        ref_end_ns: u64,
        /// Start of the matching live span.
        live_start_ns: u64,
        /// End of the matching live span.
        live_end_ns: u64,
        /// Normalised path cost of the match (lower is better).
        cost: f64,
        /// Semitones the live span sits above the reference (negative: below), where the key
        /// is estimated (`--transposition`).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        semitones: Option<i32>,
    },
    /// The watermark moved: nothing before `frontier_ns` will change any more.
    Progress {
        /// Running time that every operator of the graph has passed.
        frontier_ns: u64,
        /// Fraction of the reference covered so far (`follow`), if there is one.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        ref_fraction: Option<f64>,
        /// Media records (video frames and audio buffers) captured so far.
        frames_in: u64,
        /// Media records dropped because the graph could not keep up.
        frames_dropped: u64,
        /// What the stream is doing, e.g. `aligning`.
        stage: String,
    },
    /// The source stopped delivering.
    Lost {
        /// Last live running time seen.
        live_ns: u64,
        /// Why, in words.
        reason: String,
        /// Reconnection attempts so far.
        retries: u32,
    },
    /// The source is back.
    Recovered {
        /// Live running time at which data resumed.
        live_ns: u64,
        /// Reconnection attempts it took.
        retries: u32,
    },
    /// The stream broke: its timestamps jumped, or its source lost data.
    Discont {
        /// Live running time after the jump, or at the start of the lost span.
        live_ns: u64,
        /// How it broke.
        kind: DiscontKind,
        /// Why, in words.
        reason: String,
    },
    /// The stream failed (in a service, where the others go on); its `eos` follows.
    Error {
        /// Why, in words.
        reason: String,
    },
    /// The stream ended.
    Eos,
}

impl Event {
    /// Serialises the event as one JSON line (without the newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_event_matches_the_documented_shape() {
        let event = Event {
            v: SCHEMA_VERSION,
            stream: "live0".into(),
            seq: 42,
            body: EventBody::Offset {
                live_ns: 4_100_000_000,
                av_offset_ns: -80_000_000,
                raw_offset_ns: -81_000_000,
                drift_ppm: 0.5,
                locked: true,
                confidence: 0.88,
                band: SyncBand::from_offset_ns(-80_000_000),
                region: Some([0.375, 0.5, 0.25, 0.125]),
                is_final: true,
            },
        };
        let json: serde_json::Value = serde_json::from_str(&event.to_json_line()).unwrap();
        assert_eq!(json["region"], serde_json::json!([0.375, 0.5, 0.25, 0.125]));
        assert_eq!(json["v"], 1);
        assert_eq!(json["type"], "offset");
        assert_eq!(json["stream"], "live0");
        assert_eq!(json["seq"], 42);
        assert_eq!(json["av_offset_ns"], -80_000_000);
        assert_eq!(json["band"], "acceptable");
        assert_eq!(json["final"], true);
    }

    #[test]
    fn events_round_trip_through_json() {
        let bodies = vec![
            EventBody::Position {
                live_ns: 1,
                ref_ns: 2,
                tempo: 1.08,
                confidence: 0.5,
                latency_ns: 3,
                semitones: Some(-2),
                is_final: true,
            },
            EventBody::Progress {
                frontier_ns: 5,
                ref_fraction: None,
                frames_in: 6,
                frames_dropped: 0,
                stage: "aligning".into(),
            },
            EventBody::Eos,
        ];
        for (seq, body) in bodies.into_iter().enumerate() {
            let event = Event {
                v: 1,
                stream: "s".into(),
                seq: seq as u64,
                body,
            };
            let back: Event = serde_json::from_str(&event.to_json_line()).unwrap();
            assert_eq!(back, event);
        }
    }
}
