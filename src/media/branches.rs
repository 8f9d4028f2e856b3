//! The conversion branches every source feeds: convert, resample or scale to what the
//! encoders need, then an appsink.

use gst::prelude::*;
use gst_app::AppSink;

use super::{AudioNeeds, MediaError, VideoNeeds};

/// A branch added to a pipeline: where to link a source pad, and the appsink at its end.
pub(crate) struct Branch {
    /// The sink pad of the branch's first element.
    pub sink_pad: gst::Pad,
    /// The appsink the records come from.
    pub appsink: AppSink,
}

/// Creates an element, naming the package to install when it is missing.
pub(crate) fn make(factory: &'static str, hint: &'static str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement { factory, hint })
}

/// A leaky-free queue that decouples the branch from its upstream's streaming thread.
fn queue() -> Result<gst::Element, MediaError> {
    make("queue", "gstreamer1.0-plugins-base")
}

fn appsink(caps: &gst::Caps, sync: bool) -> AppSink {
    AppSink::builder()
        .caps(caps)
        .sync(sync)
        .max_buffers(4)
        .build()
}

fn add_chain(pipeline: &gst::Pipeline, elements: &[&gst::Element]) -> Result<(), MediaError> {
    pipeline
        .add_many(elements)
        .map_err(|e| MediaError::Runtime {
            source_name: "pipeline".into(),
            detail: e.to_string(),
        })?;
    gst::Element::link_many(elements).map_err(|e| MediaError::Runtime {
        source_name: "pipeline".into(),
        detail: e.to_string(),
    })
}

/// `queue ! audioconvert ! audioresample ! appsink` producing mono F32 at `needs.rate_hz`.
pub(crate) fn add_audio_branch(
    pipeline: &gst::Pipeline,
    needs: AudioNeeds,
    sync: bool,
) -> Result<Branch, MediaError> {
    let queue = queue()?;
    let convert = make("audioconvert", "gstreamer1.0-plugins-base")?;
    let resample = make("audioresample", "gstreamer1.0-plugins-base")?;
    let sink = appsink(&needs.caps(), sync);
    add_chain(pipeline, &[&queue, &convert, &resample, sink.upcast_ref()])?;
    let sink_pad = queue.static_pad("sink").ok_or(MediaError::MissingElement {
        factory: "queue",
        hint: "gstreamer1.0-plugins-base",
    })?;
    Ok(Branch {
        sink_pad,
        appsink: sink,
    })
}

/// `queue ! videoconvert ! videoscale ! appsink` producing greyscale frames of the needed size.
pub(crate) fn add_video_branch(
    pipeline: &gst::Pipeline,
    needs: VideoNeeds,
    sync: bool,
) -> Result<Branch, MediaError> {
    let queue = queue()?;
    let convert = make("videoconvert", "gstreamer1.0-plugins-base")?;
    let scale = make("videoscale", "gstreamer1.0-plugins-base")?;
    let sink = appsink(&needs.caps(), sync);
    add_chain(pipeline, &[&queue, &convert, &scale, sink.upcast_ref()])?;
    let sink_pad = queue.static_pad("sink").ok_or(MediaError::MissingElement {
        factory: "queue",
        hint: "gstreamer1.0-plugins-base",
    })?;
    Ok(Branch {
        sink_pad,
        appsink: sink,
    })
}
