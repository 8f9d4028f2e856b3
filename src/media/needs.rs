//! What the encoders need from a source: which media, in which format.

/// Audio the encoders need: mono F32 at one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioNeeds {
    /// Sample rate the audio is resampled to.
    pub rate_hz: u32,
}

/// Video the encoders need: frames of one size, greyscale or RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoNeeds {
    /// Width the picture is scaled to.
    pub width: u32,
    /// Height the picture is scaled to.
    pub height: u32,
    /// RGB (3 bytes a pixel) rather than greyscale (1 byte).
    pub colour: bool,
}

/// The media a run needs; `None` means that medium is not captured at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaNeeds {
    /// Audio, if needed.
    pub audio: Option<AudioNeeds>,
    /// Video, if needed.
    pub video: Option<VideoNeeds>,
}

impl MediaNeeds {
    /// The formats asked for, in words: "audio F32LE mono 16000 Hz, video GRAY8 64×48".
    pub fn describe(&self) -> String {
        let audio = self.audio.map(|a| format!("audio F32LE mono {} Hz", a.rate_hz));
        let video = self.video.map(|v| {
            let format = if v.colour { "RGB" } else { "GRAY8" };
            format!("video {format} {}×{}", v.width, v.height)
        });
        [audio, video].into_iter().flatten().collect::<Vec<_>>().join(", ")
    }
}

impl AudioNeeds {
    /// Caps the audio appsink accepts.
    pub fn caps(&self) -> gst::Caps {
        gst::Caps::builder("audio/x-raw")
            .field("format", "F32LE")
            .field("layout", "interleaved")
            .field("channels", 1i32)
            .field("rate", self.rate_hz as i32)
            .build()
    }
}

impl VideoNeeds {
    /// Caps the video appsink accepts.
    pub fn caps(&self) -> gst::Caps {
        gst::Caps::builder("video/x-raw")
            .field("format", if self.colour { "RGB" } else { "GRAY8" })
            .field("width", self.width as i32)
            .field("height", self.height as i32)
            .build()
    }
}
