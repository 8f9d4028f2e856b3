//! From parsed arguments to running jobs: each command's options become a job of the library,
//! its event writer (standard output, the feed) and its run; the command's outcome is the run's.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use warpflow::align::{FollowerConfig, LagConfig, OltwConfig, RegionLagConfig};
use warpflow::config::{ConfigError, Cue, Pace, PipelineStream, SourceSpec};
use warpflow::encode::VideoFeature;
use warpflow::engine_metrics::EngineMetrics;
use warpflow::events::{EventWriter, StreamControl};
use warpflow::flow::operators::Batching;
use warpflow::flow::{
    follow_audio_encoder, follow_frames_in, relocation_for_window_s, run_follow, run_locate, run_streams,
    run_streams_in_cluster, run_sync, write_reference_file, ClusterPart, ClusteredService, FlowError, FollowEncoders,
    FollowJob, LocateJob, StopSignal, StreamJob, StreamService, SyncJob, VideoComparison, VideoSource,
};
use warpflow::media::SupervisionConfig;
use warpflow::serve::feed::{CueMark, FeedPublisher, FeedServer, FeedSettings, FeedWriter, RunDescription};
use warpflow::serve::{event_writer, TerminalProgress};

use super::args::{Cli, ClusterArgs, Command, CommonArgs, FollowArgs, LocateArgs, SyncArgs};
use super::reference_bar::reference_bar;

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

impl CommonArgs {
    /// Without a wait, whatever has arrived is encoded at once, whatever `--max-batch` says.
    fn batching(&self) -> Batching {
        match self.max_batch_wait_ms {
            0 => Batching::default(),
            wait_ms => Batching {
                max_records: self.max_batch as usize,
                max_wait: std::time::Duration::from_millis(wait_ms),
            },
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
        // Files read faster than real time with the events sent elsewhere: show how far it got.
        {
            use std::io::IsTerminal;
            if self.pace == Pace::Fast && std::io::stderr().is_terminal() && !std::io::stdout().is_terminal() {
                writer = Box::new(TerminalProgress::on_stderr(writer, &format!("{} reading", run.command)));
            }
        }
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
        if let Some(stream) = streams.iter().find(|s| {
            s.captured_by
                .is_some_and(|process| process as u64 >= self.cluster.processes)
        }) {
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
        cluster_part(&self.cluster, self.workers as usize)
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

impl SyncArgs {
    /// The job of one stream of a `sync` run: the library's defaults, changed where the
    /// options say.
    fn job(&self, stream: &NamedStream, stop: &StopSignal, metrics: &Arc<EngineMetrics>) -> SyncJob {
        let defaults = SyncJob::new(stream.source.clone(), stream.name.clone());
        SyncJob {
            pace: self.common.pace,
            device: self.common.device,
            captured_by: stream.captured_by,
            batching: self.common.batching(),
            supervision: self.common.supervision(),
            speech_model: self.speech_model.clone(),
            face_model: self.face_model.clone(),
            sync_model: self.sync_model.clone(),
            lag: LagConfig {
                // Flash-and-beep patterns repeat every second: their search stays within half
                // that period, however wide the region's.
                max_lag_ns: (self.max_lag_ms * 1_000_000).min(defaults.lag.max_lag_ns),
                window_ns: seconds_to_ns(self.window_s),
                non_speech_weight: self.non_speech_weight,
                ..defaults.lag
            },
            region: RegionLagConfig {
                max_lag_ns: self.max_lag_ms * 1_000_000,
                ..defaults.region
            },
            emit_every_ns: self.emit_interval_ms.max(1) * 1_000_000,
            progress_every_ns: seconds_to_ns(self.common.progress_interval_s),
            stop: stop.clone(),
            metrics: metrics.clone(),
            ..defaults
        }
    }
}

impl FollowArgs {
    /// The job of one stream of a `follow` run: the library's defaults for its reference,
    /// changed where the options (and the pipeline file's stream) say.
    fn job(&self, stream: &NamedStream, stop: &StopSignal, metrics: &Arc<EngineMetrics>) -> Result<FollowJob> {
        let reference = follow_reference(stream, self.reference.as_ref())?;
        let defaults = FollowJob::new(reference, stream.source.clone(), stream.name.clone())?;
        Ok(FollowJob {
            features: self.audio_features.unwrap_or(defaults.features),
            pace: self.common.pace,
            device: self.common.device,
            batching: self.common.batching(),
            supervision: self.common.supervision(),
            half_precision: self.half,
            audio_model: self.audio_model.clone(),
            video: video_comparison(self.video_features, self.video_model.clone(), self.video_weight),
            follower: FollowerConfig {
                oltw: OltwConfig {
                    band_frames: self.band_frames as usize,
                    max_run_count: self.max_run_count as usize,
                    lookahead_frames: self.lookahead_frames as usize,
                    ..defaults.follower.oltw
                },
                relocation: relocation_for_window_s(self.relocation_window_s),
                join_at_ref_frame: self.join_at_s.map(follow_frames_in),
                ..defaults.follower
            },
            transposition: self.transposition.choice(),
            emit_every_frames: self.emit_every_frames as usize,
            cues: stream
                .cues
                .clone()
                .or_else(|| self.cues.as_ref().map(|file| file.0.clone()))
                .unwrap_or_default(),
            captured_by: stream.captured_by,
            progress_every_ns: seconds_to_ns(self.common.progress_interval_s),
            reference_progress: reference_bar(),
            stop: stop.clone(),
            metrics: metrics.clone(),
            ..defaults
        })
    }
}

impl LocateArgs {
    /// The job of a `locate` run: the library's defaults, changed where the options say.
    fn job(&self, source: SourceSpec, stream: String, stop: StopSignal, metrics: Arc<EngineMetrics>) -> LocateJob {
        LocateJob {
            pace: self.common.pace,
            device: self.common.device,
            features: self.audio_features,
            batching: self.common.batching(),
            supervision: self.common.supervision(),
            max_query_frames: follow_frames_in(self.max_query_s).max(1),
            transposition: self.transposition.choice(),
            progress_every_ns: seconds_to_ns(self.common.progress_interval_s),
            reference_progress: reference_bar(),
            stop,
            metrics,
            ..LocateJob::new(self.references.clone(), source, stream)
        }
    }
}

/// This process's part of the cluster `cluster` describes, of `threads` workers in each
/// process; `None` for a run of one process.
fn cluster_part(cluster: &ClusterArgs, threads: usize) -> Result<Option<ClusterPart>> {
    let (processes, process) = (cluster.processes, cluster.process);
    if processes == 1 {
        return Ok(None);
    }
    let Some(hostfile) = cluster.hostfile.as_deref() else {
        return Err(bad_value(
            "-n",
            processes.to_string(),
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
    if addresses.len() != processes as usize || process >= processes {
        return Err(bad_value(
            "the hostfile",
            format!(
                "{} ({} addresses, -n {}, -p {})",
                hostfile.display(),
                addresses.len(),
                processes,
                process
            ),
            "one host:port line per process, and -p below -n",
        ));
    }
    Ok(Some(ClusterPart {
        threads,
        process: process as usize,
        addresses,
    }))
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

/// Relocation settings for a search window of `window_s` seconds.
fn seconds_to_ns(seconds: f64) -> u64 {
    (seconds * 1e9).round() as u64
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(self, stop: StopSignal) -> Result<()> {
        if !matches!(self.command, Command::EncodeRef(_) | Command::Streams(_)) {
            warpflow::encode::encode_on_calling_threads();
        }
        match self.command {
            Command::Sync(args) => {
                let metrics = Arc::new(EngineMetrics::default());
                let (writer, feed) = args.common.output(RunDescription::new("sync"), metrics.clone())?;
                let streams = args.common.streams()?;
                if streams.len() == 1 && args.common.cluster.processes == 1 {
                    run_sync(args.job(&streams[0], &stop, &metrics), writer)?;
                } else {
                    let jobs = streams
                        .iter()
                        .map(|stream| StreamJob::Sync(Box::new(args.job(stream, &stop, &metrics))));
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
                let streams = args.common.streams()?;
                if streams.len() == 1 && args.common.cluster.processes == 1 {
                    run_follow(args.job(&streams[0], &stop, &metrics)?, writer)?;
                } else {
                    let jobs = streams
                        .iter()
                        .map(|stream| {
                            args.job(stream, &stop, &metrics)
                                .map(|job| StreamJob::Follow(Box::new(job)))
                        })
                        .collect::<Result<Vec<_>>>()?;
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
                // The service's streams report to the feed's /metrics and /picture.
                let metrics = Arc::new(EngineMetrics::default());
                let settings = FeedSettings {
                    accept_publishers: true,
                    engine: metrics.clone(),
                    ..FeedSettings::new(args.bind, args.token)
                };
                let server = FeedServer::start(settings).with_context(|| format!("cannot serve at {}", args.bind))?;
                let addr = server.local_addr();
                let writer = Box::new(FeedWriter::new(event_writer(args.format, true), server.hub()));
                let workers = args.workers.map_or_else(
                    || std::thread::available_parallelism().map_or(1, usize::from),
                    |n| n as usize,
                );
                let (service, finish_service): (Arc<dyn StreamControl>, Box<dyn Fn()>) =
                    match cluster_part(&args.cluster, workers)? {
                        Some(part) => {
                            let service = Arc::new(ClusteredService::start(writer, metrics, part)?);
                            (service.clone(), Box::new(move || service.finish()))
                        }
                        None => {
                            let service = Arc::new(StreamService::start(writer, metrics, workers)?);
                            (service.clone(), Box::new(move || service.finish()))
                        }
                    };
                if server.serve_streams(service).is_err() {
                    anyhow::bail!("the feed at {addr} already serves streams");
                }
                eprintln!("warpflow: live page at http://{addr}/");
                eprintln!("warpflow: events at ws://{addr}/events");
                eprintln!("warpflow: runs publish with --publish ws://{addr}");
                eprintln!("warpflow: streams at http://{addr}/streams ('warpflow streams add' adds one)");
                while !stop.is_requested() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                finish_service();
                server.finish(FEED_CLOSE_GRACE);
            }
            Command::Streams(args) => args.run()?,
            Command::Locate(args) => {
                let metrics = Arc::new(EngineMetrics::default());
                let (writer, feed) = args.common.output(RunDescription::new("locate"), metrics.clone())?;
                let (source, stream) = args.common.source_and_stream()?;
                let job = args.job(source, stream, stop, metrics);
                run_locate(job, writer)?;
                end_feed(feed);
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parsed(words: &[&str]) -> Cli {
        Cli::try_parse_from(words).unwrap_or_else(|e| panic!("{words:?}: {e}"))
    }

    /// Every setting of a job, as Debug prints them (fresh stop signals and metrics registries
    /// print alike).
    fn described(job: &impl std::fmt::Debug) -> String {
        format!("{job:?}")
    }

    #[test]
    fn a_sync_command_line_without_options_is_the_librarys_default_job() {
        let Command::Sync(args) = parsed(&["warpflow", "sync", "--live", "test"]).command else {
            panic!("not sync");
        };
        let stream = &args.common.streams().expect("one stream")[0];
        let (stop, metrics) = (StopSignal::default(), Arc::default());
        let from_cli = args.job(stream, &stop, &metrics);
        let library = SyncJob::new(stream.source.clone(), "live0");
        assert_eq!(described(&from_cli), described(&library));
    }

    #[test]
    fn a_follow_command_line_without_options_is_the_librarys_default_job() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let reference = folder.path().join("reference.wav");
        std::fs::write(&reference, b"").expect("a writable folder");
        let reference = reference.to_str().expect("a UTF-8 path");
        let Command::Follow(args) = parsed(&["warpflow", "follow", "--reference", reference, "--live", "test"]).command
        else {
            panic!("not follow");
        };
        let stream = &args.common.streams().expect("one stream")[0];
        let (stop, metrics) = (StopSignal::default(), Arc::default());
        // Its references' progress is drawn only where standard error is a terminal.
        let from_cli = FollowJob {
            reference_progress: None,
            ..args.job(stream, &stop, &metrics).expect("a job")
        };
        let library = FollowJob::new(reference, stream.source.clone(), "live0").expect("a job");
        assert_eq!(described(&from_cli), described(&library));
    }

    #[test]
    fn a_locate_command_line_without_options_is_the_librarys_default_job() {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let reference = folder.path().join("piece.wav");
        std::fs::write(&reference, b"").expect("a writable folder");
        let words = [
            "warpflow",
            "locate",
            "--reference",
            reference.to_str().expect("UTF-8"),
            "--live",
            "test",
        ];
        let Command::Locate(args) = parsed(&words).command else {
            panic!("not locate");
        };
        let (source, stream) = args.common.source_and_stream().expect("one stream");
        let from_cli = LocateJob {
            reference_progress: None,
            ..args.job(source.clone(), stream, StopSignal::default(), Arc::default())
        };
        let library = LocateJob::new(vec![reference], source, "live0");
        assert_eq!(described(&from_cli), described(&library));
    }

    #[test]
    fn options_change_the_job() {
        let words = [
            "warpflow",
            "sync",
            "--live",
            "test",
            "--window-s",
            "2",
            "--max-lag-ms",
            "300",
        ];
        let Command::Sync(args) = parsed(&words).command else {
            panic!("not sync");
        };
        let stream = &args.common.streams().expect("one stream")[0];
        let job = args.job(stream, &StopSignal::default(), &Arc::default());
        assert_eq!(job.lag.window_ns, 2_000_000_000);
        assert_eq!((job.lag.max_lag_ns, job.region.max_lag_ns), (300_000_000, 300_000_000));

        let folder = tempfile::tempdir().expect("a temporary folder");
        let reference = folder.path().join("reference.wav");
        std::fs::write(&reference, b"").expect("a writable folder");
        let reference = reference.to_str().expect("a UTF-8 path");
        let words = [
            "warpflow",
            "follow",
            "--reference",
            reference,
            "--live",
            "test",
            "--join-at-s",
            "12.5",
        ];
        let Command::Follow(args) = parsed(&words).command else {
            panic!("not follow");
        };
        let stream = &args.common.streams().expect("one stream")[0];
        let job = args
            .job(stream, &StopSignal::default(), &Arc::default())
            .expect("a job");
        assert_eq!(job.follower.join_at_ref_frame, Some(625));
    }
}
