//! The `avalign` GStreamer plugin: warpflow's live alignment as one element of any pipeline.
//!
//! Build it with `cargo build -p gst-plugin-avalign --release` and point `GST_PLUGIN_PATH` at
//! `target/release`; `gst-inspect-1.0 avalign` then documents it.

use gst::glib;

mod avalign;

pub use avalign::{AvAlign, Mode, ALIGN_META_NAME, EVENT_MESSAGE_NAME};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    avalign::register(plugin)
}

/// The plugin's description for GStreamer, and `plugin_register_static` for programs and
/// tests that link the plugin in.
pub mod plugin {
    #![allow(missing_docs)]
    use super::plugin_init;

    gst::plugin_define!(
        avalign,
        env!("CARGO_PKG_DESCRIPTION"),
        plugin_init,
        concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
        "MIT/X11",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_REPOSITORY"),
        env!("BUILD_REL_DATE")
    );
}

pub use plugin::plugin_register_static;
