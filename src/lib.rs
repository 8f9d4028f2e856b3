//! warpflow: a streaming dataflow engine for live audio-video alignment.
//!
//! GStreamer captures live streams ([`media`]); a timely-dataflow graph ([`flow`]) encodes
//! audio windows and video frames with libtorch ([`encode`]) into feature values
//! ([`features`]) and aligns them online ([`align`]); the results leave as versioned events
//! ([`events`]) through sinks ([`serve`]).
//! [`config`] turns command lines and parameters into validated settings; [`engine_metrics`]
//! holds what the engine measures about itself, and [`latest_pictures`] the newest picture of
//! each stream for the live page.
//!
//! The contract between these parts and with users (command line, event schema, HTTP routes,
//! module boundaries) is `docs/design.md`.

pub mod align;
pub mod config;
pub mod encode;
pub mod engine_metrics;
pub mod events;
pub mod features;
pub mod flow;
pub mod latest_pictures;
pub mod media;
pub mod serve;
