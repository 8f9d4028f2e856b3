//! What `follow` compares: audio features alone, or audio and video features joined into one
//! frame per audio frame.
//!
//! Video runs at its own rate, slower than the 50 audio frames a second: each audio frame takes
//! the newest video frame at or before its time (a sample-and-hold), and [`Modalities`] lays
//! the two blocks out so that the aligner's squared Euclidean distance is the weighted sum of
//! the blocks' cosine distances. Before the first video frame the video block is zeros. The
//! reference is joined the same way as the live stream, so the two are alike.

use std::collections::VecDeque;

use crate::align::{AlignError, Distance, FollowerConfig, Modalities, Modality};
use crate::features::PitchLayout;
use std::path::{Path, PathBuf};

use crate::encode::{
    AudioEncoder, AudioFeatureEncoder, AudioFeatureKind, AudioModel, ModelSettings, PixelLayout, TorchScriptEncoder,
    VideoEncoder, VideoFeature, VideoFeatureEncoder, VideoFrameFormat, VideoModel,
};
use crate::media::VideoNeeds;

use super::{FlowError, FOLLOW_FRAMES};

/// Size of the greyscale picture the built-in video features are computed from: features of
/// the picture's layout and motion need no detail.
pub const FOLLOW_PICTURE: VideoNeeds = VideoNeeds {
    width: 64,
    height: 48,
    colour: false,
};

/// Whether the live stream's key is estimated against the reference's and undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transposition {
    /// On semitone bands (`semitone-flux`): a performance a semitone or two off the reference
    /// is the rule among singers and transposing players, and there a key is taken only where
    /// it stands out from the keys a semitone either side, so material without one (speech) is
    /// left alone. Chroma, log-compressed, peaks less and has no such test: on a melody in C
    /// followed at changing tempi its estimate took a wrong key and the tracker lost its place,
    /// so there the key is estimated only when asked.
    #[default]
    Auto,
    /// Wherever the features lay out pitch (`semitone-flux`, `chroma`); features that do not are
    /// refused.
    Required,
    /// Never: frames are compared as they come.
    Off,
}

impl Transposition {
    /// As [`Transposition::layout_for`], for `locate`, where `Auto` estimates the key on chroma
    /// too: a snippet is matched once, its key then estimated against the span it matched and
    /// searched for again in that key, which holds on chroma (no tracker to lose its place).
    pub fn locate_layout_for(
        self,
        layout: Option<PitchLayout>,
        features: &str,
    ) -> Result<Option<PitchLayout>, AlignError> {
        match self {
            Self::Auto => Ok(layout),
            other => other.layout_for(layout, features),
        }
    }

    /// How the key is estimated on `features` (`layout`: how they lay out pitch, if they do):
    /// the layout to estimate it on, or `None` for no estimate.
    pub fn layout_for(self, layout: Option<PitchLayout>, features: &str) -> Result<Option<PitchLayout>, AlignError> {
        match (self, layout) {
            (Self::Off, _) => Ok(None),
            (Self::Auto, layout) => Ok(layout.filter(|l| matches!(l, PitchLayout::SemitoneBlocks { .. }))),
            (Self::Required, Some(layout)) => Ok(Some(layout)),
            (Self::Required, None) => Err(AlignError::BadParameter {
                name: "transposition",
                expected: "features laid out in pitch (--audio-features chroma or semitone-flux)",
                actual: format!("--audio-features {features}"),
            }),
        }
    }
}

/// Windows or frames a TorchScript model is given per forward pass, at most.
const MODEL_MAX_BATCH: usize = 64;

/// Fits the tracker's settings to the built-in `features` it compares. The tempo's prediction
/// (see `OltwConfig::prediction_margin`) carries `logmel-flux` positions along held notes;
/// semitone bands with their rise tell most frames of a held chord apart, and there a wide
/// margin holds positions back at onsets, while a wide one behind the prediction carries them
/// through notes another instrument sustains (`OltwConfig::prediction_margin_behind`, 0.6).
/// Ahead, a small margin rather than none: with none, positions run ahead along single notes
/// held without a change. Other features keep the tracker's defaults, which the wide margin
/// behind would cost on other performers.
///
/// `semitone-flux-lows` measures smaller distances (a reference's frames half a second apart are
/// about half as far apart as with `semitone-flux`), and at a strophic song's start another
/// verse beats the assumed start by a ratio a hypothesis wins on within a second: until the
/// stream's place is confirmed, a hypothesis needs three times the evidence
/// (`HypothesisConfig::unconfirmed_evidence_frames`).
pub fn fit_follower_to_features(follower: &mut FollowerConfig, features: AudioFeatureKind) {
    if matches!(
        features,
        AudioFeatureKind::SemitoneFlux | AudioFeatureKind::SemitoneFluxLows
    ) {
        follower.oltw.prediction_margin = 0.05;
        follower.oltw.prediction_margin_behind = 0.6;
    }
    if features == AudioFeatureKind::SemitoneFluxLows {
        follower.hypotheses.unconfirmed_evidence_frames = 3.0 * follower.hypotheses.evidence_frames;
    }
}

/// How TorchScript models run on `device`: in half precision when `half` (CUDA only).
pub fn model_settings(device: tch::Device, half: bool) -> ModelSettings {
    ModelSettings {
        device,
        max_batch: MODEL_MAX_BATCH,
        half,
    }
}

/// The audio encoder of a `follow` run: the built-in `features` (framed as [`FOLLOW_FRAMES`]),
/// or the TorchScript model at `model` (framed as its contract says), on `device`; a model runs
/// in half precision when `half` and the device is CUDA.
pub fn follow_audio_encoder(
    features: AudioFeatureKind,
    model: Option<&Path>,
    device: tch::Device,
    half: bool,
) -> Result<Box<dyn AudioEncoder>, FlowError> {
    let Some(path) = model else {
        return Ok(Box::new(AudioFeatureEncoder::new(features, FOLLOW_FRAMES, device)?));
    };
    Ok(Box::new(AudioModel::new(
        TorchScriptEncoder::load(path, model_settings(device, half))?,
        path,
    )?))
}

/// What is compared of the picture.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoSource {
    /// A built-in feature of a 64×48 greyscale copy ([`FOLLOW_PICTURE`]).
    Features(VideoFeature),
    /// A TorchScript model's output, on frames of its contract's size and channels.
    Model(PathBuf),
}

/// Video compared beside the audio, and its weight against the audio's 1.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoComparison {
    /// What is compared.
    pub source: VideoSource,
    /// Weight of the video's cosine distance; the audio's is 1.
    pub weight: f32,
}

impl VideoComparison {
    /// The video's weight unless told otherwise: as much as the audio's, so that neither
    /// modality is favoured before a user knows which one their material carries better.
    pub const DEFAULT_WEIGHT: f32 = 1.0;

    /// `source` compared at [`Self::DEFAULT_WEIGHT`].
    pub fn new(source: VideoSource) -> Self {
        Self {
            source,
            weight: Self::DEFAULT_WEIGHT,
        }
    }
}

impl VideoSource {
    fn encoder(&self, device: tch::Device, half: bool) -> Result<Box<dyn VideoEncoder>, FlowError> {
        match self {
            VideoSource::Features(feature) => {
                let format = VideoFrameFormat {
                    width: FOLLOW_PICTURE.width as usize,
                    height: FOLLOW_PICTURE.height as usize,
                    layout: PixelLayout::Gray,
                };
                Ok(Box::new(VideoFeatureEncoder::new(*feature, format, device)?))
            }
            VideoSource::Model(path) => Ok(Box::new(VideoModel::new(
                TorchScriptEncoder::load(path, model_settings(device, half))?,
                path,
            )?)),
        }
    }
}

/// The encoders of what `follow` compares.
#[derive(Debug)]
pub struct FollowEncoders {
    /// The audio encoder.
    pub audio: Box<dyn AudioEncoder>,
    /// The video encoder and how its frames join the audio's, when video is compared.
    pub video: Option<(Box<dyn VideoEncoder>, Modalities)>,
    name: String,
}

impl FollowEncoders {
    /// Encoders for `audio` features and, with `video`, video features on the same device (a
    /// video model in half precision when `half` and the device is CUDA).
    pub fn new(audio: Box<dyn AudioEncoder>, video: Option<VideoComparison>, half: bool) -> Result<Self, FlowError> {
        let Some(video) = video else {
            let name = audio.name();
            return Ok(Self {
                audio,
                video: None,
                name,
            });
        };
        let encoder = video.source.encoder(audio.device(), half)?;
        let modalities = Modalities::new(vec![
            Modality {
                name: "audio".into(),
                dim: audio.dim(),
                weight: 1.0,
            },
            Modality {
                name: "video".into(),
                dim: encoder.dim(),
                weight: video.weight,
            },
        ])?;
        let name = format!("{}+{}*{}", audio.name(), encoder.name(), video.weight);
        Ok(Self {
            audio,
            video: Some((encoder, modalities)),
            name,
        })
    }

    /// The features' name, as reference files record it: the audio encoder's (`logmel`), or with
    /// video the audio encoder's, the video encoder's and its weight (`logmel+thumbnail:16*0.5`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Values per compared frame.
    pub fn dim(&self) -> usize {
        match &self.video {
            Some((_, modalities)) => modalities.dim(),
            None => self.audio.dim(),
        }
    }

    /// The distance the aligners compare frames with.
    pub fn distance(&self) -> Distance {
        match &self.video {
            Some((_, modalities)) => modalities.distance(),
            None => Distance::Cosine,
        }
    }

    /// How the compared rows lay out pitch (the audio's, which come first), for a
    /// transposition to be found and undone.
    pub fn pitch_layout(&self) -> Option<PitchLayout> {
        self.audio.pitch_layout()
    }

    /// The features of silence, which tell the follower when a performance has begun; `None`
    /// when video is compared too, as a live frame then also holds a picture that silence says
    /// nothing about.
    pub fn silence(&mut self) -> Result<Option<Vec<f32>>, FlowError> {
        if self.video.is_some() {
            return Ok(None);
        }
        Ok(Some(self.audio.silence()?))
    }

    /// The picture the video encoder takes, when video is compared.
    pub fn video_needs(&self) -> Option<VideoNeeds> {
        self.video.as_ref().map(|(encoder, _)| {
            let format = encoder.format();
            VideoNeeds {
                width: format.width as u32,
                height: format.height as u32,
                colour: format.layout == PixelLayout::Rgb,
            }
        })
    }

    /// A joiner of this run's audio and video frames, when video is compared.
    pub fn joiner(&self) -> Option<FrameJoiner> {
        self.video
            .as_ref()
            .map(|(encoder, modalities)| FrameJoiner::new(modalities.clone(), encoder.dim()))
    }
}

/// Joins audio frames with the newest video frame at or before each one's time.
#[derive(Debug, Clone)]
pub struct FrameJoiner {
    modalities: Modalities,
    video_dim: usize,
    latest: Vec<f32>,
    /// Video frames not yet reached by an audio frame, in time order.
    waiting: VecDeque<(u64, Vec<f32>)>,
}

impl FrameJoiner {
    fn new(modalities: Modalities, video_dim: usize) -> Self {
        Self {
            modalities,
            video_dim,
            latest: vec![0.0; video_dim],
            waiting: VecDeque::new(),
        }
    }

    /// Takes a video frame's features; frames come in time order.
    pub fn push_video(&mut self, time_ns: u64, values: Vec<f32>) -> Result<(), AlignError> {
        if values.len() != self.video_dim {
            return Err(AlignError::DimensionMismatch {
                expected: self.video_dim,
                actual: values.len(),
            });
        }
        self.waiting.push_back((time_ns, values));
        Ok(())
    }

    /// Appends to `out` the audio frame at `time_ns` joined with the newest video frame at or
    /// before it; audio frames come in time order.
    pub fn join(&mut self, time_ns: u64, audio: &[f32], out: &mut Vec<f32>) -> Result<(), AlignError> {
        while self.waiting.front().is_some_and(|&(time, _)| time <= time_ns) {
            if let Some((_, values)) = self.waiting.pop_front() {
                self.latest = values;
            }
        }
        self.modalities.combine(&[audio, &self.latest], out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joiner() -> FrameJoiner {
        let modalities = Modalities::new(vec![
            Modality {
                name: "audio".into(),
                dim: 2,
                weight: 1.0,
            },
            Modality {
                name: "video".into(),
                dim: 1,
                weight: 2.0,
            },
        ])
        .unwrap();
        FrameJoiner::new(modalities, 1)
    }

    #[test]
    fn only_the_long_low_bands_ask_more_evidence_of_an_assumed_start() {
        let fitted = |features| {
            let mut follower = FollowerConfig::default();
            fit_follower_to_features(&mut follower, features);
            follower.hypotheses
        };
        let lows = fitted(AudioFeatureKind::SemitoneFluxLows);
        assert_eq!(lows.unconfirmed_evidence_frames, 3.0 * lows.evidence_frames);
        for features in [
            AudioFeatureKind::SemitoneFlux,
            AudioFeatureKind::LogMelFlux,
            AudioFeatureKind::Chroma,
        ] {
            let hypotheses = fitted(features);
            assert_eq!(
                hypotheses.unconfirmed_evidence_frames, hypotheses.evidence_frames,
                "{features}"
            );
        }
    }

    #[test]
    fn audio_frames_take_the_newest_video_frame_before_them() {
        let mut joiner = joiner();
        let mut out = Vec::new();
        joiner.join(5, &[1.0, 0.0], &mut out).unwrap();
        assert_eq!(out[2], 0.0, "no video yet: zeros");
        joiner.push_video(10, vec![3.0]).unwrap();
        joiner.push_video(30, vec![-3.0]).unwrap();
        for (time, expected) in [(9, 0.0), (10, 1.0), (29, 1.0), (30, -1.0), (99, -1.0)] {
            out.clear();
            joiner.join(time, &[1.0, 0.0], &mut out).unwrap();
            // The video block is at unit length times sqrt(2 / 2).
            assert_eq!(out[2], expected, "at {time}");
        }
        assert!(joiner.push_video(40, vec![1.0, 2.0]).is_err());
    }
}
