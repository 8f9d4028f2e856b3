//! Per-frame cost of the aligners, without decoding or encoding.
//!
//! `oltw_push_frame`: one live frame through Dixon's online time warping, for band widths of
//! 100, 500 and 2000 frames and feature dimensions 12 (chroma) and 128 (a learned embedding), on a
//! reference of 30 000 frames (10 minutes at 20 ms), every step inside the reference (a new
//! aligner starts, untimed, before the path reaches its end), with the band in f32 (`d12`,
//! `d128`) and in int8 (`d12-int8`, `d128-int8`; the default picks int8 at d = 128).
//! `oltw_push_frame_stored`: the same at
//! d = 128, band 500, with the reference read in place from a memory-mapped reference file in
//! f32, f16 or int8. `full_dtw`: the cost of full DTW of two
//! 1000-frame sequences; its throughput is in cells. `lag_estimate`: one A/V offset estimate over a 4 s
//! window with ±500 ms of lags on a 1 ms grid. `region_lag`: the region estimator of `sync` with
//! its defaults (16×12 blocks, ±1 s of lags every 5 ms): one frame added to its sums
//! (`add_frame`: the frame and 6.7 audio hops, with the frames waiting for audio 1 s past them
//! added as it comes) and one estimate (`estimate`). `subsequence_push_frame`: one reference frame
//! through the relocation search for a 150-frame (3 s) live window, with symmetric,
//! slope-limited and tempo-neutral steps (`locate`'s); its throughput is in cells.
//! `relocation_push_live`: one live frame through the relocation search as `follow` runs it
//! (a 150-frame window, the reference scanned again and again), with the default frames pooled
//! in threes and 15 000 cells, against pairs and 30 000 cells and single frames and 60 000
//! cells (the settings before), on live frames unrelated to the reference; `pooled3_15k_playing`
//! runs the default search on live frames that play the reference with noise, tracked where
//! they play, whose scans drop many paths early in the window.
//!
//! Run with: `cargo bench --bench aligner` (results in `benches/RESULTS.md`);
//! `WARPFLOW_KERNELS=avx2` or `portable` runs the int8 distances without VNNI or AVX2.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use warpflow::align::{
    dtw_distance, AvLagEstimator, BlockGrid, Distance, FeatureMatrix, LagConfig, OltwConfig, OnlineTimeWarper,
    Precision, RegionLagConfig, RegionLagEstimator, Relocator, RelocatorConfig, StepWeights, SubsequenceSearch,
    SubsequenceSteps,
};
use warpflow::encode::{AudioFrameParams, MappedFile, ReferenceFile, SampleFormat};

#[path = "common/synthetic.rs"]
mod synthetic;

use synthetic::pseudo_random_frames;

/// A warper on `reference` with a band of `band` frames, past the start-up (where every step
/// advances both sides), and the live frames to go on with.
fn warper_past_startup(
    reference: Arc<FeatureMatrix>,
    band: usize,
    precision: Precision,
    live: &[f32],
) -> OnlineTimeWarper {
    let dim = reference.dim();
    let config = OltwConfig {
        band_frames: band,
        precision,
        ..OltwConfig::default()
    };
    let mut warper = OnlineTimeWarper::new(reference, config).expect("valid settings");
    for frame in live.chunks_exact(dim).take(band + 10) {
        warper.push_frame(frame).expect("right dimension");
    }
    warper
}

/// Steps between checks of how far the reference has left.
const CHUNK_STEPS: u64 = 256;

/// Times `steps` live frames through a warper that stays inside `reference`: once the path
/// comes near the reference's end a new warper starts, outside the timing. Past the end a step
/// computes live rows alone, about half the work of one that tracks (a row and a column), so a
/// bench whose iterations outrun the reference would time mostly that.
struct TrackingSteps {
    reference: Arc<FeatureMatrix>,
    band: usize,
    precision: Precision,
    live: Vec<f32>,
    next_live: usize,
    warper: OnlineTimeWarper,
}

impl TrackingSteps {
    fn new(reference: Arc<FeatureMatrix>, band: usize, precision: Precision, live: Vec<f32>) -> Self {
        let warper = warper_past_startup(reference.clone(), band, precision, &live);
        Self {
            reference,
            band,
            precision,
            live,
            next_live: 0,
            warper,
        }
    }

    fn time(&mut self, steps: u64) -> Duration {
        let dim = self.reference.dim();
        let live_frames = self.live.len() / dim;
        let (mut total, mut left) = (Duration::ZERO, steps);
        while left > 0 {
            // The reference advances by at most MaxRunCount (3) frames per step.
            let margin = 3 * CHUNK_STEPS as usize + self.band;
            if self
                .warper
                .frontier()
                .is_some_and(|(_, ref_index)| ref_index + margin >= self.reference.len())
            {
                self.warper = warper_past_startup(self.reference.clone(), self.band, self.precision, &self.live);
            }
            let chunk = left.min(CHUNK_STEPS);
            let started = Instant::now();
            for _ in 0..chunk {
                let at = self.next_live * dim;
                self.next_live = (self.next_live + 1) % live_frames;
                black_box(
                    self.warper
                        .push_frame(black_box(&self.live[at..at + dim]))
                        .expect("right dimension"),
                );
            }
            total += started.elapsed();
            left -= chunk;
        }
        total
    }
}

fn oltw_push_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("oltw_push_frame");
    group.throughput(Throughput::Elements(1));
    for dim in [12usize, 128] {
        let reference = Arc::new(FeatureMatrix::new(dim, pseudo_random_frames(30_000, dim, 7)).expect("whole frames"));
        let live = pseudo_random_frames(4_096, dim, 11);
        for precision in [Precision::F32, Precision::Int8] {
            let suffix = if precision == Precision::Int8 { "-int8" } else { "" };
            for band in [100usize, 500, 2000] {
                let mut steps = TrackingSteps::new(reference.clone(), band, precision, live.clone());
                group.bench_with_input(BenchmarkId::new(format!("d{dim}{suffix}"), band), &band, |b, _| {
                    b.iter_custom(|iters| steps.time(iters))
                });
            }
        }
    }
    group.finish();
}

/// `features` written to a reference file of `format` and read back memory-mapped, in place.
fn mapped_reference(features: FeatureMatrix, format: SampleFormat, folder: &std::path::Path) -> Arc<FeatureMatrix> {
    let file = ReferenceFile {
        encoder: "bench".to_owned(),
        params: AudioFrameParams {
            rate_hz: 22_050,
            frame_len: 2048,
            hop_len: 441,
            history_len: 0,
        },
        duration_ns: 0,
        format,
        features: features.into_values(),
    };
    let path = folder.join(format!("{format:?}.wfr"));
    std::fs::write(&path, file.to_bytes().expect("a writable reference")).expect("a writable folder");
    let mapped = MappedFile::open(&path).expect("the file just written");
    Arc::new(FeatureMatrix::from_values(
        ReferenceFile::from_mapped(Arc::new(mapped))
            .expect("a valid file")
            .features,
    ))
}

fn oltw_push_frame_stored(c: &mut Criterion) {
    let mut group = c.benchmark_group("oltw_push_frame_stored");
    group.throughput(Throughput::Elements(1));
    let (dim, band) = (128, 500);
    let folder = tempfile::tempdir().expect("a temporary folder");
    let features = FeatureMatrix::new(dim, pseudo_random_frames(30_000, dim, 7)).expect("whole frames");
    let live = pseudo_random_frames(4_096, dim, 11);
    for format in [SampleFormat::F32, SampleFormat::F16, SampleFormat::Int8] {
        let reference = mapped_reference(features.clone(), format, folder.path());
        let mut steps = TrackingSteps::new(reference, band, Precision::F32, live.clone());
        group.bench_function(
            BenchmarkId::new(format!("d{dim}_band{band}"), format!("{format:?}")),
            |b| b.iter_custom(|iters| steps.time(iters)),
        );
    }
    group.finish();
}

fn full_dtw(c: &mut Criterion) {
    let mut group = c.benchmark_group("full_dtw");
    let frames = 1_000;
    group.throughput(Throughput::Elements((frames * frames) as u64));
    for dim in [12usize, 128] {
        let live = FeatureMatrix::new(dim, pseudo_random_frames(frames, dim, 3)).expect("whole frames");
        let reference = FeatureMatrix::new(dim, pseudo_random_frames(frames, dim, 5)).expect("whole frames");
        group.bench_with_input(BenchmarkId::new(format!("d{dim}"), frames), &frames, |b, _| {
            b.iter(|| {
                black_box(dtw_distance(
                    &live,
                    &reference,
                    Distance::Euclidean,
                    StepWeights::default(),
                ))
            })
        });
    }
    group.finish();
}

fn lag_estimate(c: &mut Criterion) {
    let ms = 1_000_000u64;
    let mut estimator = AvLagEstimator::new(LagConfig::default()).expect("valid settings");
    for i in 0..1_200u64 {
        estimator.push_audio(i * 5 * ms, if i % 200 == 16 { 5.0 } else { 0.1 });
    }
    for i in 0..180u64 {
        estimator.push_video(i * 1_000 * ms / 30, if i % 30 == 0 { 1.0 } else { 0.0 });
    }
    c.bench_function("lag_estimate_4s_window", |b| {
        b.iter(|| black_box(estimator.estimate(black_box(5_500 * ms))))
    });
}

fn subsequence_push_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("subsequence_push_frame");
    let query_frames = 150;
    group.throughput(Throughput::Elements(query_frames as u64));
    for dim in [12usize, 128] {
        let query = FeatureMatrix::new(dim, pseudo_random_frames(query_frames, dim, 3)).expect("whole frames");
        let stream = pseudo_random_frames(4_096, dim, 5);
        for (name, steps) in [
            (format!("d{dim}"), SubsequenceSteps::Symmetric),
            (format!("d{dim}-slope"), SubsequenceSteps::SlopeLimited),
            (format!("d{dim}-tempo-neutral"), SubsequenceSteps::TempoNeutral),
        ] {
            let mut search =
                SubsequenceSearch::with_steps(query.clone(), Distance::Cosine, Precision::F32, steps).expect("a query");
            let mut frames = stream.chunks_exact(dim).cycle();
            group.bench_with_input(BenchmarkId::new(name, query_frames), &query_frames, |b, _| {
                b.iter(|| {
                    search
                        .push_frame(black_box(frames.next().unwrap_or(&[])))
                        .expect("right dimension")
                })
            });
        }
    }
    group.finish();
}

fn relocation_push_live(c: &mut Criterion) {
    let mut group = c.benchmark_group("relocation_push_live");
    let pairs = RelocatorConfig {
        pooled_frames: 2,
        cells_per_frame: 30_000,
        ..RelocatorConfig::default()
    };
    let single = RelocatorConfig {
        pooled_frames: 1,
        cells_per_frame: 60_000,
        ..RelocatorConfig::default()
    };
    for dim in [64usize, 128] {
        let reference = Arc::new(FeatureMatrix::new(dim, pseudo_random_frames(30_000, dim, 9)).expect("whole frames"));
        let live = pseudo_random_frames(4_096, dim, 11);
        for (name, config) in [
            ("pooled3_15k", RelocatorConfig::default()),
            ("pooled2_30k", pairs.clone()),
            ("single_60k", single.clone()),
        ] {
            let mut relocator = Relocator::new(reference.clone(), config).expect("valid settings");
            let mut frames = live.chunks_exact(dim).enumerate().cycle();
            group.bench_function(BenchmarkId::new(name, format!("d{dim}")), |b| {
                b.iter(|| {
                    let (i, frame) = frames.next().unwrap_or((0, &[]));
                    relocator.push_live(black_box(frame), i).expect("right dimension")
                })
            });
        }
        // The noise the `shared_streams` bench's streams play with.
        let noise = pseudo_random_frames(4_096, dim, 13);
        let playing: Vec<f32> = (0..4_096)
            .flat_map(|k| reference.frame(k).into_owned())
            .zip(&noise)
            .map(|(value, noise)| value + 2.0 * (noise - 0.5))
            .collect();
        let mut relocator = Relocator::new(reference.clone(), RelocatorConfig::default()).expect("valid settings");
        let mut frames = playing.chunks_exact(dim).enumerate().cycle();
        group.bench_function(BenchmarkId::new("pooled3_15k_playing", format!("d{dim}")), |b| {
            b.iter(|| {
                let (i, frame) = frames.next().unwrap_or((0, &[]));
                relocator.push_live(black_box(frame), i).expect("right dimension")
            })
        });
    }
    group.finish();
}

fn region_lag(c: &mut Criterion) {
    let ms = 1_000_000u64;
    let frame_ns = 33_333_333u64;
    let grid = BlockGrid { columns: 16, rows: 12 };
    let blocks = |frame: u64| -> Vec<f32> {
        (0..grid.blocks() as u64)
            .map(|b| 0.5 + 0.1 * (((frame * 7919 + b * 104_729) % 1000) as f32 / 1000.0))
            .collect()
    };
    let level = |hop: u64| -6.0 + ((hop * 31) % 17) as f32 * 0.3;
    let mut estimator = RegionLagEstimator::new(RegionLagConfig::default(), grid).expect("valid settings");
    let (mut frame, mut hop) = (0u64, 0u64);
    // One frame with the audio 1.1 s past it; returns the time the audio is complete to.
    let mut feed = move |estimator: &mut RegionLagEstimator| {
        while hop * 5 * ms <= frame * frame_ns + 1_100 * ms {
            estimator.push_audio_level(hop * 5 * ms, level(hop));
            hop += 1;
        }
        estimator
            .push_video_blocks(frame * frame_ns, &blocks(frame))
            .expect("a frame of the grid");
        frame += 1;
        hop * 5 * ms
    };
    // Twenty seconds of history, as a stream in its stride has.
    let mut complete_ns = 0;
    while complete_ns < 21_100 * ms {
        complete_ns = feed(&mut estimator);
        estimator.estimate(complete_ns);
    }
    let mut group = c.benchmark_group("region_lag");
    group.bench_function("add_frame", |b| {
        b.iter(|| {
            complete_ns = feed(&mut estimator);
            black_box(estimator.add_complete_frames(complete_ns));
        })
    });
    group.bench_function("estimate", |b| {
        b.iter(|| black_box(estimator.estimate(black_box(complete_ns))))
    });
    group.finish();
}

criterion_group!(
    benches,
    region_lag,
    relocation_push_live,
    oltw_push_frame,
    oltw_push_frame_stored,
    full_dtw,
    subsequence_push_frame,
    lag_estimate
);
criterion_main!(benches);
