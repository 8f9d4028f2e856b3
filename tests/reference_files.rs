//! `warpflow encode-ref` and `follow` on the `.wfr` files it writes: the same positions as from
//! the media file, smaller files within tolerance, and files that do not fit the run refused.

mod common;

use std::path::Path;

use common::{follow_events, melody, positions, render, warpflow, write_wav, TimeMap};

const RATE_HZ: u32 = 22_050;

/// A 20 s reference and a rendition of it at 1.1× with noise, as WAV files in `dir`.
fn recordings(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let total_s = 20.0;
    let notes = melody(total_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s)],
    };
    let faster = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s / 1.1)],
    };
    let (reference, live) = (dir.join("reference.wav"), dir.join("live.wav"));
    write_wav(&reference, RATE_HZ, &render(&notes, &identity, RATE_HZ, total_s, 0.0));
    write_wav(&live, RATE_HZ, &render(&notes, &faster, RATE_HZ, total_s / 1.1, 0.01));
    (reference, live)
}

fn encode_ref(reference: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "encode-ref",
        reference.to_str().unwrap_or_default(),
        "-o",
        output.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    warpflow(&args)
}

fn provisional_refs(events: &[serde_json::Value]) -> Vec<u64> {
    positions(events, false)
        .iter()
        .filter_map(|p| p["ref_ns"].as_u64())
        .collect()
}

#[test]
fn follow_on_a_reference_file_gives_the_positions_of_the_media_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (reference, live) = recordings(dir.path());
    let wfr = dir.path().join("reference.wfr");
    let output = encode_ref(&reference, &wfr, &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let from_media = provisional_refs(&follow_events(&reference, &live, &[]));
    let from_file = provisional_refs(&follow_events(&wfr, &live, &[]));
    assert!(from_media.len() > 500);
    assert_eq!(from_file, from_media);

    // A quarter of the size, and positions within a frame or two of the exact ones.
    let small = dir.path().join("reference-int8.wfr");
    assert!(encode_ref(&reference, &small, &["--sample-format", "int8"])
        .status
        .success());
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    assert!(
        size(&small) * 3 < size(&wfr),
        "int8 {} bytes, f32 {}",
        size(&small),
        size(&wfr)
    );
    let from_small = provisional_refs(&follow_events(&small, &live, &[]));
    let mut differences: Vec<u64> = from_small
        .iter()
        .zip(&from_media)
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    differences.sort_unstable();
    let median_ms = differences[differences.len() / 2] as f64 / 1e6;
    println!("int8 reference: median difference {median_ms:.1} ms from the exact features");
    assert!(median_ms <= 40.0, "int8 positions differ by {median_ms} ms (median)");
}

#[test]
fn follow_compares_the_features_a_reference_file_was_made_with_unless_told_otherwise() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (reference, live) = recordings(dir.path());
    for features in ["logmel", "chroma"] {
        let wfr = dir.path().join(format!("{features}.wfr"));
        assert!(encode_ref(&reference, &wfr, &["--audio-features", features])
            .status
            .success());
        // No --audio-features: the file's, the same positions as when they are named.
        let from_file = provisional_refs(&follow_events(&wfr, &live, &[]));
        let named = provisional_refs(&follow_events(&wfr, &live, &["--audio-features", features]));
        assert!(from_file.len() > 500, "{features}: {} positions", from_file.len());
        assert_eq!(from_file, named, "{features}");
    }
}

#[test]
fn reference_files_that_do_not_fit_the_run_are_refused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (reference, live) = recordings(dir.path());
    let chroma = dir.path().join("chroma.wfr");
    assert!(encode_ref(&reference, &chroma, &["--audio-features", "chroma"])
        .status
        .success());
    let refused = |args: &[&str], needles: &[&str]| {
        let output = warpflow(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{args:?}: no '{needle}' in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    let (chroma_path, live_path) = (chroma.to_str().unwrap_or_default(), live.to_str().unwrap_or_default());
    // Made with chroma, followed with log-mel and its rise.
    refused(
        &[
            "follow",
            "--reference",
            chroma_path,
            "--live",
            live_path,
            "--pace",
            "fast",
            "--audio-features",
            "logmel-flux",
        ],
        &["chroma.wfr", "'chroma'", "'logmel-flux'", "encode-ref"],
    );
    // Cut short, as by an interrupted copy.
    let bytes = std::fs::read(&chroma).expect("the file");
    let cut = dir.path().join("cut.wfr");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("writing");
    refused(
        &[
            "follow",
            "--reference",
            cut.to_str().unwrap_or_default(),
            "--live",
            live_path,
            "--audio-features",
            "chroma",
        ],
        &["cut.wfr", "truncated"],
    );
    // A media file where a reference file is expected, and an output name follow would not know.
    let wav_named_wfr = dir.path().join("sound.wfr");
    std::fs::copy(&reference, &wav_named_wfr).expect("copying");
    refused(
        &[
            "follow",
            "--reference",
            wav_named_wfr.to_str().unwrap_or_default(),
            "--live",
            live_path,
        ],
        &["sound.wfr", "not a warpflow reference file"],
    );
    refused(
        &[
            "encode-ref",
            reference.to_str().unwrap_or_default(),
            "-o",
            "out.features",
        ],
        &["out.features", ".wfr"],
    );
}

#[test]
fn the_streams_of_one_process_share_a_reference_file_until_it_changes() {
    use std::sync::Arc;
    use warpflow::flow::{follow_audio_encoder, follow_audio_features, load_shared_reference, FollowEncoders};

    let dir = tempfile::tempdir().expect("temporary folder");
    let (reference, _) = recordings(dir.path());
    let wfr = dir.path().join("reference.wfr");
    assert!(encode_ref(&reference, &wfr, &[]).status.success());
    let encoders = |wfr: &Path| {
        let features = follow_audio_features(None, wfr).expect("the file's features");
        let audio = follow_audio_encoder(features, None, tch::Device::Cpu, false).expect("an encoder");
        FollowEncoders::new(audio, None, false).expect("encoders")
    };
    let load = |path: &Path| load_shared_reference(path, &mut encoders(path), |_, _| {}).expect("the reference loads");

    let first = load(&wfr);
    let second = load(&wfr);
    assert!(
        Arc::ptr_eq(&first.features, &second.features),
        "one matrix for both streams"
    );
    assert_eq!(first.duration_ns, second.duration_ns);

    // Rewritten (here with other values), the file is loaded afresh.
    assert!(encode_ref(&reference, &wfr, &["--sample-format", "int8"])
        .status
        .success());
    let rewritten = load(&wfr);
    assert!(!Arc::ptr_eq(&first.features, &rewritten.features));

    // A media reference is encoded for its stream alone.
    let from_media = load(&reference);
    assert!(!Arc::ptr_eq(&load(&reference).features, &from_media.features));
}
