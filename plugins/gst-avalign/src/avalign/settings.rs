//! The element's properties, as plain values, and how they become a warpflow job.
//!
//! Properties change only in NULL or READY; the engine reads a copy when it starts.

use std::path::PathBuf;
use std::sync::Arc;

use warpflow::align::{FollowerConfig, LagConfig, OffsetTrackerConfig, OltwConfig, RegionLagConfig};
use warpflow::config::{load_cues, Pace, SourceSpec};
use warpflow::encode::{AudioFeatureKind, DeviceChoice};
use warpflow::engine_metrics::EngineMetrics;
use warpflow::flow::operators::Batching;
use warpflow::flow::{
    follow_audio_features, follow_frames_in, FollowJob, StopSignal, SyncJob, Transposition, VideoComparison,
    VideoSource,
};
use warpflow::media::{Medium, SupervisionConfig};

use super::settings_error::SettingsError;
use super::Mode;

pub(super) const DEFAULT_MODE: Mode = Mode::Sync;
/// The features of a `.wfr` reference, else the built-in default (`semitone-flux`).
pub(super) const DEFAULT_FEATURES: &str = "auto";
pub(super) const DEFAULT_DEVICE: &str = "auto";
/// 0: the mode's own default (sync: a 4 s window; follow: a 10 s band).
pub(super) const DEFAULT_WINDOW_S: f64 = 0.0;
pub(super) const DEFAULT_EMIT_INTERVAL_MS: u32 = 500;
pub(super) const DEFAULT_STREAM: &str = "avalign";
pub(super) const DEFAULT_ATTACH_META: bool = true;
pub(super) const DEFAULT_LOSSLESS: bool = false;
/// The longest offset window in mode=sync, in seconds (as `warpflow sync --window-s`).
pub(super) const MAX_SYNC_WINDOW_S: f64 = 60.0;
/// The widest aligner band in mode=follow, in seconds (as `warpflow follow --band-frames`:
/// 30 000 frames of 20 ms); also the property's own maximum.
pub(super) const MAX_FOLLOW_WINDOW_S: f64 = 600.0;

/// Everything the properties say.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settings {
    pub mode: Mode,
    pub reference: Option<String>,
    pub cues: Option<String>,
    pub features: String,
    pub audio_model: Option<String>,
    pub video_model: Option<String>,
    /// mode=sync: a face detector whose box holds the region.
    pub face_model: Option<String>,
    /// mode=sync: a pair of embedders whose agreement gives the offset.
    pub sync_model: Option<String>,
    pub device: String,
    pub window_s: f64,
    pub emit_interval_ms: u32,
    pub serve: Option<String>,
    pub stream: String,
    pub attach_meta: bool,
    /// Analyse every buffer even in a live pipeline, holding it back when analysis lags.
    pub lossless: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: DEFAULT_MODE,
            reference: None,
            cues: None,
            features: DEFAULT_FEATURES.into(),
            audio_model: None,
            video_model: None,
            face_model: None,
            sync_model: None,
            device: DEFAULT_DEVICE.into(),
            window_s: DEFAULT_WINDOW_S,
            emit_interval_ms: DEFAULT_EMIT_INTERVAL_MS,
            serve: None,
            stream: DEFAULT_STREAM.into(),
            attach_meta: DEFAULT_ATTACH_META,
            lossless: DEFAULT_LOSSLESS,
        }
    }
}

/// A job ready to run, with its source.
pub(super) enum Job {
    Sync(Box<SyncJob>),
    Follow(Box<FollowJob>),
}

impl Settings {
    /// The job these settings describe, reading `source`; a message naming the property at
    /// fault when they do not make one.
    pub fn job(
        &self,
        source: SourceSpec,
        live: bool,
        stop: StopSignal,
        metrics: Arc<EngineMetrics>,
    ) -> Result<Job, SettingsError> {
        let device: DeviceChoice = self.device.parse().map_err(|source| SettingsError::Device {
            value: self.device.clone(),
            source,
        })?;
        let pace = if live { Pace::Realtime } else { Pace::Fast };
        let emit_every_ns = u64::from(self.emit_interval_ms.max(1)) * 1_000_000;
        match self.mode {
            Mode::Sync => {
                if self.window_s > MAX_SYNC_WINDOW_S {
                    return Err(SettingsError::SyncWindow {
                        window_s: self.window_s,
                        most_s: MAX_SYNC_WINDOW_S,
                    });
                }
                let defaults = LagConfig::default();
                let window_ns = match self.window_s {
                    w if w > 0.0 => (w * 1e9).round() as u64,
                    _ => defaults.window_ns,
                };
                Ok(Job::Sync(Box::new(SyncJob {
                    source,
                    pace,
                    device,
                    stream: self.stream.clone(),
                    captured_by: None,
                    batching: Batching::default(),
                    supervision: SupervisionConfig::default(),
                    speech_model: None,
                    face_model: self.face_model.as_ref().filter(|m| !m.is_empty()).map(PathBuf::from),
                    sync_model: self.sync_model.as_ref().filter(|m| !m.is_empty()).map(PathBuf::from),
                    lag: LagConfig { window_ns, ..defaults },
                    region: RegionLagConfig::default(),
                    tracker: OffsetTrackerConfig::default(),
                    emit_every_ns,
                    progress_every_ns: 1_000_000_000,
                    stop,
                    metrics,
                })))
            }
            Mode::Follow => {
                let reference = self
                    .reference
                    .as_ref()
                    .filter(|r| !r.is_empty())
                    .ok_or(SettingsError::NoReference)?;
                if !std::path::Path::new(reference).is_file() {
                    return Err(SettingsError::MissingReference {
                        path: reference.clone(),
                    });
                }
                let features = self.follow_features(reference)?;
                let cues = match self.cues.as_ref().filter(|c| !c.is_empty()) {
                    Some(path) => load_cues(path.as_ref()).map_err(|source| SettingsError::Cues { source })?,
                    None => Vec::new(),
                };
                let video = match &self.video_model {
                    Some(path) if !path.is_empty() => Some(VideoComparison {
                        source: VideoSource::Model(PathBuf::from(path)),
                        weight: 0.5,
                    }),
                    _ => None::<VideoComparison>,
                };
                let mut oltw = OltwConfig::default();
                if self.window_s > 0.0 {
                    oltw.band_frames = follow_frames_in(self.window_s).max(2);
                }
                let emit_every_frames = follow_frames_in(f64::from(self.emit_interval_ms) / 1e3).max(1);
                Ok(Job::Follow(Box::new(FollowJob {
                    reference: PathBuf::from(reference),
                    live: source,
                    pace,
                    device,
                    features,
                    batching: Batching::default(),
                    supervision: SupervisionConfig::default(),
                    audio_model: self.audio_model.as_ref().filter(|m| !m.is_empty()).map(PathBuf::from),
                    half_precision: false,
                    video,
                    follower: FollowerConfig {
                        oltw,
                        ..FollowerConfig::default()
                    },
                    transposition: Transposition::Auto,
                    emit_every_frames,
                    captured_by: None,
                    cues,
                    stream: self.stream.clone(),
                    progress_every_ns: 1_000_000_000,
                    stop,
                    metrics,
                })))
            }
        }
    }

    /// The media the run reads: sync both; follow the audio, and the video when it is compared.
    pub fn media(&self) -> Vec<Medium> {
        match self.mode {
            Mode::Sync => vec![Medium::Audio, Medium::Video],
            Mode::Follow if self.video_model.as_ref().is_some_and(|m| !m.is_empty()) => {
                vec![Medium::Audio, Medium::Video]
            }
            Mode::Follow => vec![Medium::Audio],
        }
    }

    /// Where the feed listens, when `serve` is set.
    pub fn serve_address(&self) -> Result<Option<std::net::SocketAddr>, SettingsError> {
        match self.serve.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|source| SettingsError::ServeAddress {
                value: text.to_owned(),
                source,
            }),
        }
    }

    /// The audio features `follow` compares: the property's, or with `auto` those a `.wfr`
    /// reference was made with, else the built-in default.
    fn follow_features(&self, reference: &str) -> Result<AudioFeatureKind, SettingsError> {
        let asked = match self.features.as_str() {
            DEFAULT_FEATURES => None,
            named => Some(named.parse().map_err(|source| SettingsError::Features {
                value: named.to_owned(),
                source,
            })?),
        };
        follow_audio_features(asked, std::path::Path::new(reference))
            .map_err(|source| SettingsError::Reference { source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_the_propertys_or_by_default_the_built_in_default() {
        let settings = |features: &str| Settings {
            features: features.into(),
            ..Settings::default()
        };
        let media = "reference.wav";
        assert!(matches!(
            settings("auto").follow_features(media),
            Ok(AudioFeatureKind::SemitoneFlux)
        ));
        assert!(matches!(
            settings("chroma").follow_features(media),
            Ok(AudioFeatureKind::Chroma)
        ));
        assert!(matches!(settings("mfcc").follow_features(media), Err(e) if e.to_string().contains("'features'")));
    }

    #[test]
    fn a_sync_window_past_its_range_is_refused_naming_the_property() {
        let job = |window_s: f64| {
            Settings {
                window_s,
                ..Settings::default()
            }
            .job(
                SourceSpec::LaunchLine(String::new()),
                false,
                StopSignal::default(),
                Arc::default(),
            )
        };
        assert!(job(MAX_SYNC_WINDOW_S).is_ok());
        assert!(
            matches!(job(61.0), Err(e) if e.to_string().contains("'window'") && e.to_string().contains("at most 60 s"))
        );
    }

    #[test]
    fn follow_without_a_reference_is_refused_naming_the_property() {
        let settings = Settings {
            mode: Mode::Follow,
            ..Settings::default()
        };
        let refused = settings.job(
            SourceSpec::LaunchLine(String::new()),
            false,
            StopSignal::default(),
            Arc::default(),
        );
        assert!(matches!(refused, Err(e) if e.to_string().contains("'reference'")));
    }

    #[test]
    fn a_bad_serve_address_is_refused_naming_it() {
        let settings = Settings {
            serve: Some("localhost".into()),
            ..Settings::default()
        };
        let refused = settings.serve_address();
        assert!(matches!(refused, Err(e) if e.to_string().contains("'localhost'")));
        assert!(matches!(Settings::default().serve_address(), Ok(None)));
    }
}
