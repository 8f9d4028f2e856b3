//! `sync` with the models a user brings, made small at test time with the venv's torch
//! (tests/python/make_models.py) and run on clips with a known offset
//! (tests/python/make_sync_media.py): a face model keeps the region in its box, and a
//! SyncNet-style pair of embedders replaces the correlation with their agreement.

mod common;

use std::path::Path;
use std::process::Command;

use common::{events, of_type, python, test_models, warpflow};
use serde_json::Value;

/// The clips' audio comes this much after their picture.
const SHIFT_MS: f64 = 120.0;
/// One video frame at their 30 fps.
const FRAME_MS: f64 = 1000.0 / 30.0;
/// The face model's box, where the clip's mouth is.
const FACE: [f64; 4] = [0.4375, 0.5, 0.1875, 0.25];

fn media() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/make_sync_media.py"))
        .arg(dir.path())
        .arg(SHIFT_MS.to_string())
        .output()
        .expect("running the venv's python");
    assert!(
        output.status.success(),
        "make_sync_media.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

fn offsets(clip: &Path, extra: &[&str]) -> Vec<Value> {
    let clip = clip.to_string_lossy();
    let mut args = vec!["sync", "--live", clip.as_ref(), "--pace", "fast"];
    args.extend_from_slice(extra);
    let output = warpflow(&args);
    assert!(
        output.status.success(),
        "sync {extra:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    of_type(&events(&output), "offset").into_iter().cloned().collect()
}

fn region(event: &Value) -> Option<Vec<f64>> {
    event["region"]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_f64).collect())
}

#[test]
fn a_face_model_keeps_the_region_in_the_face() {
    let (models, clips) = (test_models(), media());
    let clip = clips.path().join("patch_picture.mp4");
    let face_model = models.path().join("face_box.pt");
    let with_face = offsets(&clip, &["--face-model", &face_model.to_string_lossy()]);
    let last = with_face.last().expect("estimates");
    assert_eq!(region(last), Some(FACE.to_vec()), "{last}");
    let read_ms = last["raw_offset_ns"].as_f64().unwrap_or(f64::NAN) / 1e6;
    assert!((read_ms - SHIFT_MS).abs() <= FRAME_MS, "read {read_ms} ms");
    assert!(with_face.iter().any(|e| e["locked"] == true), "never locked");
    // Without it, a larger patch that moves 300 ms ahead of the sound draws the region away.
    let without = offsets(&clip, &[]);
    assert!(
        without.iter().any(|e| region(e).is_some_and(|r| r != FACE.to_vec())),
        "the region stayed on the mouth without the face model"
    );
}

#[test]
fn a_sync_model_s_agreement_gives_the_offset() {
    let (models, clips) = (test_models(), media());
    let clip = clips.path().join("level_picture.mp4");
    let sync_model = models.path().join("sync_pair.pt");
    let estimates = offsets(&clip, &["--sync-model", &sync_model.to_string_lossy()]);
    // The model's estimates carry the part of the picture it looked at: all of it.
    let from_model: Vec<&Value> = estimates
        .iter()
        .filter(|e| region(e) == Some(vec![0.0, 0.0, 1.0, 1.0]))
        .collect();
    let last = from_model.last().expect("estimates from the model");
    let read_ms = last["raw_offset_ns"].as_f64().unwrap_or(f64::NAN) / 1e6;
    assert!((read_ms - SHIFT_MS).abs() <= FRAME_MS, "read {read_ms} ms");
    assert!(last["confidence"].as_f64() >= Some(0.5), "{last}");
    assert!(last["locked"] == true, "{last}");
}

#[test]
fn models_that_do_not_fit_sync_are_refused_naming_them() {
    let (models, clips) = (test_models(), media());
    let clip = clips.path().join("level_picture.mp4").to_string_lossy().into_owned();
    for (option, model, expected) in [
        ("--sync-model", "sync_pair_8k.pt", "16000 Hz"),
        ("--face-model", "channel_means.pt", "output_dim = 3"),
        ("--face-model", "energy.pt", "audio"),
    ] {
        let path = models.path().join(model).to_string_lossy().into_owned();
        let output = warpflow(&["sync", "--live", &clip, "--pace", "fast", option, &path]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option} {model}: {stderr}");
        assert!(
            stderr.contains(model) && stderr.contains(expected),
            "{option} {model}: {stderr}"
        );
    }
}
