//! The `webcam[:/dev/videoN][?mic=…]` source: a V4L2 camera and the microphone that goes with it.

use std::fmt;
use std::path::PathBuf;

use super::ConfigError;

/// Where a webcam run takes its sound from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Microphone {
    /// The system's default input, whatever serves it (autoaudiosrc).
    Auto,
    /// PulseAudio or PipeWire's Pulse service, optionally a named source (pulsesrc).
    Pulse(Option<String>),
    /// An ALSA device directly, optionally named such as `hw:1` (alsasrc).
    Alsa(Option<String>),
    /// No microphone: only for runs that need no sound.
    None,
}

/// A camera device (the system's first when `None`) and its microphone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebcamSpec {
    /// The V4L2 device, e.g. /dev/video0.
    pub device: Option<PathBuf>,
    /// The microphone.
    pub microphone: Microphone,
}

const MIC_FORMS: &str = "auto, pulse, pulse:SOURCE, alsa, alsa:DEVICE (e.g. alsa:hw:1) or none";

impl WebcamSpec {
    /// Parses what follows `webcam` in a source: nothing, `:DEVICE`, `?mic=…`, or both.
    pub(crate) fn parse(rest: &str) -> Result<Self, ConfigError> {
        let (device_part, query) = match rest.split_once('?') {
            Some((device, query)) => (device, Some(query)),
            None => (rest, None),
        };
        let device = match device_part.strip_prefix(':') {
            Some("") => return Err(bad("device", "", "a device such as /dev/video0 after 'webcam:'")),
            Some(device) => Some(PathBuf::from(device)),
            None if device_part.is_empty() => None,
            None => {
                return Err(bad(
                    "device",
                    device_part,
                    "'webcam:' followed by a device such as /dev/video0",
                ))
            }
        };
        let mut microphone = Microphone::Auto;
        for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("mic", value)) => microphone = parse_microphone(value)?,
                _ => return Err(bad("parameter", pair, "mic=… (the only webcam parameter)")),
            }
        }
        Ok(Self { device, microphone })
    }
}

fn parse_microphone(value: &str) -> Result<Microphone, ConfigError> {
    let named = |name: &str| (!name.is_empty()).then(|| name.to_owned());
    match value.split_once(':') {
        None => match value {
            "auto" => Ok(Microphone::Auto),
            "pulse" => Ok(Microphone::Pulse(None)),
            "alsa" => Ok(Microphone::Alsa(None)),
            "none" => Ok(Microphone::None),
            _ => Err(bad("mic", value, MIC_FORMS)),
        },
        Some(("pulse", name)) => Ok(Microphone::Pulse(named(name))),
        Some(("alsa", name)) => Ok(Microphone::Alsa(named(name))),
        Some(_) => Err(bad("mic", value, MIC_FORMS)),
    }
}

fn bad(what: &str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::BadValue {
        name: match what {
            "device" => "webcam device",
            "mic" => "webcam mic",
            _ => "webcam parameter",
        },
        value: value.to_owned(),
        expected,
    }
}

impl fmt::Display for WebcamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.device {
            Some(device) => write!(f, "webcam {}", device.display())?,
            None => write!(f, "webcam")?,
        }
        match &self.microphone {
            Microphone::Auto => Ok(()),
            Microphone::Pulse(None) => write!(f, " with the PulseAudio microphone"),
            Microphone::Pulse(Some(name)) => write!(f, " with PulseAudio source {name}"),
            Microphone::Alsa(None) => write!(f, " with the ALSA microphone"),
            Microphone::Alsa(Some(name)) => write!(f, " with ALSA device {name}"),
            Microphone::None => write!(f, " without a microphone"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_microphones_are_read() {
        let parsed = |rest: &str| WebcamSpec::parse(rest).unwrap();
        assert_eq!(
            parsed(""),
            WebcamSpec {
                device: None,
                microphone: Microphone::Auto
            }
        );
        assert_eq!(parsed(":/dev/video2").device, Some("/dev/video2".into()));
        assert_eq!(parsed("?mic=pulse").microphone, Microphone::Pulse(None));
        assert_eq!(
            parsed(":/dev/video0?mic=alsa:hw:1"),
            WebcamSpec {
                device: Some("/dev/video0".into()),
                microphone: Microphone::Alsa(Some("hw:1".into()))
            }
        );
        assert_eq!(parsed("?mic=none").microphone, Microphone::None);
        assert_eq!(
            parsed(":/dev/video0?mic=alsa:hw:1").to_string(),
            "webcam /dev/video0 with ALSA device hw:1"
        );
    }

    #[test]
    fn bad_forms_name_what_is_wrong() {
        for (rest, needle) in [
            (":", "webcam device"),
            ("x", "webcam device"),
            ("?mic=bluetooth", "alsa:DEVICE"),
            ("?mic=jack:1", "webcam mic"),
            ("?gain=3", "gain=3"),
        ] {
            let error = WebcamSpec::parse(rest).unwrap_err().to_string();
            assert!(error.contains(needle), "{rest}: {error}");
        }
    }
}
