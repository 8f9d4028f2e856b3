//! The built-in flash-and-beep test pattern, generated into two appsrcs.
//!
//! Video: black frames, with the first frame of every second all white. Audio: quiet white
//! noise, with a sine beep starting `av_offset_ms` (plus `drift_ppm` of the time elapsed) after
//! each flash frame's timestamp. The pattern is the ground truth for `sync`.

use std::sync::Mutex;

use gst::prelude::*;
use gst_app::AppSrc;

use crate::config::TestPatternParams;

use super::MediaError;

/// Audio is generated in buffers of this length.
const AUDIO_CHUNK_MS: u64 = 10;
const BEEP_AMPLITUDE: f64 = 0.5;
/// Audio chunks the source holds ready before it waits to be asked for more.
const AUDIO_CHUNKS_AHEAD: usize = 8;

/// Adds the video appsrc, linked to `video_pad`, and/or the audio appsrc, linked to `audio_pad`.
pub(crate) fn add_test_pattern(
    pipeline: &gst::Pipeline,
    params: &TestPatternParams,
    video_pad: Option<&gst::Pad>,
    audio_pad: Option<&gst::Pad>,
) -> Result<(), MediaError> {
    let link = |src: &AppSrc, pad: &gst::Pad| -> Result<(), MediaError> {
        pipeline.add(src).map_err(|e| runtime(e.to_string()))?;
        let src_pad = src
            .static_pad("src")
            .ok_or_else(|| runtime("appsrc without a src pad".into()))?;
        src_pad
            .link(pad)
            .map(|_| ())
            .map_err(|e| runtime(format!("linking the test pattern: {e:?}")))
    };
    if let Some(pad) = video_pad {
        link(&video_source(params), pad)?;
    }
    if let Some(pad) = audio_pad {
        link(&audio_source(params), pad)?;
    }
    Ok(())
}

fn runtime(detail: String) -> MediaError {
    MediaError::Runtime {
        source_name: "test pattern".into(),
        detail,
    }
}

fn video_source(params: &TestPatternParams) -> AppSrc {
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", params.width as i32)
        .field("height", params.height as i32)
        .field(
            "framerate",
            gst::Fraction::approximate_f64(params.fps).unwrap_or(gst::Fraction::new(30, 1)),
        )
        .build();
    let src = AppSrc::builder()
        .name("test-video")
        .caps(&caps)
        .format(gst::Format::Time)
        .build();
    let params = params.clone();
    let frame_bytes = (params.width * params.height * 3) as usize;
    let next_frame = Mutex::new(0u64);
    src.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |src, _| {
                let Ok(mut index) = next_frame.lock() else {
                    return;
                };
                if *index >= params.frame_count() {
                    let _ = src.end_of_stream();
                    return;
                }
                let fill = if params.is_flash_frame(*index) { 255 } else { 0 };
                let mut buffer = gst::Buffer::from_mut_slice(vec![fill; frame_bytes]);
                if let Some(buffer) = buffer.get_mut() {
                    let pts = params.frame_time_ns(*index);
                    buffer.set_pts(gst::ClockTime::from_nseconds(pts));
                    buffer.set_duration(gst::ClockTime::from_nseconds(params.frame_time_ns(*index + 1) - pts));
                }
                *index += 1;
                let _ = src.push_buffer(buffer);
            })
            .build(),
    );
    src
}

/// Start of the beep that belongs to second `second`, in ns; none before the first second.
fn beep_onset_ns(params: &TestPatternParams, second: i64) -> Option<i64> {
    let flash_ns = params.frame_time_ns(params.flash_frame_of_second(u64::try_from(second).ok()?)) as i64;
    let drift_ns = (flash_ns as f64 * params.drift_ppm * 1e-6).round() as i64;
    Some(flash_ns + params.av_offset_ms * 1_000_000 + drift_ns)
}

fn audio_source(params: &TestPatternParams) -> AppSrc {
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("channels", 1i32)
        .field("rate", params.rate_hz as i32)
        .build();
    let rate = u64::from(params.rate_hz);
    let chunk = (rate * AUDIO_CHUNK_MS / 1000) as usize;
    let src = AppSrc::builder()
        .name("test-audio")
        .caps(&caps)
        .format(gst::Format::Time)
        // The pattern is made as fast as it is taken; a few chunks ahead are enough.
        .max_bytes((AUDIO_CHUNKS_AHEAD * chunk * std::mem::size_of::<f32>()) as u64)
        .build();
    let params = params.clone();
    let total_samples = (params.duration_s * rate as f64).round() as u64;
    let beep_ns = i64::from(params.beep_ms) * 1_000_000;
    // (next sample index, noise generator state)
    let state = Mutex::new((0u64, 0x2545_f491_4f6c_dd1du64));
    src.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |src, _| {
                let Ok(mut state) = state.lock() else { return };
                let (first, mut noise_state) = *state;
                if first >= total_samples {
                    let _ = src.end_of_stream();
                    return;
                }
                let count = chunk.min((total_samples - first) as usize);
                let mut bytes = Vec::with_capacity(count * 4);
                for n in first..first + count as u64 {
                    let t_ns = (n as u128 * 1_000_000_000 / rate as u128) as i64;
                    // The second whose beep may be sounding at t: undo the offset and the drift.
                    let since_offset_ns = (t_ns - params.av_offset_ms * 1_000_000) as f64;
                    let second = (since_offset_ns / (1.0 + params.drift_ppm * 1e-6) / 1e9).floor() as i64;
                    let mut value = 0.0f64;
                    for candidate in second - 1..=second + 1 {
                        let Some(onset) = beep_onset_ns(&params, candidate) else {
                            continue;
                        };
                        if (onset..onset + beep_ns).contains(&t_ns) {
                            let since_s = (t_ns - onset) as f64 / 1e9;
                            value = BEEP_AMPLITUDE * (2.0 * std::f64::consts::PI * params.beep_hz * since_s).sin();
                        }
                    }
                    noise_state ^= noise_state << 13;
                    noise_state ^= noise_state >> 7;
                    noise_state ^= noise_state << 17;
                    let uniform = (noise_state >> 11) as f64 / (1u64 << 53) as f64;
                    value += params.noise * (2.0 * uniform - 1.0);
                    bytes.extend_from_slice(&(value as f32).to_le_bytes());
                }
                let mut buffer = gst::Buffer::from_mut_slice(bytes);
                if let Some(buffer) = buffer.get_mut() {
                    let pts = first * 1_000_000_000 / rate;
                    let end = (first + count as u64) * 1_000_000_000 / rate;
                    buffer.set_pts(gst::ClockTime::from_nseconds(pts));
                    buffer.set_duration(gst::ClockTime::from_nseconds(end - pts));
                }
                *state = (first + count as u64, noise_state);
                let _ = src.push_buffer(buffer);
            })
            .build(),
    );
    src
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_beep_follows_its_flash_by_the_offset() {
        for (fps, offset) in [(30.0, 80), (29.97, -120), (25.0, 0)] {
            let params = TestPatternParams {
                fps,
                av_offset_ms: offset,
                ..Default::default()
            };
            for second in 0..10 {
                let flash = (0..params.frame_count())
                    .filter(|&i| params.is_flash_frame(i))
                    .nth(second as usize)
                    .unwrap();
                let expected = params.frame_time_ns(flash) as i64 + offset * 1_000_000;
                assert_eq!(
                    beep_onset_ns(&params, second),
                    Some(expected),
                    "fps {fps} second {second}"
                );
            }
        }
    }
}
