//! The element's property names, as `gst-inspect-1.0 avalign` lists them: one spelling for the
//! declarations, the setters and getters, and the messages that name a property.

/// `mode`.
pub(super) const MODE: &str = "mode";
/// `reference`.
pub(super) const REFERENCE: &str = "reference";
/// `cues`.
pub(super) const CUES: &str = "cues";
/// `features`.
pub(super) const FEATURES: &str = "features";
/// `audio-model`.
pub(super) const AUDIO_MODEL: &str = "audio-model";
/// `video-model`.
pub(super) const VIDEO_MODEL: &str = "video-model";
/// `face-model`.
pub(super) const FACE_MODEL: &str = "face-model";
/// `sync-model`.
pub(super) const SYNC_MODEL: &str = "sync-model";
/// `device`.
pub(super) const DEVICE: &str = "device";
/// `cuda-device-id`.
pub(super) const CUDA_DEVICE_ID: &str = "cuda-device-id";
/// `window`.
pub(super) const WINDOW: &str = "window";
/// `emit-interval`.
pub(super) const EMIT_INTERVAL: &str = "emit-interval";
/// `serve`.
pub(super) const SERVE: &str = "serve";
/// `stream`.
pub(super) const STREAM: &str = "stream";
/// `attach-meta`.
pub(super) const ATTACH_META: &str = "attach-meta";
/// `lossless`.
pub(super) const LOSSLESS: &str = "lossless";
/// `dropped`.
pub(super) const DROPPED: &str = "dropped";
/// `analysis-latency`.
pub(super) const ANALYSIS_LATENCY: &str = "analysis-latency";
