//! The command line's schema: every command and option (clap), with the parsers that check each
//! value's form and range before anything starts. What the options then make is `jobs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use warpflow::align::{LagConfig, OltwConfig, RegionLagConfig, RelocatorConfig};
use warpflow::config::{load_cues, ConfigError, Cue, Pace, PipelineFile, SourceSpec};
use warpflow::encode::{AudioFeatureKind, DeviceChoice, SampleFormat, VideoFeature};
use warpflow::flow::{
    follow_seconds_in, is_reference_file, LocateJob, SyncJob, Transposition, VideoComparison, DEFAULT_PROGRESS_EVERY_NS,
};
use warpflow::media::SupervisionConfig;
use warpflow::serve::OutputFormat;

/// Streaming alignment of live audio and video.
#[derive(Debug, Parser)]
#[command(name = "warpflow", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Follow a live stream along a reference recording: position, tempo, confidence.
    Follow(FollowArgs),
    /// Measure the offset between the audio and the video of a live stream.
    Sync(SyncArgs),
    /// Find where a live snippet sits in one or more reference recordings.
    Locate(LocateArgs),
    /// Encode a reference recording once into a .wfr file, which follow then loads at once.
    EncodeRef(EncodeRefArgs),
    /// Serve the live page and one event feed, for runs started with --publish and for
    /// streams added while it runs ('warpflow streams add').
    Serve(ServeArgs),
    /// Add, list or remove the streams of a running 'warpflow serve'.
    Streams(StreamsArgs),
}

#[derive(Debug, Args)]
pub(super) struct StreamsArgs {
    /// The 'warpflow serve' to talk to, as HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8750")]
    pub(super) server: String,
    /// The server's token, if it was started with one.
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    pub(super) token: Option<String>,
    #[command(subcommand)]
    pub(super) action: StreamsAction,
}

#[derive(Debug, Subcommand)]
pub(super) enum StreamsAction {
    /// Start a stream; prints its description.
    Add(Box<AddStreamArgs>),
    /// List the streams with their state, counters and watermark.
    List,
    /// End a stream (its last events and eos are written); prints how it ended.
    Remove {
        /// The stream's id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct AddStreamArgs {
    /// The stream's id in its events (1 to 64 letters, digits, '-', '_' or '.').
    pub(super) id: String,
    /// What to do with it: sync or follow.
    #[arg(long, value_parser = ["sync", "follow"])]
    pub(super) job: String,
    /// The live source: a media file or URI as the server sees it, 'webcam' or 'test'.
    #[arg(long)]
    pub(super) source: String,
    /// follow: the reference, a .wfr file on the server's machine.
    #[arg(long)]
    pub(super) reference: Option<String>,
    /// follow: a cue file on the server's machine.
    #[arg(long)]
    pub(super) cues: Option<String>,
    /// realtime, or fast (files only: read as fast as the engine goes).
    #[arg(long)]
    pub(super) pace: Option<String>,
    /// Seconds of running time between progress events, as a run's option.
    #[arg(long)]
    pub(super) progress_interval_s: Option<f64>,
    /// sync: the largest |offset| searched, in ms (1 to 5000).
    #[arg(long)]
    pub(super) max_lag_ms: Option<u64>,
    /// sync: seconds of video each estimate looks at, as sync's option.
    #[arg(long)]
    pub(super) window_s: Option<f64>,
    /// sync: milliseconds between offset estimates, as sync's option.
    #[arg(long)]
    pub(super) emit_interval_ms: Option<u64>,
    /// follow: seconds of live audio the relocation search looks for (0 turns it off), as
    /// follow's option.
    #[arg(long)]
    pub(super) relocation_window_s: Option<f64>,
    /// follow: where in the reference the stream joins, in seconds, as follow's option.
    #[arg(long)]
    pub(super) join_at_s: Option<f64>,
    /// follow: a position every n-th live frame, as follow's option.
    #[arg(long)]
    pub(super) emit_every_frames: Option<u64>,
}

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address to listen on (give 0.0.0.0:PORT to be reached from other machines).
    #[arg(long, default_value = "127.0.0.1:8750")]
    pub(super) bind: std::net::SocketAddr,
    /// Every route but /healthz wants 'Authorization: Bearer TOKEN' or ?token=, publishers too
    /// (1 to 256 visible characters, no spaces).
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    pub(super) token: Option<String>,
    /// How the events of the streams it runs are written on stdout: jsonl or pretty.
    #[arg(long, default_value = "jsonl", value_parser = parse_output)]
    pub(super) format: OutputFormat,
    /// Worker threads the streams it runs are shared out to, by a hash of their ids (1 to
    /// 1024; default: one per core; in a cluster: per process, the same in every process).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub(super) workers: Option<u64>,
    #[command(flatten)]
    pub(super) cluster: ClusterArgs,
}

/// This process's place in a cluster (timely's -n, -p and -h).
#[derive(Debug, Args)]
pub(super) struct ClusterArgs {
    /// Processes of a cluster (timely's -n): each stream is held, and its events written, by
    /// the process whose worker its id hashes to.
    #[arg(short = 'n', long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub(super) processes: u64,
    /// This process's index in the cluster, from 0 (timely's -p).
    #[arg(short = 'p', long, default_value_t = 0)]
    pub(super) process: u64,
    /// The cluster's processes, one host:port per line in index order, for their own
    /// connections (timely's -h; here -h is help, as in every command).
    #[arg(long, value_name = "FILE", requires = "processes")]
    pub(super) hostfile: Option<PathBuf>,
}

/// Options every job has.
#[derive(Debug, Args)]
pub(super) struct CommonArgs {
    /// The live source: a file, a URI (file://, rtsp://, http(s)://), webcam[:/dev/videoN][?mic=alsa:hw:1],
    /// test[?av_offset_ms=80&fps=30&duration_s=20&…], or a launch line ending in appsinks
    /// named video and/or audio. Give it several times for several streams in one run.
    #[arg(long, value_name = "SOURCE", value_parser = parse_source, required_unless_present = "pipeline")]
    pub(super) live: Vec<SourceSpec>,
    /// A pipeline description (TOML, see pipelines/) naming streams and their sources (for
    /// follow, also each stream's reference and cues), instead of --live; every stream of the
    /// file runs.
    #[arg(long, visible_alias = "streams", value_name = "FILE.toml", value_parser = parse_pipeline, conflicts_with = "live")]
    pub(super) pipeline: Option<PipelineFile>,
    /// Timely workers (threads) the streams are shared out to, by a hash of their ids (in a
    /// cluster: per process).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(super) workers: u64,
    // In a cluster run every process is given the same streams.
    #[command(flatten)]
    pub(super) cluster: ClusterArgs,
    /// STREAM=PROCESS: in a cluster run, the process whose machine captures that stream's
    /// source (a camera on its USB port); the stream is still held, and its events written,
    /// by the worker its id hashes to. Give it once per pinned stream.
    #[arg(long, value_name = "STREAM=PROCESS", value_parser = parse_captured_by)]
    pub(super) captured_by: Vec<(String, usize)>,
    /// Pace of files and the test pattern: realtime (as if live) or fast (no drops).
    #[arg(long, default_value = "realtime", value_parser = parse_pace)]
    pub(super) pace: Pace,
    /// Where encoders run: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    pub(super) device: DeviceChoice,
    /// How events are written on stdout: jsonl (one JSON event per line) or pretty (for people).
    #[arg(long, default_value = "jsonl", value_parser = parse_output)]
    pub(super) format: OutputFormat,
    /// Name of the stream in events, once per --live in the same order (default: live0,
    /// live1, …, or the pipeline file's ids).
    #[arg(long)]
    pub(super) stream: Vec<String>,
    /// Seconds of running time between progress events (above 0, at most 3600).
    #[arg(long, default_value_t = DEFAULT_PROGRESS_EVERY_NS as f64 / 1e9, value_parser = |text: &str| seconds_within(text, 0.0, false, 3600.0))]
    pub(super) progress_interval_s: f64,
    /// Milliseconds input records (audio buffers, video frames) may wait to be encoded together
    /// in one batch, which keeps a GPU busy at the price of that much latency (0: whatever has
    /// arrived is encoded at once; at most 1000: a live event later than that is no longer live).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub(super) max_batch_wait_ms: u64,
    /// Records after which a waiting batch is encoded anyway (with --max-batch-wait-ms; 1 to
    /// 4096).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub(super) max_batch: u64,
    /// Seconds without data after which a live source (camera, network stream) is reported
    /// lost and rebuilt, with growing delays between attempts (above 0, at most 3600).
    #[arg(long, default_value_t = SupervisionConfig::default().stall_timeout.as_secs_f64(), value_parser = |text: &str| seconds_within(text, 0.0, false, 3600.0))]
    pub(super) stall_timeout_s: f64,
    /// Serve the events over WebSocket at ws://ADDR/events (e.g. 127.0.0.1:8750; give
    /// 0.0.0.0:PORT to be reached from other machines), with /healthz.
    #[arg(long, value_name = "ADDR")]
    pub(super) serve: Option<std::net::SocketAddr>,
    /// Push the events to a 'warpflow serve' at ws://HOST:PORT as well (give each run its own
    /// --stream); the run never waits on it, and a server that is away is retried.
    #[arg(long, value_name = "URL", value_parser = parse_publish_url)]
    pub(super) publish: Option<String>,
    /// With --serve: every route but /healthz wants 'Authorization: Bearer TOKEN' or ?token=.
    /// With --publish: the token of the 'warpflow serve' (1 to 256 visible characters, no
    /// spaces).
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    pub(super) token: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct SyncArgs {
    #[command(flatten)]
    pub(super) common: CommonArgs,
    /// Largest A/V offset searched, in ms (either sign); ±1 s covers what broadcast lip-sync
    /// checks look for. Flash-and-beep patterns, which repeat every second, are searched within
    /// half that period at most (1 to 5000).
    #[arg(long, default_value_t = RegionLagConfig::default().max_lag_ns / 1_000_000, value_parser = clap::value_parser!(u64).range(1..=5000))]
    pub(super) max_lag_ms: u64,
    /// Seconds of video each estimate looks at (above 0, at most 60).
    #[arg(long, default_value_t = LagConfig::default().window_ns as f64 / 1e9, value_parser = |text: &str| seconds_within(text, 0.0, false, 60.0))]
    pub(super) window_s: f64,
    /// Milliseconds of running time between offset estimates (1 to 60000).
    #[arg(long, default_value_t = SyncJob::DEFAULT_EMIT_EVERY_NS / 1_000_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub(super) emit_interval_ms: u64,
    /// A voice-activity model (FILE.pt with its contract FILE.toml; the set-up installs Silero
    /// VAD as ~/.cache/warpflow/models/silero_vad.jit): onsets in speech, which a face shows,
    /// then weigh more than music or off-screen noise.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    pub(super) speech_model: Option<PathBuf>,
    /// Weight of onsets the speech model hears no speech in (speech weighs 1).
    #[arg(long, default_value_t = LagConfig::default().non_speech_weight, value_parser = parse_unit_weight, requires = "speech_model")]
    pub(super) non_speech_weight: f32,
    /// A face (or mouth) detector (FILE.pt with its video contract FILE.toml, output_dim = 5):
    /// per picture [x, y, width, height, score], the box in fractions of the picture; the part of
    /// the picture that follows the sound is sought in the box, which offset events then carry.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    pub(super) face_model: Option<PathBuf>,
    /// A SyncNet-style pair of embedders (FILE.pt with methods embed_audio and embed_video, and
    /// its sync contract FILE.toml): where their embeddings agree over the lags replaces the
    /// correlation of the picture's blocks with the sound; it looks at the face model's box when
    /// there is one.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    pub(super) sync_model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct FollowArgs {
    /// The reference recording: a media file with audio, or a .wfr file made by encode-ref with
    /// the same --audio-features. Streams of a --pipeline file that name their own reference
    /// follow that instead.
    #[arg(long, value_name = "REF", value_parser = parse_existing_file, required_unless_present = "pipeline")]
    pub(super) reference: Option<PathBuf>,
    #[command(flatten)]
    pub(super) common: CommonArgs,
    /// Cues to announce as the live stream reaches them: WebVTT (.vtt), SubRip (.srt) or a
    /// JSON list of {"id", "ref_s"} (.json); times are reference times.
    #[arg(long, value_name = "FILE", value_parser = parse_cues)]
    pub(super) cues: Option<CueFile>,
    /// Features compared: semitone-flux (a band per semitone with its rise, which times note
    /// onsets: other singers, instruments and keys still look alike), semitone-flux-lows (the
    /// same, the bands below C4 from a 372 ms window that ends with the frame: low notes a
    /// semitone apart kept apart), logmel-flux (mel bands with their rise: coarser pitch, the
    /// same onsets), logmel (half the values) or chroma (pitch classes). Default: those a .wfr
    /// reference was made with, else semitone-flux-lows.
    #[arg(long, value_parser = parse_features)]
    pub(super) audio_features: Option<AudioFeatureKind>,
    /// A TorchScript audio model (FILE.pt with its contract FILE.toml beside it) whose output is
    /// compared instead of --audio-features; frame counts are given in frames of 20 ms, and
    /// every stretch of time the aligner weighs is kept whatever the model's frames.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    pub(super) audio_model: Option<PathBuf>,
    /// Video features compared beside the audio: thumbnail[:SIDE] (the picture's layout),
    /// motion[:GRID] (where it moves) or histogram[:BINS] (its grey levels); the reference and
    /// the live source then need video.
    #[arg(long, value_name = "FEATURE", value_parser = parse_video_features)]
    pub(super) video_features: Option<VideoFeature>,
    /// A TorchScript video model (FILE.pt with its contract FILE.toml) whose output is compared
    /// beside the audio instead of --video-features; frames are captured at its declared size.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file, conflicts_with = "video_features")]
    pub(super) video_model: Option<PathBuf>,
    /// Weight of the video's cost against the audio's 1 (with --video-features or --video-model;
    /// 0 to 100).
    #[arg(long, default_value_t = VideoComparison::DEFAULT_WEIGHT, value_parser = parse_weight)]
    pub(super) video_weight: f32,
    /// Run TorchScript models (--audio-model, --video-model) in half precision on CUDA: about
    /// twice the throughput, values to about 3 decimal digits (no effect on the CPU).
    #[arg(long)]
    pub(super) half: bool,
    /// Width of the aligner's search band, in frames of 20 ms (2 to 30000: ten minutes).
    #[arg(long, default_value_t = OltwConfig::default().band_frames as u64, value_parser = clap::value_parser!(u64).range(2..=30_000))]
    pub(super) band_frames: u64,
    /// How many steps in a row the aligner may advance one side alone (bounds the tempo; 1 to
    /// 100).
    #[arg(long, default_value_t = OltwConfig::default().max_run_count as u64, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(super) max_run_count: u64,
    /// Reference frames the aligner keeps computed ahead of its best match, so that provisional
    /// positions move on at a note onset as soon as the live stream reaches it (0 = Dixon's rule
    /// alone, which lets them catch up over the next frames; at most 1000).
    #[arg(long, default_value_t = OltwConfig::default().lookahead_frames as u64, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub(super) lookahead_frames: u64,
    #[command(flatten)]
    pub(super) transposition: TranspositionArgs,
    /// Seconds of recent live audio the relocation search looks for in the whole reference
    /// (after jumps, skips, repeats); 0 turns relocation off; at most 60.
    #[arg(long, default_value_t = follow_seconds_in(RelocatorConfig::default().query_frames), value_parser = |text: &str| seconds_within(text, 0.0, true, 60.0))]
    pub(super) relocation_window_s: f64,
    /// Where in the reference the live stream joins, in seconds, for a performance already
    /// under way. Without it a late join is found by relocation, which cannot tell verses on
    /// the same music apart until they part ways; with it the stream is placed at once, and
    /// relocation still corrects a wrong guess. Default: the reference's start.
    #[arg(long, value_parser = |text: &str| seconds_within(text, 0.0, true, 86_400.0))]
    pub(super) join_at_s: Option<f64>,
    /// Emit a position for every n-th live frame (1 = every 20 ms; at most 3000, a minute).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=3000))]
    pub(super) emit_every_frames: u64,
}

/// Whether the live stream's key is estimated and undone. By default it is wherever the
/// features lay out pitch (semitone-flux, chroma).
#[derive(Debug, Args)]
pub(super) struct TranspositionArgs {
    /// Insist on estimating the live stream's key against the reference's and undoing it
    /// (refused with features that do not lay out pitch). Without either flag the key is
    /// estimated wherever the features allow.
    #[arg(long, conflicts_with = "no_transposition")]
    pub(super) transposition: bool,
    /// Compare the live stream in the key it comes in.
    #[arg(long)]
    pub(super) no_transposition: bool,
}

impl TranspositionArgs {
    pub(super) fn choice(&self) -> Transposition {
        match (self.transposition, self.no_transposition) {
            (true, _) => Transposition::Required,
            (_, true) => Transposition::Off,
            _ => Transposition::Auto,
        }
    }
}

#[derive(Debug, Args)]
pub(super) struct EncodeRefArgs {
    /// The reference recording: a media file with audio.
    #[arg(value_name = "REF", value_parser = parse_existing_file)]
    pub(super) reference: PathBuf,
    /// The reference file to write (its name must end in .wfr).
    #[arg(short = 'o', long = "output", value_name = "OUT.wfr", value_parser = parse_wfr_path)]
    pub(super) output: PathBuf,
    /// Features, as follow's --audio-features: semitone-flux, semitone-flux-lows, logmel-flux,
    /// logmel or chroma.
    #[arg(long, default_value_t = AudioFeatureKind::default(), value_parser = parse_features)]
    pub(super) audio_features: AudioFeatureKind,
    /// A TorchScript audio model, as follow's --audio-model.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    pub(super) audio_model: Option<PathBuf>,
    /// Video features, as follow's --video-features (the reference then needs video).
    #[arg(long, value_name = "FEATURE", value_parser = parse_video_features)]
    pub(super) video_features: Option<VideoFeature>,
    /// A TorchScript video model, as follow's --video-model.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file, conflicts_with = "video_features")]
    pub(super) video_model: Option<PathBuf>,
    /// Weight of the video's cost, as follow's --video-weight.
    #[arg(long, default_value_t = VideoComparison::DEFAULT_WEIGHT, value_parser = parse_weight)]
    pub(super) video_weight: f32,
    /// Models in half precision on CUDA, as follow's --half.
    #[arg(long)]
    pub(super) half: bool,
    /// How values are stored: f32 (exact), f16 (half the size) or int8 (a quarter).
    #[arg(long, default_value = "f32", value_parser = parse_sample_format)]
    pub(super) sample_format: SampleFormat,
    /// Where the encoder runs: auto, cpu or cuda[:N].
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    pub(super) device: DeviceChoice,
}

#[derive(Debug, Args)]
pub(super) struct LocateArgs {
    /// A reference recording (a media file with audio); give the option once per reference.
    #[arg(long = "reference", value_name = "REF", required = true, value_parser = parse_existing_file)]
    pub(super) references: Vec<PathBuf>,
    #[command(flatten)]
    pub(super) common: CommonArgs,
    /// Features compared: semitone-flux, semitone-flux-lows or chroma (pitch laid out: a
    /// snippet is found by its pitch classes' coarse statistics, which hear the piece rather
    /// than its performers, in any key), logmel-flux or logmel (searched as they are).
    #[arg(long, default_value_t = LocateJob::DEFAULT_FEATURES, value_parser = parse_features)]
    pub(super) audio_features: AudioFeatureKind,
    /// Seconds of the most recent live audio searched for (above 0, at most 600).
    #[arg(long, default_value_t = LocateJob::DEFAULT_MAX_QUERY_S, value_parser = |text: &str| seconds_within(text, 0.0, false, 600.0))]
    pub(super) max_query_s: f64,
    #[command(flatten)]
    pub(super) transposition: TranspositionArgs,
}

/// The cues of a `--cues` file, read when the command line is.
#[derive(Debug, Clone)]
pub(super) struct CueFile(pub(super) Vec<Cue>);

pub(super) fn parse_cues(text: &str) -> Result<CueFile, ConfigError> {
    load_cues(std::path::Path::new(text)).map(CueFile)
}

pub(super) fn parse_source(text: &str) -> Result<SourceSpec, ConfigError> {
    text.parse()
}

pub(super) fn parse_pipeline(text: &str) -> Result<PipelineFile, ConfigError> {
    PipelineFile::load(std::path::Path::new(text))
}

pub(super) fn parse_captured_by(text: &str) -> Result<(String, usize), String> {
    match text.rsplit_once('=') {
        Some((stream, process)) if !stream.is_empty() => match process.parse::<usize>() {
            Ok(process) => Ok((stream.to_owned(), process)),
            Err(_) => Err(format!(
                "'{process}' is not a process index; expected STREAM=PROCESS, e.g. desk=1"
            )),
        },
        _ => Err(format!("'{text}' is not STREAM=PROCESS, e.g. desk=1")),
    }
}

pub(super) fn parse_pace(text: &str) -> Result<Pace, ConfigError> {
    text.parse()
}

pub(super) fn parse_video_features(text: &str) -> Result<VideoFeature, warpflow::encode::EncodeError> {
    text.parse()
}

pub(super) fn parse_weight(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(weight) if (0.0..=100.0).contains(&weight) => Ok(weight),
        _ => Err(format!("'{text}' is not a weight; expected a number from 0 to 100")),
    }
}

pub(super) fn parse_unit_weight(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(weight) if (0.0..=1.0).contains(&weight) => Ok(weight),
        _ => Err(format!("'{text}' is not a weight between 0 and 1")),
    }
}

pub(super) fn parse_device(text: &str) -> Result<DeviceChoice, warpflow::encode::EncodeError> {
    text.parse()
}

pub(super) fn parse_output(text: &str) -> Result<OutputFormat, ConfigError> {
    text.parse()
}

pub(super) fn parse_features(text: &str) -> Result<AudioFeatureKind, warpflow::encode::EncodeError> {
    text.parse()
}

pub(super) fn parse_sample_format(text: &str) -> Result<SampleFormat, warpflow::encode::ReferenceFileError> {
    text.parse()
}

pub(super) fn parse_wfr_path(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if is_reference_file(&path) {
        Ok(path)
    } else {
        Err(format!(
            "'{text}' does not end in .wfr, which follow needs to know it for a reference file"
        ))
    }
}

/// A `warpflow serve` to publish to: `ws://HOST[:PORT]` or `wss://…`.
pub(super) fn parse_publish_url(text: &str) -> Result<String, String> {
    let host = text.strip_prefix("ws://").or_else(|| text.strip_prefix("wss://"));
    match host {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.chars().any(|c| c.is_whitespace()) => {
            Ok(text.to_owned())
        }
        _ => Err(format!("'{text}' is not a ws://HOST:PORT (or wss://) address")),
    }
}

/// A token: an empty one would let anyone in with an empty `?token=`, and one with spaces or
/// control characters cannot travel in a bearer header.
pub(super) fn parse_token(text: &str) -> Result<String, String> {
    if (1..=256).contains(&text.len()) && text.chars().all(|c| c.is_ascii_graphic()) {
        Ok(text.to_owned())
    } else {
        Err("a token is 1 to 256 visible ASCII characters, without spaces".to_owned())
    }
}

/// Seconds above `least` (or equal to it, when `least_allowed`) and at most `most`.
pub(super) fn seconds_within(text: &str, least: f64, least_allowed: bool, most: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (seconds > least || (least_allowed && seconds == least)) && seconds <= most => Ok(seconds),
        _ => Err(format!(
            "'{text}' is not a number of seconds {} {least} and at most {most}",
            if least_allowed { "from" } else { "above" }
        )),
    }
}

pub(super) fn parse_existing_file(text: &str) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(text);
    if path.is_file() {
        Ok(path)
    } else {
        Err(ConfigError::MissingFile {
            path,
            expected: "a media file with audio",
        })
    }
}
