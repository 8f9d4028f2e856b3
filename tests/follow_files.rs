//! `warpflow follow` on audio files: a reference and a time-warped rendition of it.

mod common;

use common::{
    follow_events, gst_launch, gst_time_stretch, median, melody, of_type, positions, render, write_wav, Note, TimeMap,
};

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
/// noise, played `transpose_semitones` higher (the melody then put in C major: a key is what
/// makes a transposition heard as one), with `options` besides the features, and returns the errors (s) of provisional positions after the first two seconds;
/// checks that every one of those frames also gets a final position, and prints how close the
/// final ones are.
fn follow_errors(features: &str, format: LiveFormat, transpose_semitones: u8, options: &[&str]) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_ref_s = 30.0;
    let mut notes = melody(total_ref_s);
    if transpose_semitones != 0 {
        // Semitones down to C major's scale, and to its chord (C, E, G): two notes in three on
        // the chord, as tonal music dwells on it.
        const OFF_THE_SCALE: [u8; 12] = [0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0];
        const OFF_THE_CHORD: [u8; 12] = [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4];
        for (index, note) in notes.iter_mut().enumerate() {
            let off = if index % 3 == 0 { OFF_THE_SCALE } else { OFF_THE_CHORD };
            note.midi -= off[usize::from(note.midi % 12)];
        }
    }
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
    let played: Vec<Note> = notes
        .iter()
        .map(|note| Note {
            midi: note.midi + transpose_semitones,
            ..*note
        })
        .collect();
    write_wav(&live_wav, RATE_HZ, &render(&played, &map, RATE_HZ, 29.6, 0.01));
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

    let mut args = vec!["--audio-features", features];
    args.extend_from_slice(options);
    let events = follow_events(&reference_ogg, &live, &args);
    let provisional = positions(&events, false);
    let settled = positions(&events, true);
    assert!(provisional.len() > 1000, "{} positions", provisional.len());
    let live_times =
        |events: &[&serde_json::Value]| -> Vec<u64> { events.iter().filter_map(|p| p["live_ns"].as_u64()).collect() };
    assert_eq!(
        live_times(&settled),
        live_times(&provisional),
        "one final position per provisional one"
    );
    let errors = |events: &[&serde_json::Value]| -> Vec<f64> {
        let mut last_ref = 0;
        events
            .iter()
            .filter_map(|p| {
                let live_s = p["live_ns"].as_u64()? as f64 / 1e9;
                let ref_ns = p["ref_ns"].as_u64()?;
                assert!(ref_ns >= last_ref, "position went backwards: {p}");
                last_ref = ref_ns;
                (live_s > 2.0).then(|| ref_ns as f64 / 1e9 - map.ref_of(live_s))
            })
            .collect()
    };
    let signed_errors = errors(&provisional);
    let mut signed = signed_errors.clone();
    let mut settled_signed = errors(&settled);
    let settled_bias = median(&mut settled_signed.clone());
    let mut settled_errors: Vec<f64> = settled_signed.drain(..).map(f64::abs).collect();
    let settled_within_50ms =
        settled_errors.iter().filter(|&&e| e <= 0.05).count() as f64 / settled_errors.len() as f64;
    println!(
        "{features}: median signed error {:+.1} ms; final positions: median signed {:+.1} ms, median error {:.1} ms, {:.1}% within 50 ms",
        median(&mut signed) * 1e3,
        settled_bias * 1e3,
        median(&mut settled_errors) * 1e3,
        settled_within_50ms * 100.0
    );
    signed_errors.into_iter().map(f64::abs).collect()
}

#[test]
fn follows_a_time_warped_rendition_with_log_mel() {
    let mut errors = follow_errors("logmel", LiveFormat::Wav, 0, &[]);
    let within_50ms = errors.iter().filter(|&&e| e <= 0.05).count() as f64 / errors.len() as f64;
    let median_error = median(&mut errors);
    println!(
        "logmel: median error {:.1} ms, {:.1}% within 50 ms",
        median_error * 1e3,
        within_50ms * 100.0
    );
    // Measured 97.1% within 50 ms (9.3 ms median) with the tempo's prediction: along a held
    // note the position moves at the tempo instead of running to the note's end.
    assert!(median_error < 0.05, "median error {median_error} s");
    assert!(within_50ms >= 0.9, "{:.1}% within 50 ms", within_50ms * 100.0);
}

#[test]
fn follows_a_time_warped_rendition_with_chroma() {
    let mut errors = follow_errors("chroma", LiveFormat::Wav, 0, &[]);
    let median_error = median(&mut errors);
    println!("chroma: median error {:.1} ms", median_error * 1e3);
    assert!(median_error < 0.1, "median error {median_error} s");
}

#[test]
fn follows_an_mp3_rendition_against_an_ogg_reference() {
    let mut errors = follow_errors("logmel", LiveFormat::Mp3, 0, &[]);
    let median_error = median(&mut errors);
    println!("logmel, live MP3: median error {:.1} ms", median_error * 1e3);
    assert!(median_error < 0.1, "median error {median_error} s");
}

/// The test melody rendered for `total_s` seconds at its written tempo, without noise.
fn melody_as_written(total_s: f64) -> Vec<f32> {
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s)],
    };
    render(&melody(total_s), &identity, RATE_HZ, total_s, 0.0)
}

#[test]
fn a_stream_joined_late_is_placed_where_the_user_says_from_its_first_second() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_ref_s = 40.0;
    let reference = melody_as_written(total_ref_s);
    // The stream joins a performance 20 s in.
    let join_s = 20.0;
    let live = reference[(join_s * RATE_HZ as f64) as usize..(32.0 * RATE_HZ as f64) as usize].to_vec();
    let reference_wav = dir.path().join("reference.wav");
    let live_wav = dir.path().join("live.wav");
    write_wav(&reference_wav, RATE_HZ, &reference);
    write_wav(&live_wav, RATE_HZ, &live);

    // The errors of the positions over the stream's first 2 s.
    let early_errors_s = |extra: &[&str]| {
        let events = follow_events(&reference_wav, &live_wav, extra);
        let early: Vec<f64> = positions(&events, false)
            .iter()
            .filter_map(|p| {
                let live_s = p["live_ns"].as_f64()? / 1e9;
                let ref_s = p["ref_ns"].as_f64()? / 1e9;
                (live_s < 2.0).then(|| (ref_s - (live_s + join_s)).abs())
            })
            .collect();
        assert!(!early.is_empty(), "positions over the first 2 s");
        early
    };
    let share =
        |errors: &[f64], within_s: f64| errors.iter().filter(|&&e| e <= within_s).count() as f64 / errors.len() as f64;
    let (told, untold) = (early_errors_s(&["--join-at-s", "20"]), early_errors_s(&[]));
    println!(
        "first 2 s of a stream joined 20 s in: {:.0}% within 100 ms and the worst {:.0} ms with --join-at-s; \
         {:.0}% within 1 s without",
        share(&told, 0.1) * 100.0,
        told.iter().fold(0.0f64, |a, &b| a.max(b)) * 1e3,
        share(&untold, 1.0) * 100.0
    );
    // The tracker finds its tempo over its first half second.
    assert!(
        share(&told, 0.1) >= 0.8 && share(&told, 0.5) == 1.0,
        "with --join-at-s: {told:?}"
    );
    assert!(
        share(&untold, 1.0) <= 0.5,
        "without it the stream starts at the reference's start"
    );
}

#[test]
fn relocates_after_the_live_stream_jumps_ahead() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_ref_s = 40.0;
    let reference = melody_as_written(total_ref_s);
    // The performance skips from 12 s to 22 s of the reference.
    let (jump_live_s, jump_to_s, rate) = (12.0, 22.0, RATE_HZ as f64);
    let mut live: Vec<f32> = reference[..(jump_live_s * rate) as usize].to_vec();
    live.extend_from_slice(&reference[(jump_to_s * rate) as usize..(34.0 * rate) as usize]);
    let reference_wav = dir.path().join("reference.wav");
    let live_wav = dir.path().join("live.wav");
    write_wav(&reference_wav, RATE_HZ, &reference);
    write_wav(&live_wav, RATE_HZ, &live);

    let events = follow_events(&reference_wav, &live_wav, &[]);
    let matches = of_type(&events, "match");
    let first = matches.first().expect("a match event after the jump");
    let live_end_s = first["live_end_ns"].as_f64().unwrap_or(f64::NAN) / 1e9;
    let ref_end_s = first["ref_end_ns"].as_f64().unwrap_or(f64::NAN) / 1e9;
    assert!(live_end_s > jump_live_s, "match before the jump: {first}");
    assert!(
        (ref_end_s - (live_end_s + jump_to_s - jump_live_s)).abs() < 0.1,
        "match at the wrong place: {first}"
    );
    let truth = |live_s: f64| {
        if live_s < jump_live_s {
            live_s
        } else {
            live_s + jump_to_s - jump_live_s
        }
    };
    let late_errors: Vec<f64> = positions(&events, false)
        .iter()
        .filter_map(|p| {
            let live_s = p["live_ns"].as_f64()? / 1e9;
            let ref_s = p["ref_ns"].as_f64()? / 1e9;
            (live_s > jump_live_s + 3.0).then(|| (ref_s - truth(live_s)).abs())
        })
        .collect();
    let within = late_errors.iter().filter(|&&e| e <= 0.1).count() as f64 / late_errors.len() as f64;
    let found_after_s = first["live_end_ns"].as_f64().unwrap_or(0.0) / 1e9 - jump_live_s;
    println!(
        "relocated {found_after_s:.1} s of live after the jump; {:.0}% of positions from 3 s after it within 100 ms",
        within * 100.0
    );
    assert!(within > 0.9, "{:.0}% within 100 ms", within * 100.0);
}

#[test]
fn follows_a_time_warped_rendition_with_log_mel_and_its_rise() {
    let mut errors = follow_errors("logmel-flux", LiveFormat::Wav, 0, &[]);
    let within_50ms = errors.iter().filter(|&&e| e <= 0.05).count() as f64 / errors.len() as f64;
    let median_error = median(&mut errors);
    println!(
        "logmel-flux: median error {:.1} ms, {:.1}% within 50 ms",
        median_error * 1e3,
        within_50ms * 100.0
    );
    assert!(median_error < 0.1, "median error {median_error} s");
}

#[test]
fn follows_a_transposed_rendition_with_semitone_bands() {
    // Played two semitones higher: the key is estimated and the live bands moved back down.
    // Measured: 13.4 ms median, 88.5% within 50 ms.
    let mut errors = follow_errors("semitone-flux", LiveFormat::Wav, 2, &["--transposition"]);
    let within_50ms = errors.iter().filter(|&&e| e <= 0.05).count() as f64 / errors.len() as f64;
    let median_error = median(&mut errors);
    println!(
        "semitone-flux, two semitones up: median error {:.1} ms, {:.1}% within 50 ms",
        median_error * 1e3,
        within_50ms * 100.0
    );
    assert!(median_error < 0.05, "median error {median_error} s");
    assert!(within_50ms >= 0.7, "{:.1}% within 50 ms", within_50ms * 100.0);
}

#[test]
fn follows_a_copy_of_itself_time_stretched_by_gstreamer() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_s = 30.0;
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s)],
    };
    let reference_wav = dir.path().join("reference.wav");
    let stretched_wav = dir.path().join("stretched.wav");
    write_wav(
        &reference_wav,
        RATE_HZ,
        &render(&melody(total_s), &identity, RATE_HZ, total_s, 0.0),
    );
    // Played 1.2 times faster: live second s is reference second 1.2 s.
    let rate = 1.2;
    gst_time_stretch(&reference_wav, &stretched_wav, rate);
    let events = follow_events(&reference_wav, &stretched_wav, &[]);
    let mut errors: Vec<f64> = positions(&events, false)
        .iter()
        .filter_map(|p| {
            let live_s = p["live_ns"].as_f64()? / 1e9;
            let ref_s = p["ref_ns"].as_f64()? / 1e9;
            (live_s > 2.0).then(|| (ref_s - rate * live_s).abs())
        })
        .collect();
    assert!(errors.len() > 800, "{} positions", errors.len());
    let median_error = median(&mut errors);
    println!("scaletempo copy at 1.2x: median error {:.1} ms", median_error * 1e3);
    assert!(median_error < 0.1, "median error {median_error} s");
}

#[test]
fn goes_on_at_the_right_place_after_a_gap_in_the_live_stream() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_s = 40.0;
    let notes = melody(total_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s)],
    };
    let reference_wav = dir.path().join("reference.wav");
    write_wav(
        &reference_wav,
        RATE_HZ,
        &render(&notes, &identity, RATE_HZ, total_s, 0.0),
    );
    // The live copy loses data halfway: garbage in the middle of its Ogg pages, which the
    // demuxer skips, so the timestamps jump over what was lost.
    let live_ogg = dir.path().join("live.ogg");
    gst_launch(&format!(
        "filesrc location={} ! wavparse ! audioconvert ! vorbisenc ! oggmux ! filesink location={}",
        reference_wav.display(),
        live_ogg.display()
    ));
    let mut bytes = std::fs::read(&live_ogg).expect("live read");
    let start = bytes.len() / 2;
    for (i, byte) in bytes[start..start + 15_000].iter_mut().enumerate() {
        *byte = ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let live = dir.path().join("live_damaged.ogg");
    std::fs::write(&live, bytes).expect("damaged live written");

    let events = follow_events(&reference_wav, &live, &[]);
    // The decoder may also mark a loss where the damage starts; the jump is the gap.
    let disconts = of_type(&events, "discont");
    let gap = disconts
        .iter()
        .find(|e| e["kind"] == "gap")
        .unwrap_or_else(|| panic!("a discont event of kind gap for the lost data: {disconts:?}"));
    let resumed_s = gap["live_ns"].as_f64().unwrap_or(f64::NAN) / 1e9;
    // The same recording: the truth after the gap is ref = live. Told how much was lost, the
    // tracker goes on near the right place at once (the last frames before the damage are
    // garbled, so not exactly), where relocation alone would take seconds from a gap behind.
    let errors_s = |from_s: f64, to_s: f64| -> Vec<f64> {
        positions(&events, false)
            .iter()
            .filter_map(|p| {
                let live_s = p["live_ns"].as_f64()? / 1e9;
                let ref_s = p["ref_ns"].as_f64()? / 1e9;
                (live_s > resumed_s + from_s && live_s < resumed_s + to_s).then(|| (ref_s - live_s).abs())
            })
            .collect()
    };
    let first = errors_s(0.0, 0.2);
    let settled = errors_s(2.0, 5.0);
    let within = settled.iter().filter(|&&e| e <= 0.1).count() as f64 / settled.len().max(1) as f64;
    println!(
        "{}: first position after it {:.2} s off; {:.0}% of positions 2–5 s after it within 100 ms",
        gap["reason"],
        first.first().copied().unwrap_or(f64::NAN),
        within * 100.0
    );
    assert!(
        first.first().is_some_and(|&e| e < 1.0),
        "first positions after the gap: {first:?}"
    );
    assert!(within >= 0.9, "{:.0}% within 100 ms: {settled:?}", within * 100.0);
}

#[test]
fn announces_each_cue_when_the_live_stream_reaches_it() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_ref_s = 20.0;
    let notes = melody(total_ref_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_ref_s, total_ref_s)],
    };
    // The live rendition is slower in its middle part, so cues come later in live time.
    let map = TimeMap {
        points: vec![(0.0, 0.0), (6.0, 6.0), (14.0, 16.0), (total_ref_s, 22.0)],
    };
    let reference_wav = dir.path().join("reference.wav");
    let live_wav = dir.path().join("live.wav");
    write_wav(
        &reference_wav,
        RATE_HZ,
        &render(&notes, &identity, RATE_HZ, total_ref_s, 0.0),
    );
    write_wav(&live_wav, RATE_HZ, &render(&notes, &map, RATE_HZ, 22.0, 0.01));
    let cues = dir.path().join("cues.srt");
    std::fs::write(
        &cues,
        "1\n00:00:04,000 --> 00:00:05,000\nFirst line\n\n\
         2\n00:00:10,000 --> 00:00:11,000\nSecond line\n\n\
         3\n00:00:16,000 --> 00:00:17,000\nThird line\n",
    )
    .expect("cues written");

    let events = follow_events(
        &reference_wav,
        &live_wav,
        &["--cues", cues.to_str().unwrap_or_default()],
    );
    let announced: Vec<(String, f64, f64)> = of_type(&events, "cue")
        .iter()
        .map(|e| {
            (
                e["cue"].as_str().unwrap_or_default().to_owned(),
                e["ref_ns"].as_f64().unwrap_or(f64::NAN) / 1e9,
                e["live_ns"].as_f64().unwrap_or(f64::NAN) / 1e9,
            )
        })
        .collect();
    println!("cues announced (id, ref s, live s): {announced:?}");
    let ids: Vec<&str> = announced.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["First line", "Second line", "Third line"],
        "each cue once, in order"
    );
    for (id, ref_s, live_s) in &announced {
        let truth_s = map.live_of(*ref_s);
        assert!(
            (live_s - truth_s).abs() <= 0.2,
            "{id}: announced at {live_s:.2} s of live, reached at {truth_s:.2} s"
        );
    }
}

#[test]
fn reads_files_named_relative_to_the_working_folder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let notes = melody(8.0);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (8.0, 8.0)],
    };
    write_wav(
        &dir.path().join("reference.wav"),
        RATE_HZ,
        &render(&notes, &identity, RATE_HZ, 8.0, 0.0),
    );
    write_wav(
        &dir.path().join("live.wav"),
        RATE_HZ,
        &render(&notes, &identity, RATE_HZ, 8.0, 0.01),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args([
            "follow",
            "--reference",
            "reference.wav",
            "--live",
            "live.wav",
            "--pace",
            "fast",
        ])
        .current_dir(dir.path())
        .output()
        .expect("the warpflow binary runs");
    assert!(
        output.status.success(),
        "relative paths: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = common::events(&output);
    assert!(
        !positions(&events, true).is_empty(),
        "positions of the relative live file"
    );
}
