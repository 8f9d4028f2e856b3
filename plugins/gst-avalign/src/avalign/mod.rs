//! `avalign`: passes a video and an audio stream through unchanged while warpflow aligns
//! them — the audio against the video (`mode=sync`: the A/V offset) or the stream against a
//! reference recording (`mode=follow`: position, tempo, cues).
//!
//! Results leave as `warpflow-event` element messages on the bus (the fields of the event
//! schema) and, on video buffers, as a `WarpflowAlignMeta` custom meta holding the latest
//! position and offset. With `serve` set, the WebSocket feed and live page run too.
//!
//! ```text
//! gst-launch-1.0 -m v4l2src ! videoconvert ! avalign name=a mode=sync ! autovideosink \
//!     pulsesrc ! a.audio_sink a.audio_src ! autoaudiosink
//! ```

use gst::glib;
use gst::prelude::*;

mod choices;
mod engine;
mod imp;
mod messages;
mod meta;
mod property;
mod settings;
mod settings_error;

pub use choices::{Device, Features, Mode};
pub use messages::EVENT_MESSAGE_NAME;
pub use meta::ALIGN_META_NAME;

glib::wrapper! {
    /// The `avalign` element.
    pub struct AvAlign(ObjectSubclass<imp::AvAlign>) @extends gst::Element, gst::Object;
}

/// Registers `avalign` (and its meta) with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Mode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    Features::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    Device::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    meta::register();
    gst::Element::register(Some(plugin), "avalign", gst::Rank::NONE, AvAlign::static_type())
}
