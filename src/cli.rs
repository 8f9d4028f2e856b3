//! Command-line arguments (clap) and their translation into jobs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use warpflow::align::{FollowerConfig, LagConfig, OffsetTrackerConfig, OltwConfig, RegionLagConfig, RelocatorConfig};
use warpflow::config::{load_cues, ConfigError, Cue, Pace, PipelineFile, PipelineStream, SourceSpec};
use warpflow::encode::{AudioFeatureKind, DeviceChoice, SampleFormat, VideoFeature};
use warpflow::engine_metrics::EngineMetrics;
use warpflow::events::EventWriter;
use warpflow::flow::operators::Batching;
use warpflow::flow::{
    follow_audio_encoder, follow_audio_features, follow_frames_in, is_reference_file, run_follow, run_locate,
    run_streams, run_streams_in_cluster, run_sync, write_reference_file, ClusterPart, FlowError, FollowEncoders,
    FollowJob, LocateJob, StopSignal, StreamJob, SyncJob, Transposition, VideoComparison, VideoSource,
};
use warpflow::media::SupervisionConfig;
use warpflow::serve::feed::{CueMark, FeedPublisher, FeedServer, FeedSettings, FeedWriter, RunDescription};
use warpflow::serve::{event_writer, OutputFormat};

/// Streaming alignment of live audio and video.
#[derive(Debug, Parser)]
#[command(name = "warpflow", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow a live stream along a reference recording: position, tempo, confidence.
    Follow(FollowArgs),
    /// Measure the offset between the audio and the video of a live stream.
    Sync(SyncArgs),
    /// Find where a live snippet sits in one or more reference recordings.
    Locate(LocateArgs),
    /// Encode a reference recording once into a .wfr file, which follow then loads at once.
    EncodeRef(EncodeRefArgs),
    /// Serve the live page and one event feed for several runs started with --publish.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (give 0.0.0.0:PORT to be reached from other machines).
    #[arg(long, default_value = "127.0.0.1:8750")]
    bind: std::net::SocketAddr,
    /// Every route but /healthz wants 'Authorization: Bearer TOKEN' or ?token=, publishers too
    /// (1 to 256 visible characters, no spaces).
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    token: Option<String>,
}

/// One stream of a run: where it comes from, its name in events, and (from a pipeline file)
/// what `follow` follows it along.
struct NamedStream {
    source: SourceSpec,
    name: String,
    reference: Option<PathBuf>,
    cues: Option<Vec<Cue>>,
    /// The process that captures it in a cluster run, if it is pinned to one.
    captured_by: Option<usize>,
}

/// Options every job has.
#[derive(Debug, Args)]
struct CommonArgs {
    /// The live source: a file, a URI (file://, rtsp://, http(s)://), webcam[:/dev/videoN][?mic=alsa:hw:1],
    /// test[?av_offset_ms=80&fps=30&duration_s=20&…], or a launch line ending in appsinks
    /// named video and/or audio. Give it several times for several streams in one run.
    #[arg(long, value_name = "SOURCE", value_parser = parse_source, required_unless_present = "pipeline")]
    live: Vec<SourceSpec>,
    /// A pipeline description (TOML, see pipelines/) naming streams and their sources (for
    /// follow, also each stream's reference and cues), instead of --live; every stream of the
    /// file runs.
    #[arg(long, visible_alias = "streams", value_name = "FILE.toml", value_parser = parse_pipeline, conflicts_with = "live")]
    pipeline: Option<PipelineFile>,
    /// Timely workers (threads) the streams are shared out to, by a hash of their ids (in a
    /// cluster: per process).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    workers: u64,
    /// Processes of a cluster run (timely's -n); each process is given the same streams and
    /// holds those that hash to its workers.
    #[arg(short = 'n', long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    processes: u64,
    /// This process's index in the cluster, from 0 (timely's -p).
    #[arg(short = 'p', long, default_value_t = 0)]
    process: u64,
    /// The cluster's processes, one host:port per line in index order (timely's -h; here -h
    /// is help, as in every command).
    #[arg(long, value_name = "FILE", requires = "processes")]
    hostfile: Option<PathBuf>,
    /// STREAM=PROCESS: in a cluster run, the process whose machine captures that stream's
    /// source (a camera on its USB port); the stream is still held, and its events written,
    /// by the worker its id hashes to. Give it once per pinned stream.
    #[arg(long, value_name = "STREAM=PROCESS", value_parser = parse_captured_by)]
    captured_by: Vec<(String, usize)>,
    /// Pace of files and the test pattern: realtime (as if live) or fast (no drops).
    #[arg(long, default_value = "realtime", value_parser = parse_pace)]
    pace: Pace,
    /// Where encoders run: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    device: DeviceChoice,
    /// How events are written on stdout: jsonl (one JSON event per line) or pretty (for people).
    #[arg(long, default_value = "jsonl", value_parser = parse_output)]
    format: OutputFormat,
    /// Name of the stream in events, once per --live in the same order (default: live0,
    /// live1, …, or the pipeline file's ids).
    #[arg(long)]
    stream: Vec<String>,
    /// Seconds of running time between progress events (above 0, at most 3600).
    #[arg(long, default_value_t = 1.0, value_parser = |text: &str| seconds_within(text, 0.0, false, 3600.0))]
    progress_interval_s: f64,
    /// Milliseconds input records (audio buffers, video frames) may wait to be encoded together
    /// in one batch, which keeps a GPU busy at the price of that much latency (0: whatever has
    /// arrived is encoded at once; at most 1000: a live event later than that is no longer live).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
    max_batch_wait_ms: u64,
    /// Records after which a waiting batch is encoded anyway (with --max-batch-wait-ms; 1 to
    /// 4096).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_batch: u64,
    /// Seconds without data after which a live source (camera, network stream) is reported
    /// lost and rebuilt, with growing delays between attempts (above 0, at most 3600).
    #[arg(long, default_value_t = 5.0, value_parser = |text: &str| seconds_within(text, 0.0, false, 3600.0))]
    stall_timeout_s: f64,
    /// Serve the events over WebSocket at ws://ADDR/events (e.g. 127.0.0.1:8750; give
    /// 0.0.0.0:PORT to be reached from other machines), with /healthz.
    #[arg(long, value_name = "ADDR")]
    serve: Option<std::net::SocketAddr>,
    /// Push the events to a 'warpflow serve' at ws://HOST:PORT as well (give each run its own
    /// --stream); the run never waits on it, and a server that is away is retried.
    #[arg(long, value_name = "URL", value_parser = parse_publish_url)]
    publish: Option<String>,
    /// With --serve: every route but /healthz wants 'Authorization: Bearer TOKEN' or ?token=.
    /// With --publish: the token of the 'warpflow serve' (1 to 256 visible characters, no
    /// spaces).
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    token: Option<String>,
}

impl CommonArgs {
    fn batching(&self) -> Batching {
        Batching {
            max_records: self.max_batch as usize,
            max_wait: std::time::Duration::from_millis(self.max_batch_wait_ms),
        }
    }

    /// Standard output's writer, publishing to the feed too when --serve asks for one; `run`
    /// is what the feed's page is told about the run, `engine` what the engine measures.
    fn output(
        &self,
        run: RunDescription,
        engine: Arc<EngineMetrics>,
    ) -> Result<(Box<dyn EventWriter + Send>, Option<FeedServer>)> {
        if self.token.is_some() && self.serve.is_none() && self.publish.is_none() {
            anyhow::bail!("--token goes with --serve or --publish");
        }
        let mut writer = event_writer(self.format, self.pace == Pace::Realtime);
        if let Some(url) = &self.publish {
            writer = Box::new(FeedPublisher::start(writer, url, self.token.clone(), &run)?);
        }
        let Some(bind) = self.serve else {
            return Ok((writer, None));
        };
        let settings = FeedSettings {
            run,
            engine,
            ..FeedSettings::new(bind, self.token.clone())
        };
        let server = FeedServer::start(settings).with_context(|| format!("cannot serve the event feed at {bind}"))?;
        eprintln!("warpflow: events at ws://{}/events", server.local_addr());
        eprintln!("warpflow: live page at http://{}/", server.local_addr());
        let writer: Box<dyn EventWriter + Send> = Box::new(FeedWriter::new(writer, server.hub()));
        Ok((writer, Some(server)))
    }

    /// Each stream's source, name, and the reference and cues a pipeline file gives it.
    fn streams(&self) -> Result<Vec<NamedStream>> {
        let named: Vec<(SourceSpec, Option<&PipelineStream>)> = match &self.pipeline {
            Some(file) => file.streams.iter().map(|s| (s.source.clone(), Some(s))).collect(),
            None => self.live.iter().map(|source| (source.clone(), None)).collect(),
        };
        if named.is_empty() {
            anyhow::bail!("no source: give --live SOURCE or --pipeline FILE.toml");
        }
        if self.stream.len() > named.len() {
            return Err(bad_value(
                "--stream",
                self.stream.join(", "),
                "at most one --stream per --live, in the same order",
            ));
        }
        let streams: Vec<NamedStream> = named
            .into_iter()
            .enumerate()
            .map(|(index, (source, described))| {
                let name = self.stream.get(index).cloned().or(described.map(|s| s.id.clone()));
                let name = name.unwrap_or_else(|| format!("live{index}"));
                let pinned = self.captured_by.iter().find(|(stream, _)| *stream == name);
                NamedStream {
                    source,
                    captured_by: pinned
                        .map(|(_, process)| *process)
                        .or(described.and_then(|s| s.captured_by)),
                    name,
                    reference: described.and_then(|s| s.reference.clone()),
                    cues: described.and_then(|s| s.cues.clone()),
                }
            })
            .collect();
        if let Some((stream, _)) = self
            .captured_by
            .iter()
            .find(|(stream, _)| !streams.iter().any(|s| s.name == *stream))
        {
            return Err(bad_value(
                "--captured-by",
                stream.clone(),
                "the name of a stream of the run (--stream or the pipeline file's ids)",
            ));
        }
        if let Some(stream) = streams
            .iter()
            .find(|s| s.captured_by.is_some_and(|process| process as u64 >= self.processes))
        {
            return Err(bad_value(
                "--captured-by",
                format!("{}={}", stream.name, stream.captured_by.unwrap_or_default()),
                "a process of the run: below -n",
            ));
        }
        for (index, stream) in streams.iter().enumerate() {
            // A name goes into one-line summaries, logs and URLs: no line breaks in it.
            if stream.name.is_empty() || stream.name.chars().count() > 128 || stream.name.chars().any(char::is_control)
            {
                return Err(bad_value(
                    "--stream",
                    stream.name.escape_debug().to_string(),
                    "a name of 1 to 128 characters without line breaks or other control characters",
                ));
            }
            if streams[..index].iter().any(|other| other.name == stream.name) {
                return Err(bad_value(
                    "--stream",
                    stream.name.clone(),
                    "a name of its own for each stream",
                ));
            }
        }
        Ok(streams)
    }

    /// This process's part of a cluster run, when -n asks for one.
    fn cluster_part(&self) -> Result<Option<ClusterPart>> {
        if self.processes == 1 {
            return Ok(None);
        }
        let Some(hostfile) = &self.hostfile else {
            return Err(bad_value(
                "-n",
                self.processes.to_string(),
                "-h HOSTFILE too: one host:port per process",
            ));
        };
        let text = std::fs::read_to_string(hostfile).map_err(|e| {
            bad_value(
                "-h",
                format!("{} ({e})", hostfile.display()),
                "a readable hostfile of host:port lines",
            )
        })?;
        let addresses: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        if addresses.len() != self.processes as usize || self.process >= self.processes {
            return Err(bad_value(
                "the hostfile",
                format!(
                    "{} ({} addresses, -n {}, -p {})",
                    hostfile.display(),
                    addresses.len(),
                    self.processes,
                    self.process
                ),
                "one host:port line per process, and -p below -n",
            ));
        }
        Ok(Some(ClusterPart {
            threads: self.workers as usize,
            process: self.process as usize,
            addresses,
        }))
    }

    /// The one stream of a command that takes one.
    fn source_and_stream(&self) -> Result<(SourceSpec, String)> {
        let mut streams = self.streams()?;
        match (streams.pop(), streams.is_empty()) {
            (Some(stream), true) => Ok((stream.source, stream.name)),
            (_, _) => Err(bad_value(
                "the number of streams",
                (streams.len() + 1).to_string(),
                "one for this command: give --live once",
            )),
        }
    }

    fn supervision(&self) -> SupervisionConfig {
        SupervisionConfig {
            stall_timeout: std::time::Duration::from_secs_f64(self.stall_timeout_s),
            ..SupervisionConfig::default()
        }
    }
}

#[derive(Debug, Args)]
struct SyncArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Largest A/V offset searched, in ms (either sign); ±1 s covers what broadcast lip-sync
    /// checks look for. Flash-and-beep patterns, which repeat every second, are searched within
    /// half that period at most (1 to 5000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=5000))]
    max_lag_ms: u64,
    /// Seconds of video each estimate looks at (above 0, at most 60).
    #[arg(long, default_value_t = 4.0, value_parser = |text: &str| seconds_within(text, 0.0, false, 60.0))]
    window_s: f64,
    /// Milliseconds of running time between offset estimates (1 to 60000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    emit_interval_ms: u64,
    /// A voice-activity model (FILE.pt with its contract FILE.toml; the set-up installs Silero
    /// VAD as ~/.cache/warpflow/models/silero_vad.jit): onsets in speech, which a face shows,
    /// then weigh more than music or off-screen noise.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    speech_model: Option<PathBuf>,
    /// Weight of onsets the speech model hears no speech in (speech weighs 1).
    #[arg(long, default_value_t = 0.25, value_parser = parse_unit_weight, requires = "speech_model")]
    non_speech_weight: f32,
    /// A face (or mouth) detector (FILE.pt with its video contract FILE.toml, output_dim = 5):
    /// per picture [x, y, width, height, score], the box in fractions of the picture; the part of
    /// the picture that follows the sound is sought in the box, which offset events then carry.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    face_model: Option<PathBuf>,
    /// A SyncNet-style pair of embedders (FILE.pt with methods embed_audio and embed_video, and
    /// its sync contract FILE.toml): where their embeddings agree over the lags replaces the
    /// correlation of the picture's blocks with the sound; it looks at the face model's box when
    /// there is one.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    sync_model: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct FollowArgs {
    /// The reference recording: a media file with audio, or a .wfr file made by encode-ref with
    /// the same --audio-features. Streams of a --pipeline file that name their own reference
    /// follow that instead.
    #[arg(long, value_name = "REF", value_parser = parse_existing_file, required_unless_present = "pipeline")]
    reference: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
    /// Cues to announce as the live stream reaches them: WebVTT (.vtt), SubRip (.srt) or a
    /// JSON list of {"id", "ref_s"} (.json); times are reference times.
    #[arg(long, value_name = "FILE", value_parser = parse_cues)]
    cues: Option<CueFile>,
    /// Features compared: semitone-flux (a band per semitone with its rise, which times note
    /// onsets: other singers, instruments and keys still look alike), logmel-flux (mel bands
    /// with their rise: coarser pitch, the same onsets), logmel (half the values) or chroma
    /// (pitch classes). Default: those a .wfr reference was made with, else semitone-flux.
    #[arg(long, value_parser = parse_features)]
    audio_features: Option<AudioFeatureKind>,
    /// A TorchScript audio model (FILE.pt with its contract FILE.toml beside it) whose output is
    /// compared instead of --audio-features; frame counts stay in frames of 20 ms.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    audio_model: Option<PathBuf>,
    /// Video features compared beside the audio: thumbnail[:SIDE] (the picture's layout),
    /// motion[:GRID] (where it moves) or histogram[:BINS] (its grey levels); the reference and
    /// the live source then need video.
    #[arg(long, value_name = "FEATURE", value_parser = parse_video_features)]
    video_features: Option<VideoFeature>,
    /// A TorchScript video model (FILE.pt with its contract FILE.toml) whose output is compared
    /// beside the audio instead of --video-features; frames are captured at its declared size.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file, conflicts_with = "video_features")]
    video_model: Option<PathBuf>,
    /// Weight of the video's cost against the audio's 1 (with --video-features or --video-model;
    /// 0 to 100).
    #[arg(long, default_value_t = 1.0, value_parser = parse_weight)]
    video_weight: f32,
    /// Run TorchScript models (--audio-model, --video-model) in half precision on CUDA: about
    /// twice the throughput, values to about 3 decimal digits (no effect on the CPU).
    #[arg(long)]
    half: bool,
    /// Width of the aligner's search band, in frames of 20 ms (2 to 30000: ten minutes).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(2..=30_000))]
    band_frames: u64,
    /// How many steps in a row the aligner may advance one side alone (bounds the tempo; 1 to
    /// 100).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    max_run_count: u64,
    /// Reference frames the aligner keeps computed ahead of its best match, so that provisional
    /// positions move on at a note onset as soon as the live stream reaches it (0 = Dixon's rule
    /// alone, which lets them catch up over the next frames; at most 1000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=1000))]
    lookahead_frames: u64,
    #[command(flatten)]
    transposition: TranspositionArgs,
    /// Seconds of recent live audio the relocation search looks for in the whole reference
    /// (after jumps, skips, repeats); 0 turns relocation off; at most 60.
    #[arg(long, default_value_t = 3.0, value_parser = |text: &str| seconds_within(text, 0.0, true, 60.0))]
    relocation_window_s: f64,
    /// Emit a position for every n-th live frame (1 = every 20 ms; at most 3000, a minute).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=3000))]
    emit_every_frames: u64,
}

/// Whether the live stream's key is estimated and undone. By default it is wherever the
/// features lay out pitch (semitone-flux, chroma).
#[derive(Debug, Args)]
struct TranspositionArgs {
    /// Insist on estimating the live stream's key against the reference's and undoing it
    /// (refused with features that do not lay out pitch). Without either flag the key is
    /// estimated wherever the features allow.
    #[arg(long, conflicts_with = "no_transposition")]
    transposition: bool,
    /// Compare the live stream in the key it comes in.
    #[arg(long)]
    no_transposition: bool,
}

impl TranspositionArgs {
    fn choice(&self) -> Transposition {
        match (self.transposition, self.no_transposition) {
            (true, _) => Transposition::Required,
            (_, true) => Transposition::Off,
            _ => Transposition::Auto,
        }
    }
}

#[derive(Debug, Args)]
struct EncodeRefArgs {
    /// The reference recording: a media file with audio.
    #[arg(value_name = "REF", value_parser = parse_existing_file)]
    reference: PathBuf,
    /// The reference file to write (its name must end in .wfr).
    #[arg(short = 'o', long = "output", value_name = "OUT.wfr", value_parser = parse_wfr_path)]
    output: PathBuf,
    /// Features, as follow's --audio-features: semitone-flux, logmel-flux, logmel or chroma.
    #[arg(long, default_value = "semitone-flux", value_parser = parse_features)]
    audio_features: AudioFeatureKind,
    /// A TorchScript audio model, as follow's --audio-model.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file)]
    audio_model: Option<PathBuf>,
    /// Video features, as follow's --video-features (the reference then needs video).
    #[arg(long, value_name = "FEATURE", value_parser = parse_video_features)]
    video_features: Option<VideoFeature>,
    /// A TorchScript video model, as follow's --video-model.
    #[arg(long, value_name = "FILE.pt", value_parser = parse_existing_file, conflicts_with = "video_features")]
    video_model: Option<PathBuf>,
    /// Weight of the video's cost, as follow's --video-weight.
    #[arg(long, default_value_t = 1.0, value_parser = parse_weight)]
    video_weight: f32,
    /// Models in half precision on CUDA, as follow's --half.
    #[arg(long)]
    half: bool,
    /// How values are stored: f32 (exact), f16 (half the size) or int8 (a quarter).
    #[arg(long, default_value = "f32", value_parser = parse_sample_format)]
    sample_format: SampleFormat,
    /// Where the encoder runs: auto, cpu or cuda[:N].
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    device: DeviceChoice,
}

#[derive(Debug, Args)]
struct LocateArgs {
    /// A reference recording (a media file with audio); give the option once per reference.
    #[arg(long = "reference", value_name = "REF", required = true, value_parser = parse_existing_file)]
    references: Vec<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
    /// Features compared: chroma (pitch classes: another performance of the same piece looks
    /// alike, whoever sings or plays it), semitone-flux, logmel-flux or logmel.
    #[arg(long, default_value = "chroma", value_parser = parse_features)]
    audio_features: AudioFeatureKind,
    /// Seconds of the most recent live audio searched for (above 0, at most 600).
    #[arg(long, default_value_t = 30.0, value_parser = |text: &str| seconds_within(text, 0.0, false, 600.0))]
    max_query_s: f64,
    #[command(flatten)]
    transposition: TranspositionArgs,
}

/// Runs the streams' jobs together (across the cluster, when `common` describes one); the
/// first stream to fail fails the run (the others' failures are printed), after every stream
/// has ended.
fn run_many(jobs: Vec<StreamJob>, writer: Box<dyn EventWriter + Send>, common: &CommonArgs) -> Result<()> {
    let outcomes = match common.cluster_part()? {
        Some(part) => run_streams_in_cluster(jobs, writer, part)?,
        None => run_streams(jobs, writer, common.workers as usize),
    };
    let mut failed = outcomes
        .into_iter()
        .filter_map(|outcome| outcome.result.err().map(|error| (outcome.stream, error)));
    let first = failed.next();
    for (stream, error) in failed {
        eprintln!("warpflow: stream '{stream}' failed: {error}");
    }
    match first {
        Some((stream, error)) => Err(anyhow::Error::from(error).context(format!("stream '{stream}'"))),
        None => Ok(()),
    }
}

/// A command-line value refused as bad input (exit code 2).
/// The reference `stream` follows: its own from the pipeline file, else --reference.
fn follow_reference(stream: &NamedStream, reference: Option<&PathBuf>) -> Result<PathBuf> {
    stream.reference.clone().or_else(|| reference.cloned()).ok_or_else(|| {
        bad_value(
            "--reference",
            format!("none for stream '{}'", stream.name),
            "--reference REF, or a reference for every stream of the --pipeline file",
        )
    })
}

fn bad_value(name: &'static str, value: String, expected: &'static str) -> anyhow::Error {
    FlowError::from(ConfigError::BadValue { name, value, expected }).into()
}

/// How long the feed's clients have, once the run is over, to read its last events and take
/// the normal close; within the 2 s a run has to end after a signal.
const FEED_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Ends the feed (when there is one): its clients read the run's last events and a close.
fn end_feed(feed: Option<FeedServer>) {
    if let Some(feed) = feed {
        feed.finish(FEED_CLOSE_GRACE);
    }
}

/// The cues of a `--cues` file, read when the command line is.
#[derive(Debug, Clone)]
struct CueFile(Vec<Cue>);

fn parse_cues(text: &str) -> Result<CueFile, ConfigError> {
    load_cues(std::path::Path::new(text)).map(CueFile)
}

fn parse_source(text: &str) -> Result<SourceSpec, ConfigError> {
    text.parse()
}

fn parse_pipeline(text: &str) -> Result<PipelineFile, ConfigError> {
    PipelineFile::load(std::path::Path::new(text))
}

fn parse_captured_by(text: &str) -> Result<(String, usize), String> {
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

fn parse_pace(text: &str) -> Result<Pace, ConfigError> {
    text.parse()
}

fn parse_video_features(text: &str) -> Result<VideoFeature, warpflow::encode::EncodeError> {
    text.parse()
}

fn parse_weight(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(weight) if (0.0..=100.0).contains(&weight) => Ok(weight),
        _ => Err(format!("'{text}' is not a weight; expected a number from 0 to 100")),
    }
}

fn parse_unit_weight(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(weight) if (0.0..=1.0).contains(&weight) => Ok(weight),
        _ => Err(format!("'{text}' is not a weight between 0 and 1")),
    }
}

/// What of the picture `follow` compares, from the options (which clap keeps from naming both).
fn video_comparison(features: Option<VideoFeature>, model: Option<PathBuf>, weight: f32) -> Option<VideoComparison> {
    let source = match (model, features) {
        (Some(path), _) => VideoSource::Model(path),
        (None, Some(feature)) => VideoSource::Features(feature),
        (None, None) => return None,
    };
    Some(VideoComparison { source, weight })
}

fn parse_device(text: &str) -> Result<DeviceChoice, warpflow::encode::EncodeError> {
    text.parse()
}

fn parse_output(text: &str) -> Result<OutputFormat, ConfigError> {
    text.parse()
}

fn parse_features(text: &str) -> Result<AudioFeatureKind, warpflow::encode::EncodeError> {
    text.parse()
}

fn parse_sample_format(text: &str) -> Result<SampleFormat, warpflow::encode::ReferenceFileError> {
    text.parse()
}

fn parse_wfr_path(text: &str) -> Result<PathBuf, String> {
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
fn parse_publish_url(text: &str) -> Result<String, String> {
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
fn parse_token(text: &str) -> Result<String, String> {
    if (1..=256).contains(&text.len()) && text.chars().all(|c| c.is_ascii_graphic()) {
        Ok(text.to_owned())
    } else {
        Err("a token is 1 to 256 visible ASCII characters, without spaces".to_owned())
    }
}

/// Seconds above `least` (or equal to it, when `least_allowed`) and at most `most`.
fn seconds_within(text: &str, least: f64, least_allowed: bool, most: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (seconds > least || (least_allowed && seconds == least)) && seconds <= most => Ok(seconds),
        _ => Err(format!(
            "'{text}' is not a number of seconds {} {least} and at most {most}",
            if least_allowed { "from" } else { "above" }
        )),
    }
}

fn parse_existing_file(text: &str) -> Result<PathBuf, ConfigError> {
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

/// Relocation settings for a search window of `window_s` seconds.
fn relocation_config(window_s: f64) -> Option<RelocatorConfig> {
    let query_frames = follow_frames_in(window_s);
    (query_frames >= 2).then(|| RelocatorConfig {
        query_frames,
        ..RelocatorConfig::default()
    })
}

fn seconds_to_ns(seconds: f64) -> u64 {
    (seconds * 1e9).round() as u64
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(self, stop: StopSignal) -> Result<()> {
        if !matches!(self.command, Command::EncodeRef(_)) {
            warpflow::encode::encode_on_calling_threads();
        }
        match self.command {
            Command::Sync(args) => {
                let metrics = Arc::new(EngineMetrics::default());
                let (writer, feed) = args.common.output(RunDescription::new("sync"), metrics.clone())?;
                let batching = args.common.batching();
                let supervision = args.common.supervision();
                let streams = args.common.streams()?;
                let first = &streams[0];
                let job = SyncJob {
                    batching,
                    supervision,
                    source: first.source.clone(),
                    pace: args.common.pace,
                    device: args.common.device,
                    stream: first.name.clone(),
                    captured_by: first.captured_by,
                    speech_model: args.speech_model,
                    face_model: args.face_model,
                    sync_model: args.sync_model,
                    lag: LagConfig {
                        max_lag_ns: (args.max_lag_ms * 1_000_000).min(LagConfig::default().max_lag_ns),
                        window_ns: seconds_to_ns(args.window_s),
                        non_speech_weight: args.non_speech_weight,
                        ..LagConfig::default()
                    },
                    region: RegionLagConfig {
                        max_lag_ns: args.max_lag_ms * 1_000_000,
                        ..RegionLagConfig::default()
                    },
                    tracker: OffsetTrackerConfig::default(),
                    emit_every_ns: args.emit_interval_ms.max(1) * 1_000_000,
                    progress_every_ns: seconds_to_ns(args.common.progress_interval_s),
                    stop,
                    metrics,
                };
                if streams.len() == 1 && args.common.processes == 1 {
                    run_sync(job, writer)?;
                } else {
                    let jobs = streams.into_iter().map(|stream| {
                        StreamJob::Sync(Box::new(SyncJob {
                            source: stream.source,
                            stream: stream.name,
                            captured_by: stream.captured_by,
                            ..job.clone()
                        }))
                    });
                    run_many(jobs.collect(), writer, &args.common)?;
                }
                end_feed(feed);
            }
            Command::Follow(args) => {
                let cues = args.cues.as_ref().map(|file| file.0.as_slice()).unwrap_or_default();
                let run = RunDescription {
                    cues: cues
                        .iter()
                        .map(|cue| CueMark {
                            id: cue.id.clone(),
                            ref_ns: cue.ref_ns,
                        })
                        .collect(),
                    ..RunDescription::new("follow")
                };
                let metrics = Arc::new(EngineMetrics::default());
                let (writer, feed) = args.common.output(run, metrics.clone())?;
                let batching = args.common.batching();
                let supervision = args.common.supervision();
                let streams = args.common.streams()?;
                let first = &streams[0];
                let reference = follow_reference(first, args.reference.as_ref())?;
                let job = FollowJob {
                    features: follow_audio_features(args.audio_features, &reference)?,
                    reference,
                    live: first.source.clone(),
                    pace: args.common.pace,
                    device: args.common.device,
                    batching,
                    supervision,
                    half_precision: args.half,
                    audio_model: args.audio_model,
                    video: video_comparison(args.video_features, args.video_model, args.video_weight),
                    follower: FollowerConfig {
                        oltw: OltwConfig {
                            band_frames: args.band_frames as usize,
                            max_run_count: args.max_run_count as usize,
                            lookahead_frames: args.lookahead_frames as usize,
                            ..OltwConfig::default()
                        },
                        relocation: relocation_config(args.relocation_window_s),
                        ..FollowerConfig::default()
                    },
                    transposition: args.transposition.choice(),
                    emit_every_frames: args.emit_every_frames as usize,
                    cues: first
                        .cues
                        .clone()
                        .or_else(|| args.cues.as_ref().map(|file| file.0.clone()))
                        .unwrap_or_default(),
                    stream: first.name.clone(),
                    captured_by: first.captured_by,
                    progress_every_ns: seconds_to_ns(args.common.progress_interval_s),
                    stop,
                    metrics,
                };
                if streams.len() == 1 && args.common.processes == 1 {
                    run_follow(job, writer)?;
                } else {
                    let mut jobs = Vec::with_capacity(streams.len());
                    for stream in streams {
                        let reference = follow_reference(&stream, args.reference.as_ref())?;
                        jobs.push(StreamJob::Follow(Box::new(FollowJob {
                            features: follow_audio_features(args.audio_features, &reference)?,
                            reference,
                            cues: stream
                                .cues
                                .or_else(|| args.cues.as_ref().map(|file| file.0.clone()))
                                .unwrap_or_default(),
                            live: stream.source,
                            stream: stream.name,
                            captured_by: stream.captured_by,
                            ..job.clone()
                        })));
                    }
                    run_many(jobs, writer, &args.common)?;
                }
                end_feed(feed);
            }
            Command::EncodeRef(args) => {
                let started = std::time::Instant::now();
                let device = args.device.resolve().map_err(FlowError::from)?;
                let audio = follow_audio_encoder(args.audio_features, args.audio_model.as_deref(), device, args.half)?;
                let video = video_comparison(args.video_features, args.video_model, args.video_weight);
                let mut encoders = FollowEncoders::new(audio, video, args.half)?;
                let progress = indicatif::ProgressBar::new(0).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:40}] {percent:>3}% {elapsed_precise} (eta {eta_precise})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                progress.set_message(format!("encoding {}", args.reference.display()));
                let file = write_reference_file(
                    &args.reference,
                    &args.output,
                    &mut encoders,
                    args.sample_format,
                    |done_ns, total_ns| {
                        if let Some(total_ns) = total_ns {
                            progress.set_length(total_ns / 1_000_000);
                        }
                        progress.set_position(done_ns / 1_000_000);
                    },
                );
                progress.finish_and_clear();
                let file = file?;
                let bytes = std::fs::metadata(&args.output).map(|m| m.len()).unwrap_or(0);
                eprintln!(
                    "encode-ref: {} s of {} as {} frames of {} {} values ({:?}), {} bytes, in {:.1} s",
                    file.duration_ns as f64 / 1e9,
                    args.reference.display(),
                    file.features.len(),
                    file.features.dim(),
                    file.encoder,
                    file.format,
                    bytes,
                    started.elapsed().as_secs_f64()
                );
                eprintln!("encode-ref: wrote {}", args.output.display());
            }
            Command::Serve(args) => {
                let settings = FeedSettings {
                    accept_publishers: true,
                    ..FeedSettings::new(args.bind, args.token)
                };
                let server = FeedServer::start(settings).with_context(|| format!("cannot serve at {}", args.bind))?;
                let addr = server.local_addr();
                eprintln!("warpflow: live page at http://{addr}/");
                eprintln!("warpflow: events at ws://{addr}/events");
                eprintln!("warpflow: runs publish with --publish ws://{addr}");
                while !stop.is_requested() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                server.finish(FEED_CLOSE_GRACE);
            }
            Command::Locate(args) => {
                let metrics = Arc::new(EngineMetrics::default());
                let (writer, feed) = args.common.output(RunDescription::new("locate"), metrics.clone())?;
                let batching = args.common.batching();
                let supervision = args.common.supervision();
                let (source, stream) = args.common.source_and_stream()?;
                let job = LocateJob {
                    references: args.references,
                    live: source.clone(),
                    pace: args.common.pace,
                    device: args.common.device,
                    features: args.audio_features,
                    batching,
                    supervision,
                    max_query_frames: follow_frames_in(args.max_query_s).max(1),
                    transposition: args.transposition.choice(),
                    stream: stream.clone(),
                    progress_every_ns: seconds_to_ns(args.common.progress_interval_s),
                    stop,
                    metrics,
                };
                run_locate(job, writer)?;
                end_feed(feed);
            }
        }
        Ok(())
    }
}
