//! A real pretrained model end to end: Silero VAD (from the silero-vad PyPI package, which
//! scripts/setup.sh puts in ~/.cache/warpflow/models with its contract) as an audio encoder,
//! giving the probability of speech per 32 ms window: high over espeak-ng's speech, low over
//! the silence and hiss around it.

use std::path::PathBuf;
use std::process::Command;

use warpflow::encode::{ModelSettings, TorchScriptEncoder};
use warpflow::flow::FlowError;
use warpflow::media::decode_audio_file;

fn silero_vad() -> PathBuf {
    let cache = std::env::var_os("WARPFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow"));
    cache.join("models/silero_vad.jit")
}

#[test]
fn silero_vad_hears_speech_and_not_silence() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let speech = dir.path().join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-w", speech.to_str().unwrap_or_default(), "-s", "150"])
        .arg("the quick brown fox jumps over the lazy dog while the band plays on")
        .status()
        .expect("espeak-ng runs (./scripts/setup.sh installs it)");
    assert!(status.success());
    let mut samples = Vec::new();
    decode_audio_file::<FlowError, _>(&speech, 16_000, |chunk, _| {
        samples.extend_from_slice(chunk);
        Ok(())
    })
    .expect("decoding the speech");
    // 1.5 s of faint hiss, the speech, 1.5 s of hiss.
    let hiss = |n: usize| 0.003 * (((n * 2_654_435_761) >> 9) % 1000) as f32 / 1000.0 - 0.0015;
    let lead = 24_000;
    let mut audio: Vec<f32> = (0..lead).map(hiss).collect();
    let speech_windows = (lead / 512, (lead + samples.len()) / 512);
    audio.extend(samples.iter().enumerate().map(|(n, s)| s + hiss(n)));
    audio.extend((0..lead).map(hiss));
    audio.truncate(audio.len() / 512 * 512);

    let settings = ModelSettings {
        device: tch::Device::Cpu,
        max_batch: 64,
        half: false,
    };
    let mut vad = TorchScriptEncoder::load(&silero_vad(), settings).expect("Silero VAD loads with its contract");
    let mut probability = Vec::new();
    vad.encode_audio(&audio, &mut probability).expect("encoding");
    assert_eq!(probability.len(), audio.len() / 512);
    let mean = |values: &[f32]| values.iter().sum::<f32>() / values.len().max(1) as f32;
    let in_speech = mean(&probability[speech_windows.0 + 5..speech_windows.1 - 5]);
    let before = mean(&probability[..speech_windows.0 - 5]);
    let after = mean(&probability[speech_windows.1 + 10..]);
    println!("Silero VAD: speech {in_speech:.2}, hiss before {before:.2}, after {after:.2}");
    assert!(in_speech > 0.6 && before < 0.2 && after < 0.2);

    // Its state is reset between recordings: the same audio gives the same probabilities.
    vad.reset().expect("reset_states");
    let mut again = Vec::new();
    vad.encode_audio(&audio, &mut again).expect("encoding again");
    assert_eq!(again, probability);
}
