//! The `sync` job: the A/V offset of one live stream.
//!
//! ```text
//! audio ─┬─ log-mel bands (5 ms hop, shared encoder) ─ flux ─┐
//!        ├─ level (5 ms hop) ─────────────────────────────────┤
//!        └─ [speech probability, 32 ms windows] ─────────────┼─ estimate offset ─ write events
//! video ─ brightening and block brightness (per frame) ──────┘
//! ```
//!
//! The offset comes from flashes against beeps (onsets against brightening) or from the region
//! of the picture whose brightness follows the loudness of the sound, whichever is surer (see
//! [`crate::align::AvSyncEstimator`]).
//!
//! Audio, video and the source's health enter on the worker that captures the stream and
//! cross to the one that holds it through an exchange pact (see [`crate::flow::placement`]).
//!
//! With a voice-activity model (`--speech-model`, e.g. Silero VAD), onsets in speech weigh more
//! than those in music or noise, which the picture does not show.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concat, Exchange, Input};
use timely::worker::Worker;

use crate::align::{
    AvSyncEstimator, BlockGrid, EmbeddingLagConfig, LagConfig, OffsetTracker, OffsetTrackerConfig, RegionLagConfig,
};
use crate::config::{Pace, SourceSpec};
use crate::encode::{
    AudioEncoder, AudioFrameParams, AudioFramer, AudioModel, ChannelOrder, DeviceChoice, EncodeError, Filterbank,
    LogBands, ModelContract, ModelMisfit, PictureChange, SpectralFlux, SyncModel, SyncModelContract,
    TorchScriptEncoder, VideoEncoder, VideoModel,
};
use crate::engine_metrics::EngineMetrics;
use crate::events::{EventWriter, RunKind, RunSummary};
use crate::media::{AudioChunk, AudioNeeds, CaptureStats, MediaNeeds, SupervisionConfig, VideoFrame, VideoNeeds};

use super::DEFAULT_PROGRESS_EVERY_NS;
use crate::flow::driver::{local_worker, open_capture, BuiltStream, StreamInputs};
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::follow_features::model_settings;
use crate::flow::held::{held_stage, held_writer};
use crate::flow::ingest::health_events;
use crate::flow::offset_estimation::{restart_at, OffsetEstimation};
use crate::flow::operators::{
    AudioStage, Batching, EncodeBatches, EncodePooled, EstimateOffset, EventSink, PooledStage, SyncEncoding,
    WriteEvents,
};
use crate::flow::placement::StreamSite;
use crate::flow::stages::{
    bands_stage, embedding_stage, flux_stage, level_stage, picture_stage, speech_stage, SpeechDetector, SyncVideo,
};
use crate::flow::{AudioEvidence, FailureSlot, FlowError, StatusRecord, StopSignal, FACE_OUTPUTS};

/// Framing of the onset envelope: 16 ms windows every 5 ms at 16 kHz, fine enough to time an
/// onset well inside one video frame.
const ONSET_FRAMES: AudioFrameParams = AudioFrameParams {
    rate_hz: 16_000,
    frame_len: 256,
    hop_len: 80,
    history_len: 0,
};
/// Mel bands of the onset envelope.
const ONSET_MELS: usize = 40;
/// Picture size the estimators read: brightness changes need no detail, and a mouth at the
/// size of a face in a shot of the head and shoulders still spans a block of the grid.
const CHANGE_PICTURE: VideoNeeds = VideoNeeds {
    width: 64,
    height: 48,
    colour: false,
};
/// The blocks of the picture the region estimator compares with the sound: 4×4 pixels of
/// [`CHANGE_PICTURE`] each.
pub const SYNC_GRID: BlockGrid = BlockGrid { columns: 16, rows: 12 };

/// Settings of a `sync` run.
#[derive(Debug, Clone)]
pub struct SyncJob {
    /// The live source.
    pub source: SourceSpec,
    /// Pace of a non-live source.
    pub pace: Pace,
    /// Where the encoders run.
    pub device: DeviceChoice,
    /// The stream's name in events.
    pub stream: String,
    /// The process of a cluster run that captures the source (`--captured-by`), when the
    /// stream is pinned to one; else the process that holds the stream captures it.
    pub captured_by: Option<usize>,
    /// How the encoders gather batches.
    pub batching: Batching,
    /// How a live source is supervised (stall timeout, retry delays).
    pub supervision: SupervisionConfig,
    /// A voice-activity model (FILE.pt with its contract): one probability of speech per
    /// window of 16 kHz audio, by which onsets are weighted.
    pub speech_model: Option<PathBuf>,
    /// A face (or mouth) detector (FILE.pt with its video contract): five values per picture,
    /// `[x, y, width, height, score]`, the box in fractions of the picture and the model's
    /// score in [0, 1]; the region of the picture that follows the sound is then sought in the
    /// box. The capture delivers pictures at the model's size and channels.
    pub face_model: Option<PathBuf>,
    /// A SyncNet-style pair of embedders (FILE.pt with its sync contract): the agreement of its
    /// audio and video embeddings over the lags replaces the region's correlation. It looks at
    /// the face model's box when there is one, else at the whole picture.
    pub sync_model: Option<PathBuf>,
    /// Settings of the estimator from flashes and beeps.
    pub lag: LagConfig,
    /// Settings of the estimator from the region of the picture that follows the sound.
    pub region: RegionLagConfig,
    /// Settings of the offset tracker (smoothing, drift, lock).
    pub tracker: OffsetTrackerConfig,
    /// Running time between offset estimates.
    pub emit_every_ns: u64,
    /// Running time between progress events.
    pub progress_every_ns: u64,
    /// Ends the run early and cleanly when requested.
    pub stop: StopSignal,
    /// Where the engine records its timings and queue depths (for `GET /metrics`).
    pub metrics: Arc<EngineMetrics>,
}

impl SyncJob {
    /// Running time between offset estimates unless told otherwise: twice a second, so a
    /// monitor's reading follows a change within about a second while each estimate still
    /// looks at a whole window.
    pub const DEFAULT_EMIT_EVERY_NS: u64 = 500_000_000;

    /// A job measuring the offset of `source`, its events named `stream`, with every other
    /// setting at its default: paced as if live, encoders where [`DeviceChoice::Auto`] puts
    /// them, no models, the estimators' and tracker's own defaults (a 4 s window, ±1 s
    /// searched), an estimate every [`Self::DEFAULT_EMIT_EVERY_NS`] and progress every
    /// [`DEFAULT_PROGRESS_EVERY_NS`]. The command line and the `avalign` element start from it.
    pub fn new(source: SourceSpec, stream: impl Into<String>) -> Self {
        Self {
            source,
            pace: Pace::Realtime,
            device: DeviceChoice::Auto,
            stream: stream.into(),
            captured_by: None,
            batching: Batching::default(),
            supervision: SupervisionConfig::default(),
            speech_model: None,
            face_model: None,
            sync_model: None,
            lag: LagConfig::default(),
            region: RegionLagConfig::default(),
            tracker: OffsetTrackerConfig::default(),
            emit_every_ns: Self::DEFAULT_EMIT_EVERY_NS,
            progress_every_ns: DEFAULT_PROGRESS_EVERY_NS,
            stop: StopSignal::default(),
            metrics: Arc::default(),
        }
    }
}

/// Runs `job`, writing its events to `writer`; returns the run's summary.
pub fn run_sync(job: SyncJob, writer: Box<dyn EventWriter + Send>) -> Result<RunSummary, FlowError> {
    let mut worker = local_worker();
    let pools = EncoderPools::default();
    build_sync(&mut worker, StreamSite::alone(), &pools, &job, writer)?.run_alone(&mut worker, &pools)
}

/// The holder's encoding stages: audio to log-mel bands at the worker's shared encoder and
/// their flux, audio to its level and to the probability of speech, pictures to their
/// brightening and block brightness.
struct SyncStages<F, L, S, E, V> {
    bands: PooledStage<AudioFramer, f32>,
    flux: F,
    level: L,
    speech: Option<S>,
    embeddings: Option<E>,
    video: V,
}

/// Adds `job`'s graph to `worker` as `at` says: the capture where the stream is captured, the
/// encoders (the log-mel bands at a seat in `pools`), the estimator and the sink where it is
/// held.
pub(crate) fn build_sync(
    worker: &mut Worker,
    at: StreamSite,
    pools: &EncoderPools,
    job: &SyncJob,
    writer: Box<dyn EventWriter + Send>,
) -> Result<BuiltStream, FlowError> {
    let role = at.role;
    let (estimator, tracker) = sync_estimation(job)?;
    let stages = match role.holds {
        true => {
            let SyncEncoders {
                bands,
                speech,
                sync_model,
                face,
                change,
            } = sync_encoders(job)?;
            let seat = pools.seat(bands, job.batching, &job.metrics, &job.stream, "OnsetBands");
            Some(SyncStages {
                bands: PooledStage {
                    framing: AudioFramer::new(ONSET_FRAMES)?,
                    seat,
                    per_stream: None,
                },
                flux: flux_stage(SpectralFlux::default()),
                level: level_stage(AudioFramer::new(ONSET_FRAMES)?),
                speech: speech.map(speech_stage),
                embeddings: sync_model
                    .clone()
                    .map(|model| {
                        AudioFramer::new(model.contract().audio_params()).map(|framer| embedding_stage(framer, model))
                    })
                    .transpose()?,
                video: picture_stage(
                    change,
                    face,
                    sync_model.map(|model| SyncVideo {
                        model,
                        recent: VecDeque::new(),
                    }),
                    job.metrics.clone(),
                    job.stream.clone(),
                ),
            })
        }
        false => None,
    };
    let (bands_stage, flux_stage, level_stage, speech_stage, embedding_stage, video_stage) = match stages {
        Some(SyncStages {
            bands,
            flux,
            level,
            speech,
            embeddings,
            video,
        }) => (Some(bands), Some(flux), Some(level), speech, embeddings, Some(video)),
        None => (None, None, None, None, None, None),
    };
    // Only the capturer opens the source: on another machine it may not exist.
    let opened = match role.captures {
        true => Some(open_capture(&job.source, sync_needs(job)?, job.pace, job.supervision)?),
        false => None,
    };

    let failures = FailureSlot::default();
    let stats = CaptureStats::default();
    let sink = Rc::new(RefCell::new(EventSink::new(
        held_writer(role, writer),
        RunKind::Sync,
        job.stream.clone(),
        stats.clone(),
        None,
        job.progress_every_ns,
    )));
    let holder = at.holder as u64;
    let (audio_in, video_in, status_in) = worker.dataflow::<u64, _, _>(|scope| {
        let (audio_in, audio) = scope.new_input::<Vec<AudioChunk>>();
        let (video_in, video) = scope.new_input::<Vec<VideoFrame>>();
        let (status_in, status) = scope.new_input::<Vec<StatusRecord>>();
        let health = health_events(status.exchange(move |_| holder), stats);
        let restarts = health
            .clone()
            .flat_map(|event| restart_at(&event.body).map(|time_ns| AudioEvidence::Restart { time_ns }));
        let audio = audio.exchange(move |_| holder);
        let mut audio_envelope = audio
            .clone()
            .encode_pooled("OnsetBands", bands_stage, failures.clone())
            .encode_batches_with(
                "OnsetFlux",
                failures.clone(),
                Batching::default(),
                job.metrics.encoder(&job.stream, "OnsetFlux"),
                held_stage(flux_stage, "OnsetFlux"),
            )
            .concat(restarts);
        let levels = audio.clone().encode_batches_with(
            "AudioLevel",
            failures.clone(),
            Batching::default(),
            job.metrics.encoder(&job.stream, "AudioLevel"),
            held_stage(level_stage, "AudioLevel"),
        );
        audio_envelope = audio_envelope.concat(levels);
        // Every worker builds the model branches the job has, so that their dataflows stay
        // alike.
        if job.sync_model.is_some() {
            let embeddings = audio.clone().encode_batches_with(
                "AudioEmbedding",
                failures.clone(),
                job.batching,
                job.metrics.encoder(&job.stream, "AudioEmbedding"),
                held_stage(embedding_stage, "AudioEmbedding"),
            );
            audio_envelope = audio_envelope.concat(embeddings);
        }
        if job.speech_model.is_some() {
            let speech = audio.encode_batches_with(
                "SpeechProbability",
                failures.clone(),
                job.batching,
                job.metrics.encoder(&job.stream, "SpeechProbability"),
                held_stage(speech_stage, "SpeechProbability"),
            );
            audio_envelope = audio_envelope.concat(speech);
        }
        let pictures = video.exchange(move |_| holder).encode_batches_with(
            "PictureChange",
            failures.clone(),
            job.batching,
            job.metrics.encoder(&job.stream, "PictureChange"),
            held_stage(video_stage, "PictureChange"),
        );
        audio_envelope
            .estimate_offset(
                pictures,
                estimator,
                tracker,
                job.emit_every_ns,
                job.stream.clone(),
                job.metrics.aligner(&job.stream, "offset"),
            )
            .concat(health)
            .write_events(sink.clone(), failures.clone());
        (audio_in, video_in, status_in)
    });
    // Dropping the inputs of a worker that does not capture closes them at once.
    let inputs = StreamInputs {
        audio: audio_in,
        video: Some(video_in),
        status: status_in,
    };
    let feed = opened.map(|opened| opened.into_feed(inputs, &job.stream, &failures, &job.metrics, &job.stop));
    Ok(BuiltStream {
        feed,
        sink: role.holds.then_some(sink),
        failures,
    })
}

/// The encoders of a stream's holder: the log-mel bands of its onsets, and those the job's
/// models and picture need.
pub(crate) struct SyncEncoders {
    /// Log-mel bands for the onset envelope.
    pub bands: Box<dyn AudioEncoder>,
    /// The voice-activity model, if the job has one.
    pub speech: Option<SpeechDetector>,
    /// The sync model's pair of embedders, if the job has one.
    pub sync_model: Option<Rc<SyncModel>>,
    /// The face detector, if the job has one.
    pub face: Option<Box<dyn VideoEncoder>>,
    /// The pictures' brightening and block brightness.
    pub change: PictureChange,
}

/// Loads what the holder of `job`'s stream encodes with, on the job's device.
pub(crate) fn sync_encoders(job: &SyncJob) -> Result<SyncEncoders, FlowError> {
    let device = job.device.resolve()?;
    let bands: Box<dyn AudioEncoder> = Box::new(LogBands::new(
        Filterbank::Mel { bands: ONSET_MELS },
        ONSET_FRAMES,
        device,
    )?);
    let speech = job
        .speech_model
        .as_deref()
        .map(|path| speech_detector(path, device))
        .transpose()?;
    let sync_model = job
        .sync_model
        .as_deref()
        .map(|path| SyncModel::load(path, device).map(Rc::new))
        .transpose()?;
    let face = job
        .face_model
        .as_deref()
        .map(|path| face_detector(path, device))
        .transpose()?;
    let change = PictureChange::new(
        device,
        CHANGE_PICTURE.width as usize,
        CHANGE_PICTURE.height as usize,
        SYNC_GRID.columns,
        SYNC_GRID.rows,
    )?;
    Ok(SyncEncoders {
        bands,
        speech,
        sync_model,
        face,
        change,
    })
}

/// What a stream of a dataflow many `sync` streams share is measured with: its encoders as
/// stages of its own (the log-mel bands included: no pool to share them through) and its
/// offset estimation.
pub(crate) fn sync_stream_parts(job: &SyncJob) -> Result<(SyncEncoding, OffsetEstimation), FlowError> {
    let (estimator, tracker) = sync_estimation(job)?;
    let SyncEncoders {
        bands,
        speech,
        sync_model,
        face,
        change,
    } = sync_encoders(job)?;
    let mut audio: Vec<AudioStage> = vec![Box::new(level_stage(AudioFramer::new(ONSET_FRAMES)?))];
    if let Some(speech) = speech {
        audio.push(Box::new(speech_stage(speech)));
    }
    if let Some(model) = sync_model.clone() {
        let framer = AudioFramer::new(model.contract().audio_params())?;
        audio.push(Box::new(embedding_stage(framer, model)));
    }
    let sync_video = sync_model.map(|model| SyncVideo {
        model,
        recent: VecDeque::new(),
    });
    let encoding = SyncEncoding {
        bands: Box::new(bands_stage(AudioFramer::new(ONSET_FRAMES)?, bands)),
        flux: Box::new(flux_stage(SpectralFlux::default())),
        audio,
        pictures: Box::new(picture_stage(
            change,
            face,
            sync_video,
            job.metrics.clone(),
            job.stream.clone(),
        )),
    };
    let metrics = job.metrics.aligner(&job.stream, "offset");
    let estimation = OffsetEstimation::new(estimator, tracker, job.emit_every_ns, job.stream.clone(), metrics);
    Ok((encoding, estimation))
}

/// The offset estimator `job` asks for (with the sync model's agreement in place of the
/// region's correlation, when it has one) and its tracker.
pub(crate) fn sync_estimation(job: &SyncJob) -> Result<(AvSyncEstimator, OffsetTracker), FlowError> {
    let mut estimator = AvSyncEstimator::new(job.lag.clone(), job.region.clone(), SYNC_GRID)?;
    if let Some(path) = job.sync_model.as_deref() {
        let contract = SyncModelContract::read_for(path)?;
        if contract.sample_rate_hz != ONSET_FRAMES.rate_hz {
            return Err(EncodeError::ModelMisfit {
                model: path.to_path_buf(),
                misfit: ModelMisfit::SyncRate {
                    rate_hz: contract.sample_rate_hz,
                    expected_rate_hz: ONSET_FRAMES.rate_hz,
                },
            }
            .into());
        }
        let config = EmbeddingLagConfig {
            max_lag_ns: job.region.max_lag_ns,
            sure_margin: contract
                .sure_margin
                .unwrap_or(EmbeddingLagConfig::default().sure_margin),
            ..EmbeddingLagConfig::default()
        };
        estimator = estimator.with_embeddings(config, contract.output_dim)?;
    }
    Ok((estimator, OffsetTracker::new(job.tracker.clone())?))
}

/// The media `job`'s capture delivers: audio at the onset envelope's rate, and pictures as
/// [`picture_needs`] says.
pub(crate) fn sync_needs(job: &SyncJob) -> Result<MediaNeeds, FlowError> {
    Ok(MediaNeeds {
        audio: Some(AudioNeeds {
            rate_hz: ONSET_FRAMES.rate_hz,
        }),
        video: Some(picture_needs(job.face_model.as_deref(), job.sync_model.as_deref())?),
    })
}

/// The pictures the capture delivers: what the face model at `face_model` takes, else what the
/// sync model at `sync_model` takes, else the estimators' own picture.
fn picture_needs(face_model: Option<&Path>, sync_model: Option<&Path>) -> Result<VideoNeeds, FlowError> {
    let Some(path) = face_model else {
        return match sync_model {
            Some(path) => {
                let contract = SyncModelContract::read_for(path)?;
                Ok(VideoNeeds {
                    width: contract.width as u32,
                    height: contract.height as u32,
                    colour: contract.channels != ChannelOrder::Gray,
                })
            }
            None => Ok(CHANGE_PICTURE),
        };
    };
    match ModelContract::read_for(path)? {
        ModelContract::Video {
            width,
            height,
            channels,
            ..
        } => Ok(VideoNeeds {
            width: width as u32,
            height: height as u32,
            colour: channels != ChannelOrder::Gray,
        }),
        ModelContract::Audio { .. } => Err(EncodeError::ModelMisfit {
            model: path.to_path_buf(),
            misfit: ModelMisfit::OtherInput {
                role: "a face model",
                declared: "audio",
                contract: ModelContract::path_for(path),
            },
        }
        .into()),
    }
}

/// Loads the face model at `path`, which must give five values per picture: a box and a score.
fn face_detector(path: &Path, device: tch::Device) -> Result<Box<dyn VideoEncoder>, FlowError> {
    let model = VideoModel::new(TorchScriptEncoder::load(path, model_settings(device, false))?, path)?;
    if model.dim() != FACE_OUTPUTS {
        return Err(EncodeError::ModelMisfit {
            model: path.to_path_buf(),
            misfit: ModelMisfit::FaceOutputs {
                expected: FACE_OUTPUTS,
                declared: model.dim(),
            },
        }
        .into());
    }
    Ok(Box::new(model))
}

/// Loads the voice-activity model at `path`, which must give one value per window of audio at
/// the rate `sync` captures.
fn speech_detector(path: &Path, device: tch::Device) -> Result<SpeechDetector, FlowError> {
    let model = AudioModel::new(TorchScriptEncoder::load(path, model_settings(device, false))?, path)?;
    let params = model.params();
    if model.dim() != 1 || params.rate_hz != ONSET_FRAMES.rate_hz {
        return Err(EncodeError::ModelMisfit {
            model: path.to_path_buf(),
            misfit: ModelMisfit::SpeechShape {
                output_dim: model.dim(),
                rate_hz: params.rate_hz,
                expected_rate_hz: ONSET_FRAMES.rate_hz,
            },
        }
        .into());
    }
    Ok(SpeechDetector {
        framer: AudioFramer::new(params)?,
        model: Box::new(model),
    })
}
