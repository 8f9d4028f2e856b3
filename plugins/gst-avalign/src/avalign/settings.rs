//! The element's properties, as plain values, and how they become a warpflow job.
//!
//! Properties change only in NULL or READY; the engine reads a copy when it starts.

use std::path::PathBuf;
use std::sync::Arc;

use warpflow::align::LagConfig;
use warpflow::config::{load_cues, Pace, SourceSpec};
use warpflow::engine_metrics::EngineMetrics;
use warpflow::flow::{follow_frames_in, FollowJob, StopSignal, SyncJob, VideoComparison, VideoSource};
use warpflow::media::Medium;

use super::settings_error::SettingsError;
use super::{Device, Features, Mode};

pub(super) const DEFAULT_MODE: Mode = Mode::Sync;
/// The features of a `.wfr` reference, else the built-in default (`semitone-flux-lows`).
pub(super) const DEFAULT_FEATURES: Features = Features::Auto;
pub(super) const DEFAULT_DEVICE: Device = Device::Auto;
/// The GPU `device=cuda` runs on: the first, as libtorch numbers them.
pub(super) const DEFAULT_CUDA_DEVICE_ID: u32 = 0;
/// 0: the mode's own default (sync: a 4 s window; follow: a 10 s band).
pub(super) const DEFAULT_WINDOW_S: f64 = 0.0;
/// As `warpflow sync --emit-interval-ms`.
pub(super) const DEFAULT_EMIT_INTERVAL_MS: u32 = (SyncJob::DEFAULT_EMIT_EVERY_NS / 1_000_000) as u32;
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
    pub features: Features,
    pub audio_model: Option<String>,
    pub video_model: Option<String>,
    /// mode=sync: a face detector whose box holds the region.
    pub face_model: Option<String>,
    /// mode=sync: a pair of embedders whose agreement gives the offset.
    pub sync_model: Option<String>,
    pub device: Device,
    /// The GPU's number when `device` is CUDA.
    pub cuda_device_id: u32,
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
            features: DEFAULT_FEATURES,
            audio_model: None,
            video_model: None,
            face_model: None,
            sync_model: None,
            device: DEFAULT_DEVICE,
            cuda_device_id: DEFAULT_CUDA_DEVICE_ID,
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
    /// The job these settings describe, reading `source`: the library's defaults, changed
    /// where the properties say; an error naming the property at fault when they do not make
    /// one.
    pub fn job(
        &self,
        source: SourceSpec,
        live: bool,
        stop: StopSignal,
        metrics: Arc<EngineMetrics>,
    ) -> Result<Job, SettingsError> {
        let device = self.device.choice(self.cuda_device_id);
        let pace = if live { Pace::Realtime } else { Pace::Fast };
        match self.mode {
            Mode::Sync => {
                if self.window_s > MAX_SYNC_WINDOW_S {
                    return Err(SettingsError::SyncWindow {
                        window_s: self.window_s,
                        most_s: MAX_SYNC_WINDOW_S,
                    });
                }
                let defaults = SyncJob::new(source, self.stream.clone());
                Ok(Job::Sync(Box::new(SyncJob {
                    pace,
                    device,
                    face_model: self.face_model.as_ref().filter(|m| !m.is_empty()).map(PathBuf::from),
                    sync_model: self.sync_model.as_ref().filter(|m| !m.is_empty()).map(PathBuf::from),
                    lag: LagConfig {
                        window_ns: match self.window_s {
                            w if w > 0.0 => (w * 1e9).round() as u64,
                            _ => defaults.lag.window_ns,
                        },
                        ..defaults.lag
                    },
                    emit_every_ns: u64::from(self.emit_interval_ms.max(1)) * 1_000_000,
                    stop,
                    metrics,
                    ..defaults
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
                let defaults = FollowJob::new(reference, source, self.stream.clone())
                    .map_err(|source| SettingsError::Reference { source })?;
                let cues = match self.cues.as_ref().filter(|c| !c.is_empty()) {
                    Some(path) => load_cues(path.as_ref()).map_err(|source| SettingsError::Cues { source })?,
                    None => Vec::new(),
                };
                let video = self
                    .video_model
                    .as_ref()
                    .filter(|path| !path.is_empty())
                    .map(|path| VideoComparison::new(VideoSource::Model(PathBuf::from(path))));
                let mut follower = defaults.follower.clone();
                if self.window_s > 0.0 {
                    follower.oltw.band_frames = follow_frames_in(self.window_s).max(2);
                }
                Ok(Job::Follow(Box::new(FollowJob {
                    pace,
                    device,
                    features: self.features.asked().unwrap_or(defaults.features),
                    audio_model: self.audio_model.as_ref().filter(|m| !m.is_empty()).map(PathBuf::from),
                    video,
                    follower,
                    emit_every_frames: follow_frames_in(f64::from(self.emit_interval_ms) / 1e3).max(1),
                    cues,
                    stop,
                    metrics,
                    ..defaults
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mode=follow with every other property at its default, and its reference: an empty
    /// `reference.wav` in the returned folder (a media reference is read only when the job runs).
    fn follow_settings() -> (tempfile::TempDir, Settings) {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let reference = folder.path().join("reference.wav");
        std::fs::write(&reference, b"").expect("a writable folder");
        let settings = Settings {
            mode: Mode::Follow,
            reference: reference.to_str().map(str::to_owned),
            ..Settings::default()
        };
        (folder, settings)
    }

    #[test]
    fn default_settings_make_the_librarys_default_jobs_as_a_pipeline_paces_them() {
        let source = SourceSpec::LaunchLine(String::new());
        let job = Settings::default().job(source.clone(), true, StopSignal::default(), Arc::default());
        let Ok(Job::Sync(job)) = job else {
            panic!("not a sync job");
        };
        assert_eq!(
            format!("{job:?}"),
            format!("{:?}", SyncJob::new(source.clone(), DEFAULT_STREAM))
        );

        let (folder, settings) = follow_settings();
        let reference = folder.path().join("reference.wav");
        let Ok(Job::Follow(job)) = settings.job(source.clone(), true, StopSignal::default(), Arc::default()) else {
            panic!("not a follow job");
        };
        let library = FollowJob::new(&reference, source, DEFAULT_STREAM).expect("a job");
        // The element's results come every emit-interval (500 ms), the command line's every frame.
        let library = FollowJob {
            emit_every_frames: follow_frames_in(f64::from(DEFAULT_EMIT_INTERVAL_MS) / 1e3),
            ..library
        };
        assert_eq!(format!("{job:?}"), format!("{library:?}"));
    }

    #[test]
    fn features_and_device_reach_the_job() {
        let (_folder, settings) = follow_settings();
        let settings = Settings {
            features: Features::Chroma,
            device: Device::Cuda,
            cuda_device_id: 1,
            ..settings
        };
        let source = SourceSpec::LaunchLine(String::new());
        let Ok(Job::Follow(job)) = settings.job(source, false, StopSignal::default(), Arc::default()) else {
            panic!("not a follow job");
        };
        assert_eq!(job.features, warpflow::encode::AudioFeatureKind::Chroma);
        assert_eq!(job.device, warpflow::encode::DeviceChoice::Cuda(1));
        assert_eq!(job.pace, Pace::Fast);
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
