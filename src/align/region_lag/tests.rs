//! The region estimator on a synthetic talking picture: one block darkens as a "mouth" opens
//! with the loudness of speech-like bursts; the rest of the picture flickers at random.

use super::*;

const MS: u64 = 1_000_000;
const FRAME_NS: u64 = 33_333_333;
const HOP_NS: u64 = 5 * MS;
const GRID: BlockGrid = BlockGrid { columns: 8, rows: 6 };
/// The block the mouth is in.
const MOUTH: usize = 3 * 8 + 5;

/// A deterministic pseudo-random sequence in [0, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Syllable-like bursts of loudness: (start, length, strength), one every 150–400 ms, with
/// pauses between phrases.
fn syllables(seed: u64, seconds: u64) -> Vec<(u64, u64, f32)> {
    let mut noise = Noise(seed);
    let mut bursts = Vec::new();
    let mut t = 300 * MS;
    while t < seconds * 1_000 * MS {
        let length = (80.0 + 200.0 * noise.next()) as u64 * MS;
        bursts.push((t, length, 0.3 + 0.7 * noise.next()));
        t += length + (70.0 + 250.0 * noise.next()) as u64 * MS;
        if noise.next() < 0.12 {
            t += 700 * MS;
        }
    }
    bursts
}

/// How open the mouth is at `time_ns` (0 closed, up to 1), following `bursts`.
fn opening(bursts: &[(u64, u64, f32)], time_ns: u64) -> f32 {
    bursts
        .iter()
        .filter(|&&(start, length, _)| time_ns >= start && time_ns < start + length)
        .map(|&(start, length, strength)| {
            let phase = (time_ns - start) as f32 / length as f32;
            strength * (std::f32::consts::PI * phase).sin()
        })
        .fold(0.0, f32::max)
}

/// Feeds `seconds` of a picture whose mouth follows `mouth_bursts` and audio whose loudness
/// follows `sound_bursts` `offset_ms` later (positive: audio late).
fn feed(
    estimator: &mut RegionLagEstimator,
    mouth_bursts: &[(u64, u64, f32)],
    sound_bursts: &[(u64, u64, f32)],
    offset_ms: i64,
    seconds: u64,
) {
    let mut noise = Noise(7);
    let end_ns = seconds * 1_000 * MS;
    let mut frame_ns = 0;
    let mut hop_ns = 0;
    while frame_ns < end_ns || hop_ns < end_ns {
        if hop_ns <= frame_ns || frame_ns >= end_ns {
            let shifted = hop_ns as i64 - offset_ms * MS as i64;
            let open = if shifted >= 0 {
                opening(sound_bursts, shifted as u64)
            } else {
                0.0
            };
            // Loudness in natural-log power: -9 (quiet) to 0 (loud), plus a little hiss.
            let level = -9.0 + 9.0 * open + 0.3 * noise.next();
            estimator.push_audio_level(hop_ns, level);
            hop_ns += HOP_NS;
        } else {
            let mut blocks: Vec<f32> = (0..GRID.blocks()).map(|_| 0.5 + 0.02 * noise.next()).collect();
            blocks[MOUTH] = 0.6 - 0.25 * opening(mouth_bursts, frame_ns) + 0.02 * noise.next();
            estimator.push_video_blocks(frame_ns, &blocks).unwrap();
            frame_ns += FRAME_NS;
        }
    }
}

fn estimator() -> RegionLagEstimator {
    RegionLagEstimator::new(RegionLagConfig::default(), GRID).unwrap()
}

/// The estimate from all of `seconds` of a picture and sound following `bursts`, the sound
/// `offset_ms` late, checked to read the offset within 5 ms.
fn reads_offset(bursts: &[(u64, u64, f32)], offset_ms: i64, seconds: u64) -> RegionEstimate {
    let mut estimator = estimator();
    feed(&mut estimator, bursts, bursts, offset_ms, seconds);
    let estimate = estimator.estimate(u64::MAX).expect("an estimate");
    let error_ms = (estimate.offset_ns - offset_ms * MS as i64).abs() as f64 / 1e6;
    assert!(
        error_ms <= 5.0,
        "offset {offset_ms} ms read as {} ns",
        estimate.offset_ns
    );
    estimate
}

#[test]
fn finds_known_offsets_within_one_lag_step_and_the_mouth() {
    let bursts = syllables(11, 20);
    for offset_ms in [-900i64, -300, -40, 0, 120, 450, 880] {
        let estimate = reads_offset(&bursts, offset_ms, 20);
        assert!(estimate.confidence > 0.5, "confidence {}", estimate.confidence);
        let (column, row) = ((MOUTH % 8) as f64 / 8.0, (MOUTH / 8) as f64 / 6.0);
        let region = estimate.region;
        assert!(
            region.x <= column && column < region.x + region.width && region.y <= row && row < region.y + region.height,
            "region {region:?}"
        );
    }
}

#[test]
fn the_end_of_a_short_stream_keeps_offsets_near_the_search_edge() {
    // The frames within `max_lag` of the end meet audio only at the lower lags; adding them must
    // not push an offset near +max_lag out of the candidates.
    let bursts = syllables(3, 7);
    for offset_ms in [880i64, 940] {
        reads_offset(&bursts, offset_ms, 7);
    }
}

#[test]
fn a_shifted_copy_reads_the_shift() {
    // The same picture and sound with the sound moved: the difference of the two readings is
    // the shift, whatever the content's own reading.
    let bursts = syllables(5, 12);
    let reading = |offset_ms| {
        let mut estimator = estimator();
        feed(&mut estimator, &bursts, &bursts, offset_ms, 12);
        estimator.estimate(u64::MAX).expect("an estimate").offset_ns
    };
    let zero = reading(0);
    for shift_ms in [-500i64, -120, 40, 200, 500] {
        let difference_ms = (reading(shift_ms) - zero) as f64 / 1e6;
        assert!(
            (difference_ms - shift_ms as f64).abs() <= 1.0,
            "{shift_ms} ms read as {difference_ms}"
        );
    }
}

#[test]
fn another_sound_over_the_picture_is_not_sure() {
    let mut estimator = estimator();
    feed(&mut estimator, &syllables(1, 60), &syllables(2, 60), 0, 60);
    let mut confidences = Vec::new();
    for second in 3..60u64 {
        if let Some(estimate) = estimator.estimate(second * 1_000 * MS) {
            confidences.push(estimate.confidence);
        }
    }
    assert!(!confidences.is_empty());
    let most = confidences.iter().copied().fold(0.0, f64::max);
    assert!(most < 0.5, "confidence reached {most}");
}

#[test]
fn a_still_picture_or_silence_gives_no_estimate() {
    let bursts = syllables(3, 10);
    let mut still = estimator();
    let mut silent = estimator();
    let mut noise = Noise(9);
    for i in 0..300u64 {
        let blocks = vec![0.5; GRID.blocks()];
        still.push_video_blocks(i * FRAME_NS, &blocks).unwrap();
        let mut moving: Vec<f32> = (0..GRID.blocks()).map(|_| 0.5 + 0.05 * noise.next()).collect();
        moving[MOUTH] = 0.6 - 0.25 * opening(&bursts, i * FRAME_NS);
        silent.push_video_blocks(i * FRAME_NS, &moving).unwrap();
    }
    for i in 0..2_000u64 {
        still.push_audio_level(i * HOP_NS, -9.0 + 9.0 * opening(&bursts, i * HOP_NS));
        silent.push_audio_level(i * HOP_NS, -30.0);
    }
    assert_eq!(still.estimate(u64::MAX), None);
    assert_eq!(silent.estimate(u64::MAX), None);
}

#[test]
fn frames_wait_for_the_audio_past_them() {
    let bursts = syllables(4, 10);
    let mut estimator = estimator();
    feed(&mut estimator, &bursts, &bursts, 0, 10);
    // Audio is complete only to 4 s: frames after 3 s minus half a frame must wait.
    estimator.estimate(4_000 * MS);
    let newest = estimator.newest_added_ns.unwrap();
    assert!(newest + 1_000 * MS + FRAME_NS / 2 <= 4_000 * MS, "added up to {newest}");
    assert!(
        newest + 1_000 * MS + FRAME_NS > 4_000 * MS - FRAME_NS,
        "added only up to {newest}"
    );
}

#[test]
fn memory_stays_bounded_on_a_long_stream() {
    let bursts = syllables(6, 600);
    let mut estimator = estimator();
    let mut noise = Noise(3);
    let mut hop_ns = 0;
    for frame in 0..600 * 30u64 {
        let frame_ns = frame * FRAME_NS;
        while hop_ns <= frame_ns {
            estimator.push_audio_level(hop_ns, -9.0 + 9.0 * opening(&bursts, hop_ns));
            hop_ns += HOP_NS;
        }
        let mut blocks: Vec<f32> = (0..GRID.blocks()).map(|_| 0.5 + 0.02 * noise.next()).collect();
        blocks[MOUTH] = 0.6 - 0.25 * opening(&bursts, frame_ns);
        estimator.push_video_blocks(frame_ns, &blocks).unwrap();
        if frame % 15 == 0 {
            estimator.estimate(hop_ns);
        }
    }
    let (waiting, audio) = estimator.held();
    assert!(waiting < 60, "frames waiting: {waiting}");
    assert!(audio < 1_000, "audio hops kept: {audio}");
}

#[test]
fn forgetting_starts_afresh() {
    let bursts = syllables(8, 20);
    let mut estimator = estimator();
    feed(&mut estimator, &bursts, &bursts, 200, 10);
    assert!(estimator.estimate(u64::MAX).is_some());
    estimator.forget_before(20_000 * MS);
    assert_eq!(estimator.estimate(u64::MAX), None);
}

#[test]
fn settings_out_of_range_are_refused() {
    let bad = [
        RegionLagConfig {
            lag_step_ns: 0,
            ..RegionLagConfig::default()
        },
        RegionLagConfig {
            max_lag_ns: 60_000_000_000,
            ..RegionLagConfig::default()
        },
        RegionLagConfig {
            region_blocks: 0,
            ..RegionLagConfig::default()
        },
        RegionLagConfig {
            min_lag_coverage: 1.5,
            ..RegionLagConfig::default()
        },
    ];
    for config in bad {
        assert!(RegionLagEstimator::new(config, GRID).is_err());
    }
    let tiny = BlockGrid { columns: 1, rows: 2 };
    assert!(RegionLagEstimator::new(RegionLagConfig::default(), tiny).is_err());
}

#[test]
fn confidence_rises_with_correlation_and_evidence() {
    let s = 1_000_000_000;
    assert_eq!(RegionLagConfig::confidence(0.95, s), 0.0);
    assert!(RegionLagConfig::confidence(0.8, 20 * s) > 0.5);
    assert!(RegionLagConfig::confidence(0.8, 20 * s) > RegionLagConfig::confidence(0.8, 8 * s));
    assert!(RegionLagConfig::confidence(0.45, 60 * s) < 0.2);
}

#[test]
fn a_still_picture_with_coding_noise_gives_no_estimate() {
    let bursts = syllables(12, 12);
    let mut estimator = estimator();
    let mut noise = Noise(21);
    for i in 0..360u64 {
        // Changes of a few thousandths: a compressed still picture, never a repeated frame.
        let blocks: Vec<f32> = (0..GRID.blocks()).map(|_| 0.5 + 0.002 * noise.next()).collect();
        estimator.push_video_blocks(i * FRAME_NS, &blocks).unwrap();
    }
    for i in 0..2_400u64 {
        estimator.push_audio_level(i * HOP_NS, -9.0 + 9.0 * opening(&bursts, i * HOP_NS));
    }
    assert_eq!(estimator.estimate(u64::MAX), None);
}

#[test]
fn a_face_box_keeps_the_region_inside_it() {
    // A louder "mouth" elsewhere follows the sound too, but the face model puts the face
    // around the real one: the region stays in its box, and the box is what is reported.
    let bursts = syllables(14, 15);
    let mut estimator = estimator();
    let (column, row) = (MOUTH % 8, MOUTH / 8);
    let face = NormalisedBox {
        x: (column as f64 - 1.0) / 8.0,
        y: (row as f64 - 1.0) / 6.0,
        width: 3.0 / 8.0,
        height: 3.0 / 6.0,
    };
    let mut noise = Noise(5);
    let mut hop_ns = 0;
    for frame in 0..15 * 30u64 {
        let frame_ns = frame * FRAME_NS;
        while hop_ns <= frame_ns {
            estimator.push_audio_level(hop_ns, -9.0 + 9.0 * opening(&bursts, hop_ns) + 0.3 * noise.next());
            hop_ns += HOP_NS;
        }
        let mut blocks: Vec<f32> = (0..GRID.blocks()).map(|_| 0.5 + 0.02 * noise.next()).collect();
        let open = opening(&bursts, frame_ns);
        blocks[MOUTH] = 0.6 - 0.25 * open + 0.02 * noise.next();
        // A second moving patch, 200 ms ahead of the sound and stronger, outside the face.
        blocks[0] = 0.6 - 0.4 * opening(&bursts, frame_ns + 200 * MS);
        estimator.push_video_blocks(frame_ns, &blocks).unwrap();
        estimator.push_face(face, 0.9);
    }
    let estimate = estimator.estimate(u64::MAX).expect("an estimate");
    assert_eq!(estimate.region, face);
    assert!(
        estimate.offset_ns.abs() <= 5 * MS as i64,
        "read {} ns",
        estimate.offset_ns
    );
    // An unsure face model changes nothing.
    let mut unsure = estimator_with_face(0.2);
    assert!(unsure.face.is_none());
    unsure.push_face(face, 0.49);
    assert!(unsure.face.is_none());
}

fn estimator_with_face(score: f32) -> RegionLagEstimator {
    let mut estimator = estimator();
    estimator.push_face(
        NormalisedBox {
            x: 0.0,
            y: 0.0,
            width: 0.5,
            height: 0.5,
        },
        score,
    );
    estimator
}

#[test]
fn a_model_s_box_is_kept_within_the_picture() {
    let inside = NormalisedBox::within_picture(0.25, 0.5, 0.5, 0.25);
    assert_eq!(inside.to_array(), [0.25, 0.5, 0.5, 0.25]);
    let overflowing = NormalisedBox::within_picture(0.75, -0.5, 0.5, f32::NAN);
    assert_eq!(overflowing.to_array(), [0.75, 0.0, 0.25, 0.0]);
    // A box of no height is no face.
    let mut estimator = estimator();
    estimator.push_face(overflowing, 0.9);
    assert_eq!(estimator.face(), None);
}
