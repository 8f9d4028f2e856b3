//! `warpflow follow` on audio files: a reference and a time-warped rendition of it.

mod common;

use common::{events, gst_launch, median, melody, of_type, render, warpflow, write_wav, TimeMap};

const RATE_HZ: u32 = 22_050;

/// How the live rendition is stored.
#[derive(Clone, Copy)]
enum LiveFormat {
    Wav,
    /// MP3 at 44.1 kHz: decoding and resampling on the way in. LAME's encoder delay (about
    /// 25 ms at this rate) is left in, as it would be in a real file.
    Mp3,
}

/// Follows a rendition whose tempo changes (0.8× for a third, then 1.25×, then 1.1×) with
/// noise, and returns the errors (s) of positions after the first two seconds.
fn follow_errors(features: &str, format: LiveFormat) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_ref_s = 30.0;
    let notes = melody(total_ref_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_ref_s, total_ref_s)],
    };
    let map = TimeMap {
        points: vec![(0.0, 0.0), (10.0, 12.5), (20.0, 20.5), (total_ref_s, 29.6)],
    };
    let reference_wav = dir.path().join("reference.wav");
    let reference_ogg = dir.path().join("reference.ogg");
    let live_wav = dir.path().join("live.wav");
    write_wav(
        &reference_wav,
        RATE_HZ,
        &render(&notes, &identity, RATE_HZ, total_ref_s, 0.0),
    );
    write_wav(&live_wav, RATE_HZ, &render(&notes, &map, RATE_HZ, 29.6, 0.01));
    gst_launch(&format!(
        "filesrc location={} ! wavparse ! audioconvert ! vorbisenc ! oggmux ! filesink location={}",
        reference_wav.display(),
        reference_ogg.display()
    ));
    let live = match format {
        LiveFormat::Wav => live_wav,
        LiveFormat::Mp3 => {
            let live_mp3 = dir.path().join("live.mp3");
            gst_launch(&format!(
                "filesrc location={} ! wavparse ! audioconvert ! audioresample ! audio/x-raw,rate=44100 ! lamemp3enc ! filesink location={}",
                live_wav.display(),
                live_mp3.display()
            ));
            live_mp3
        }
    };

    let output = warpflow(&[
        "follow",
        "--reference",
        reference_ogg.to_str().unwrap_or_default(),
        "--live",
        live.to_str().unwrap_or_default(),
        "--pace",
        "fast",
        "--audio-features",
        features,
    ]);
    assert!(
        output.status.success(),
        "follow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events(&output);
    let positions = of_type(&events, "position");
    assert!(positions.len() > 1000, "{} positions", positions.len());
    let mut last_ref = 0;
    positions
        .iter()
        .filter_map(|p| {
            let live_s = p["live_ns"].as_u64()? as f64 / 1e9;
            let ref_ns = p["ref_ns"].as_u64()?;
            assert!(ref_ns >= last_ref, "position went backwards");
            last_ref = ref_ns;
            (live_s > 2.0).then(|| (ref_ns as f64 / 1e9 - map.ref_of(live_s)).abs())
        })
        .collect()
}

#[test]
fn follows_a_time_warped_rendition_with_log_mel() {
    let mut errors = follow_errors("logmel", LiveFormat::Wav);
    let within_50ms = errors.iter().filter(|&&e| e <= 0.05).count() as f64 / errors.len() as f64;
    let median_error = median(&mut errors);
    println!(
        "logmel: median error {:.1} ms, {:.1}% within 50 ms",
        median_error * 1e3,
        within_50ms * 100.0
    );
    assert!(median_error < 0.1, "median error {median_error} s");
}

#[test]
fn follows_a_time_warped_rendition_with_chroma() {
    let mut errors = follow_errors("chroma", LiveFormat::Wav);
    let median_error = median(&mut errors);
    println!("chroma: median error {:.1} ms", median_error * 1e3);
    assert!(median_error < 0.1, "median error {median_error} s");
}

#[test]
fn follows_an_mp3_rendition_against_an_ogg_reference() {
    let mut errors = follow_errors("logmel", LiveFormat::Mp3);
    let median_error = median(&mut errors);
    println!("logmel, live MP3: median error {:.1} ms", median_error * 1e3);
    assert!(median_error < 0.1, "median error {median_error} s");
}
