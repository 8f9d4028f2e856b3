//! TorchScript encoders against small models built at test time with the venv's torch: the
//! contract is honoured (window, channel order, normalisation), models that break it are
//! refused naming the model, the expected and the actual shape, and `follow --audio-model`
//! follows a performance on a model's features.

mod common;

use warpflow::encode::{EncodeError, ModelMisfit, ModelSettings, TorchScriptEncoder};

use common::test_models as models;

const CPU: ModelSettings = ModelSettings {
    device: tch::Device::Cpu,
    max_batch: 3,
    half: false,
};

#[test]
fn audio_and_video_models_run_as_their_contracts_say() {
    let dir = models();
    let mut energy = TorchScriptEncoder::load(&dir.path().join("energy.pt"), CPU).expect("energy.pt loads");
    let params = energy.audio_params().expect("an audio contract");
    assert_eq!((params.rate_hz, params.frame_len, params.hop_len), (16_000, 400, 400));
    assert!(energy.name().starts_with("model:energy:"), "{}", energy.name());
    // Seven windows (more than one batch of three): window k holds the value k / 10.
    let windows: Vec<f32> = (0..7).flat_map(|k| std::iter::repeat_n(k as f32 / 10.0, 400)).collect();
    let mut rows = Vec::new();
    energy.encode_audio(&windows, &mut rows).expect("encoding");
    assert_eq!(rows.len(), 14);
    for k in 0..7 {
        let value = k as f32 / 10.0;
        assert!((rows[2 * k] - value * value).abs() < 1e-6 && (rows[2 * k + 1] - value).abs() < 1e-6);
    }
    assert!(energy.encode_audio(&windows[..399], &mut rows).is_err());
    // Pictures for an audio model: refused naming the model, its role and its contract.
    let misfit = energy
        .encode_video(&[0; 48], &mut rows)
        .expect_err("an audio model given pictures");
    assert!(
        matches!(
            &misfit,
            EncodeError::ModelMisfit {
                misfit: ModelMisfit::OtherInput { declared: "audio", .. },
                ..
            }
        ),
        "{misfit}"
    );
    assert!(
        misfit.to_string().contains("energy.pt") && misfit.to_string().contains("energy.toml"),
        "{misfit}"
    );

    // A pure red frame: channel means (1 − 0.5) / 0.25 = 2 for red, −2 for green and blue.
    let red: Vec<u8> = std::iter::repeat_n([255u8, 0, 0], 48).flatten().collect();
    for (model, expected) in [
        ("channel_means.pt", [2.0, -2.0, -2.0]),
        ("channel_means_bgr.pt", [-2.0, -2.0, 2.0]),
    ] {
        let mut encoder = TorchScriptEncoder::load(&dir.path().join(model), CPU).expect("loads");
        let mut means = Vec::new();
        encoder.encode_video(&red, &mut means).expect("encoding");
        for (got, want) in means.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{model}: {means:?}");
        }
    }
}

#[test]
fn models_that_break_their_contract_are_refused_with_both_shapes() {
    let dir = models();
    let load = |name: &str| TorchScriptEncoder::load(&dir.path().join(name), CPU);
    let echo = load("echo.pt")
        .expect_err("echo gives windows, not 2 values")
        .to_string();
    assert!(
        echo.contains("echo.pt") && echo.contains("[2, 400]") && echo.contains("[batch, 2]"),
        "{echo}"
    );
    let integers = load("integers.pt").expect_err("integers are not features").to_string();
    assert!(integers.contains("Int64"), "{integers}");
    let linear = load("linear512.pt").expect_err("a 512-input layer fed 400 samples");
    assert!(matches!(linear, EncodeError::ModelInput { .. }), "{linear}");
    assert!(linear.to_string().contains("[2, 400]"), "{linear}");

    let not_a_model = dir.path().join("noise.pt");
    std::fs::write(&not_a_model, b"not a model").expect("writing");
    std::fs::copy(dir.path().join("energy.toml"), dir.path().join("noise.toml")).expect("copying");
    assert!(matches!(
        TorchScriptEncoder::load(&not_a_model, CPU),
        Err(EncodeError::ModelLoad { .. })
    ));
    std::fs::remove_file(dir.path().join("energy.toml")).expect("removing");
    let missing = load("energy.pt").expect_err("no contract").to_string();
    assert!(missing.contains("energy.toml"), "{missing}");
}

#[test]
fn follow_runs_on_a_models_features_and_refuses_a_broken_model() {
    use common::{follow_events, melody, positions, render, write_wav, TimeMap};
    let dir = models();
    let (total_s, rate_hz) = (20.0, 22_050);
    let notes = melody(total_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s)],
    };
    let faster = TimeMap {
        points: vec![(0.0, 0.0), (total_s, total_s / 1.1)],
    };
    let (reference, live) = (dir.path().join("reference.wav"), dir.path().join("live.wav"));
    write_wav(&reference, rate_hz, &render(&notes, &identity, rate_hz, total_s, 0.0));
    write_wav(&live, rate_hz, &render(&notes, &faster, rate_hz, total_s / 1.1, 0.01));

    // Each position's distance from the truth, past the first 2 s.
    let errors_of = |events: &[serde_json::Value]| -> Vec<f64> {
        positions(events, false)
            .iter()
            .filter_map(|p| Some((p["live_ns"].as_f64()? / 1e9, p["ref_ns"].as_f64()? / 1e9)))
            .filter(|(live_s, _)| *live_s > 2.0)
            .map(|(live_s, ref_s)| 1e3 * (ref_s - faster.ref_of(live_s)).abs())
            .collect()
    };
    let model = dir.path().join("log_spectrum.pt");
    let events = follow_events(
        &reference,
        &live,
        &["--audio-model", model.to_str().unwrap_or_default()],
    );
    let mut errors_ms = errors_of(&events);
    assert!(errors_ms.len() > 500, "{} positions", errors_ms.len());
    let median_ms = common::median(&mut errors_ms);
    println!("follow on log_spectrum.pt features: median error {median_ms:.1} ms");
    assert!(median_ms < 60.0, "median error {median_ms} ms");

    // A model framed every 10 ms follows as well, and its positions come every 20 ms as
    // --emit-every-frames 1 says: frame counts are given in frames of 20 ms.
    let finer = dir.path().join("log_spectrum_10ms.pt");
    let events = follow_events(
        &reference,
        &live,
        &["--audio-model", finer.to_str().unwrap_or_default()],
    );
    let live_s: Vec<f64> = positions(&events, false)
        .iter()
        .filter_map(|p| Some(p["live_ns"].as_f64()? / 1e9))
        .collect();
    let mut steps_ms: Vec<f64> = live_s.windows(2).map(|w| 1e3 * (w[1] - w[0])).collect();
    assert!(steps_ms.len() > 500, "{} positions", steps_ms.len());
    let step_ms = common::median(&mut steps_ms);
    assert!((step_ms - 20.0).abs() < 1.0, "a position every {step_ms} ms");
    let mut errors_ms = errors_of(&events);
    let median_ms = common::median(&mut errors_ms);
    println!("follow on log_spectrum_10ms.pt features: median error {median_ms:.1} ms");
    assert!(median_ms < 60.0, "median error {median_ms} ms");

    // A join is given in seconds, whatever a model's frames: energy.pt's are 25 ms, and the
    // first position is where the user said.
    let energy = dir.path().join("energy.pt");
    let joined = follow_events(
        &reference,
        &live,
        &[
            "--audio-model",
            energy.to_str().unwrap_or_default(),
            "--join-at-s",
            "11",
        ],
    );
    let first_ref_s = positions(&joined, false)
        .first()
        .and_then(|p| p["ref_ns"].as_f64())
        .map_or(f64::NAN, |ns| ns / 1e9);
    assert!(
        (first_ref_s - 11.0).abs() < 0.2,
        "joined at 11 s, first placed at {first_ref_s} s"
    );

    let echo = dir.path().join("echo.pt");
    let refused = common::warpflow(&[
        "follow",
        "--reference",
        reference.to_str().unwrap_or_default(),
        "--live",
        live.to_str().unwrap_or_default(),
        "--audio-model",
        echo.to_str().unwrap_or_default(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("echo.pt") && message.contains("[2, 400]") && message.contains("[batch, 2]"),
        "{message}"
    );
}
