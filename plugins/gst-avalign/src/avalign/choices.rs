//! The element's enumerated properties: what it measures, which audio features it compares
//! and where its encoders run. As GObject enums, `gst-inspect-1.0 avalign` lists their values
//! and a pipeline naming another value fails when it is parsed, not when the element starts.

use gst::glib;
use warpflow::encode::{AudioFeatureKind, DeviceChoice};

/// What the element measures.
#[derive(Debug, Default, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAvAlignMode")]
pub enum Mode {
    /// The offset between the audio and the video (lip sync).
    #[default]
    #[enum_value(name = "Sync: the offset between the audio and the video", nick = "sync")]
    Sync = 0,
    /// Where the stream is in the reference recording, and how fast it goes.
    #[enum_value(name = "Follow: the position in the reference recording", nick = "follow")]
    Follow = 1,
}

/// The audio features mode=follow compares.
#[derive(Debug, Default, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAvAlignFeatures")]
pub enum Features {
    /// A `.wfr` reference's own features, else the library's default.
    #[default]
    #[enum_value(
        name = "Auto: a .wfr reference's own features, else semitone-flux-lows (key estimated and undone)",
        nick = "auto"
    )]
    Auto = 0,
    /// One band per semitone with its rise.
    #[enum_value(name = "Semitone bands with their rise", nick = "semitone-flux")]
    SemitoneFlux = 1,
    /// Log-mel spectrum with its rise.
    #[enum_value(name = "Log-mel spectrum with its rise", nick = "logmel-flux")]
    LogmelFlux = 2,
    /// Log-mel spectrum.
    #[enum_value(name = "Log-mel spectrum", nick = "logmel")]
    Logmel = 3,
    /// Pitch classes.
    #[enum_value(name = "Chroma: pitch classes", nick = "chroma")]
    Chroma = 4,
    /// Semitone bands with their rise, the low ones from a longer window.
    #[enum_value(
        name = "Semitone bands with their rise, those below C4 from a 372 ms window",
        nick = "semitone-flux-lows"
    )]
    SemitoneFluxLows = 5,
}

impl Features {
    /// The features asked for; `None` for `auto`, which the reference decides.
    pub fn asked(self) -> Option<AudioFeatureKind> {
        match self {
            Features::Auto => None,
            Features::SemitoneFlux => Some(AudioFeatureKind::SemitoneFlux),
            Features::LogmelFlux => Some(AudioFeatureKind::LogMelFlux),
            Features::Logmel => Some(AudioFeatureKind::LogMel),
            Features::Chroma => Some(AudioFeatureKind::Chroma),
            Features::SemitoneFluxLows => Some(AudioFeatureKind::SemitoneFluxLows),
        }
    }
}

/// Where the encoders run.
#[derive(Debug, Default, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstAvAlignDevice")]
pub enum Device {
    /// The first CUDA GPU libtorch sees, else the CPU.
    #[default]
    #[enum_value(name = "Auto: the first CUDA GPU, else the CPU", nick = "auto")]
    Auto = 0,
    /// The CPU.
    #[enum_value(name = "The CPU", nick = "cpu")]
    Cpu = 1,
    /// The CUDA GPU that `cuda-device-id` names.
    #[enum_value(name = "The CUDA GPU numbered by cuda-device-id", nick = "cuda")]
    Cuda = 2,
}

impl Device {
    /// The library's choice, with `cuda_device_id` the GPU's number when it is CUDA.
    pub fn choice(self, cuda_device_id: u32) -> DeviceChoice {
        match self {
            Device::Auto => DeviceChoice::Auto,
            Device::Cpu => DeviceChoice::Cpu,
            Device::Cuda => DeviceChoice::Cuda(cuda_device_id as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_feature_is_the_librarys_of_the_same_name() {
        for features in [
            Features::SemitoneFlux,
            Features::LogmelFlux,
            Features::Logmel,
            Features::Chroma,
            Features::SemitoneFluxLows,
        ] {
            let nick = glib::EnumValue::from_value(&gst::prelude::ToValue::to_value(&features))
                .map(|(_, value)| value.nick().to_owned());
            let asked = features.asked().map(|kind| kind.to_string());
            assert_eq!(nick, asked, "{features:?}");
        }
        assert_eq!(Features::Auto.asked(), None);
    }

    #[test]
    fn cuda_takes_the_device_id() {
        assert_eq!(Device::Cuda.choice(1), DeviceChoice::Cuda(1));
        assert_eq!(Device::Auto.choice(1), DeviceChoice::Auto);
    }
}
