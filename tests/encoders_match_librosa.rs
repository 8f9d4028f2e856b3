//! The built-in spectral encoders against librosa itself: the same signal goes through
//! `SpectralEncoder` and through librosa (run at test time with the project's venv), frame by
//! frame, for two framings and with and without the decibel floor.
//!
//! Tolerances (the float32 FFTs differ in rounding only):
//! - mel power: 1e-3 of the value, plus 1e-6 of the frame's largest band;
//! - MFCC: 0.05 (the coefficients span hundreds);
//! - chroma (peak 1): 1e-3;
//! - onset strength: 0.01 dB.

use std::path::{Path, PathBuf};
use std::process::Command;

use warpflow::encode::{AudioFrameParams, SpectralEncoder, SpectralFeature};

/// The venv's Python, where scripts/setup.sh installs librosa.
fn python() -> PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow/venv"));
    venv.join("bin/python")
}

/// 3 s: a loud tone first (so that the loudest value comes first and a stream's decibel floor
/// is librosa's from the start), then a chord, another chord, a chirp, over a quiet noise floor.
fn signal(rate_hz: u32) -> Vec<f32> {
    let rate = rate_hz as f32;
    let mut state = 0x9e37_79b9u32;
    (0..3 * rate_hz as usize)
        .map(|n| {
            let t = n as f32 / rate;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let tone = |hz: f32| (2.0 * std::f32::consts::PI * hz * t).sin();
            let music = if t < 0.15 {
                3.0 * tone(1000.0)
            } else if t < 1.0 {
                0.3 * (tone(261.6) + tone(329.6) + tone(392.0))
            } else if t < 2.0 {
                0.3 * (tone(293.7) + tone(370.0) + tone(440.0))
            } else {
                0.5 * (2.0 * std::f32::consts::PI * (200.0 * t + 400.0 * (t - 2.0) * (t - 2.0))).sin()
            };
            music + 0.002 * noise
        })
        .collect()
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

struct Setting {
    params: AudioFrameParams,
    n_mels: usize,
    n_mfcc: usize,
    n_chroma: usize,
    top_db: Option<f64>,
}

fn compare(setting: &Setting) {
    let Setting {
        params,
        n_mels,
        n_mfcc,
        n_chroma,
        top_db,
    } = *setting;
    let dir = tempfile::tempdir().expect("temporary folder");
    let samples = signal(params.rate_hz);
    let signal_path = dir.path().join("signal.f32");
    let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&signal_path, bytes).expect("writing the signal");
    let top_db_arg = top_db.map_or_else(|| "none".to_owned(), |v| v.to_string());
    let output = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/librosa_features.py"))
        .arg(&signal_path)
        .arg(dir.path())
        .args([params.rate_hz, params.frame_len as u32, params.hop_len as u32].map(|v| v.to_string()))
        .args([n_mels, n_mfcc, n_chroma].map(|v| v.to_string()))
        .arg(&top_db_arg)
        .output()
        .expect("running the venv's python (./scripts/setup.sh installs it with librosa)");
    assert!(
        output.status.success(),
        "librosa failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let count = (samples.len() - params.frame_len) / params.hop_len + 1;
    let frames: Vec<f32> = (0..count)
        .flat_map(|k| {
            samples[k * params.hop_len..k * params.hop_len + params.frame_len]
                .iter()
                .copied()
        })
        .collect();
    let features = [
        ("mel", SpectralFeature::Mel { n_mels }),
        ("mfcc", SpectralFeature::Mfcc { n_mels, n_mfcc }),
        ("chroma", SpectralFeature::Chroma { n_chroma }),
        ("onset", SpectralFeature::OnsetStrength { n_mels }),
    ];
    for (name, feature) in features {
        let mut encoder =
            SpectralEncoder::new(feature, params, top_db, tch::Device::Cpu).expect("building the encoder");
        let mut ours = Vec::new();
        // In two batches, as a stream would come.
        let split = (count / 3) * params.frame_len;
        encoder.encode(&frames[..split], &mut ours).expect("encoding");
        encoder.encode(&frames[split..], &mut ours).expect("encoding");
        let theirs = read_f32(&dir.path().join(format!("{name}.f32")));
        assert_eq!(ours.len(), theirs.len(), "{name}: value count");
        let dim = encoder.dim();
        let mut worst = 0.0f32;
        for (k, (a, b)) in ours.chunks(dim).zip(theirs.chunks(dim)).enumerate() {
            let largest = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
                let allowed = match name {
                    "mel" => 1e-3 * y.abs() + 1e-6 * largest,
                    "mfcc" => 0.05,
                    "chroma" => 1e-3,
                    _ => 0.01,
                };
                worst = worst.max((x - y).abs() / allowed);
                assert!(
                    (x - y).abs() <= allowed,
                    "{name} ({params:?}, top_db {top_db_arg}): frame {k} value {i} is {x}, librosa {y}"
                );
            }
        }
        println!(
            "{name} {}/{}/{} top_db {top_db_arg}: {count} frames × {dim}, worst difference {:.2} of the tolerance",
            params.rate_hz, params.frame_len, params.hop_len, worst
        );
    }
}

#[test]
fn spectral_encoders_match_librosa() {
    let defaults = AudioFrameParams {
        rate_hz: 22_050,
        frame_len: 2048,
        hop_len: 512,
        history_len: 0,
    };
    let speech = AudioFrameParams {
        rate_hz: 16_000,
        frame_len: 512,
        hop_len: 160,
        history_len: 0,
    };
    for setting in [
        Setting {
            params: defaults,
            n_mels: 128,
            n_mfcc: 20,
            n_chroma: 12,
            top_db: Some(80.0),
        },
        Setting {
            params: speech,
            n_mels: 40,
            n_mfcc: 13,
            n_chroma: 24,
            top_db: None,
        },
    ] {
        compare(&setting);
    }
}
