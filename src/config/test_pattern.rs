//! Parameters of the built-in flash-and-beep test pattern (`test?name=value&…`).
//!
//! The pattern shows one bright frame and plays one short beep each second; the beep is
//! shifted by `av_offset_ms` (positive: audio late), which is the ground truth `sync` must find.
//! Offsets are limited to under half the one-second period, beyond which flash and beep would
//! pair up with the neighbouring second.

use super::ConfigError;

const KNOWN: &str = "av_offset_ms, drift_ppm, fps, duration_s, rate_hz, beep_hz, beep_ms, noise, width, height";

/// Settings of the flash-and-beep pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPatternParams {
    /// How much later the beep plays than its flash, in ms (negative: earlier).
    pub av_offset_ms: i64,
    /// How fast the beeps slide against the flashes, in parts per million of elapsed time
    /// (positive: audio falls further behind), as when the two come from different clocks.
    pub drift_ppm: f64,
    /// Video frame rate.
    pub fps: f64,
    /// Length of the pattern.
    pub duration_s: f64,
    /// Audio sample rate.
    pub rate_hz: u32,
    /// Pitch of the beep.
    pub beep_hz: f64,
    /// Length of the beep.
    pub beep_ms: u32,
    /// Amplitude of the background white noise, 0 to 1.
    pub noise: f64,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
}

impl Default for TestPatternParams {
    fn default() -> Self {
        Self {
            av_offset_ms: 0,
            drift_ppm: 0.0,
            fps: 30.0,
            duration_s: 20.0,
            rate_hz: 48_000,
            beep_hz: 1_000.0,
            beep_ms: 30,
            noise: 0.003,
            width: 320,
            height: 240,
        }
    }
}

impl TestPatternParams {
    /// Parses the part after `test?`; an empty query gives the defaults.
    pub fn from_query(query: &str) -> Result<Self, ConfigError> {
        let mut params = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "av_offset_ms" => {
                    params.av_offset_ms =
                        parse(name, value, -490.0, 490.0, "a whole number of ms from -490 to 490")? as i64
                }
                "drift_ppm" => {
                    params.drift_ppm = parse(name, value, -5_000.0, 5_000.0, "a drift from -5000 to 5000 ppm")?
                }
                "fps" => params.fps = parse(name, value, 1.0, 120.0, "a frame rate from 1 to 120")?,
                "duration_s" => {
                    params.duration_s = parse(name, value, 0.1, 86_400.0, "a duration in seconds from 0.1 to 86400")?
                }
                "rate_hz" => {
                    params.rate_hz =
                        parse(name, value, 8_000.0, 192_000.0, "a sample rate from 8000 to 192000 Hz")? as u32
                }
                "beep_hz" => params.beep_hz = parse(name, value, 50.0, 8_000.0, "a pitch from 50 to 8000 Hz")?,
                "beep_ms" => params.beep_ms = parse(name, value, 1.0, 400.0, "a beep length from 1 to 400 ms")? as u32,
                "noise" => params.noise = parse(name, value, 0.0, 1.0, "an amplitude from 0 to 1")?,
                "width" => params.width = parse(name, value, 16.0, 3840.0, "a width from 16 to 3840 pixels")? as u32,
                "height" => params.height = parse(name, value, 16.0, 2160.0, "a height from 16 to 2160 pixels")? as u32,
                _ => {
                    return Err(ConfigError::UnknownTestParameter {
                        name: name.to_owned(),
                        known: KNOWN,
                    })
                }
            }
        }
        if f64::from(params.beep_hz as u32) * 2.0 >= f64::from(params.rate_hz) {
            return Err(ConfigError::BadTestParameter {
                name: "beep_hz".into(),
                value: params.beep_hz.to_string(),
                expected: "a pitch below half the sample rate",
            });
        }
        Ok(params)
    }

    /// Length of one video frame.
    pub fn frame_ns(&self) -> f64 {
        1e9 / self.fps
    }

    /// Running time of video frame `index`.
    pub fn frame_time_ns(&self, index: u64) -> u64 {
        (index as f64 * self.frame_ns()).round() as u64
    }

    /// Whether video frame `index` is the flash of its second: the first frame at or after
    /// each whole second.
    pub fn is_flash_frame(&self, index: u64) -> bool {
        index == 0 || self.second_of_frame(index) != self.second_of_frame(index - 1)
    }

    /// The flash frame of whole second `second`.
    pub fn flash_frame_of_second(&self, second: u64) -> u64 {
        let mut frame = (second as f64 * self.fps).ceil() as u64;
        while frame > 0 && self.second_of_frame(frame - 1) >= second {
            frame -= 1;
        }
        while self.second_of_frame(frame) < second {
            frame += 1;
        }
        frame
    }

    fn second_of_frame(&self, index: u64) -> u64 {
        (index as f64 / self.fps).floor() as u64
    }

    /// Number of video frames in the pattern.
    pub fn frame_count(&self) -> u64 {
        (self.duration_s * self.fps).ceil() as u64
    }
}

fn parse(name: &str, value: &str, low: f64, high: f64, expected: &'static str) -> Result<f64, ConfigError> {
    let bad = || ConfigError::BadTestParameter {
        name: name.to_owned(),
        value: value.to_owned(),
        expected,
    };
    let number: f64 = value.trim().parse().map_err(|_| bad())?;
    if number.is_finite() && (low..=high).contains(&number) {
        Ok(number)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let p = TestPatternParams::from_query("av_offset_ms=80&fps=30&duration_s=20").unwrap();
        assert_eq!((p.av_offset_ms, p.fps, p.duration_s), (80, 30.0, 20.0));
        assert_eq!(TestPatternParams::from_query("").unwrap(), TestPatternParams::default());
    }

    #[test]
    fn names_the_parameter_at_fault() {
        let cases = [
            "av_offset_ms=abc",
            "fps=0",
            "duration_s=-1",
            "av_offset_ms=900",
            "fps=",
            "noise=2",
            "beep_hz=7000&rate_hz=8000",
        ];
        for query in cases {
            let err = TestPatternParams::from_query(query).unwrap_err();
            let name = query.split('=').next().unwrap();
            let message = err.to_string();
            assert!(
                message.contains(name.split('&').next().unwrap()) || message.contains("beep_hz"),
                "{query}: {message}"
            );
        }
        assert!(matches!(
            TestPatternParams::from_query("colour=red"),
            Err(ConfigError::UnknownTestParameter { .. })
        ));
    }

    #[test]
    fn one_flash_per_second() {
        for fps in [25.0, 29.97, 30.0, 60.0] {
            let p = TestPatternParams {
                fps,
                duration_s: 10.0,
                ..Default::default()
            };
            let flashes = (0..p.frame_count()).filter(|&i| p.is_flash_frame(i)).count();
            assert_eq!(flashes, 10, "fps {fps}");
        }
    }
}
