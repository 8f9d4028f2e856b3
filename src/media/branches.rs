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

/// How much of its source a branch's queue holds when the source runs ahead of the clock (a
/// file or the test pattern played in real time): the appsink waits for the clock anyway, so
/// the queue's default second (up to 10 MB of raw video) would only hold memory, per stream.
const AHEAD_QUEUE_NS: u64 = 100_000_000;

/// A leaky-free queue that decouples the branch from its upstream's streaming thread; with
/// `ahead`, bounded to [`AHEAD_QUEUE_NS`] of media.
fn queue(ahead: bool) -> Result<gst::Element, MediaError> {
    let queue = make("queue", "gstreamer1.0-plugins-base")?;
    if ahead {
        queue.set_property("max-size-time", AHEAD_QUEUE_NS);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-buffers", 0u32);
    }
    Ok(queue)
}

/// How a branch's records are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BranchPacing {
    /// The appsink plays in real time, against the pipeline clock.
    pub sync: bool,
    /// The source produces faster than real time (a file, the test pattern), so that only the
    /// appsink's wait for the clock paces it.
    pub ahead: bool,
}

fn appsink(caps: &gst::Caps, sync: bool) -> AppSink {
    AppSink::builder().caps(caps).sync(sync).max_buffers(4).build()
}

/// `queue ! converters… ! appsink(caps)`, added to `pipeline` and linked.
fn add_branch(
    pipeline: &gst::Pipeline,
    converters: &[&'static str],
    caps: &gst::Caps,
    pacing: BranchPacing,
) -> Result<Branch, MediaError> {
    const PLUGINS: &str = "gstreamer1.0-plugins-base";
    let runtime = |e: gst::glib::BoolError| MediaError::Runtime {
        source_name: "pipeline".into(),
        detail: e.to_string(),
    };
    let mut elements = vec![queue(pacing.sync && pacing.ahead)?];
    for factory in converters {
        elements.push(make(factory, PLUGINS)?);
    }
    let sink = appsink(caps, pacing.sync);
    elements.push(sink.clone().upcast());
    pipeline.add_many(&elements).map_err(runtime)?;
    gst::Element::link_many(&elements).map_err(runtime)?;
    let sink_pad = elements[0].static_pad("sink").ok_or(MediaError::MissingElement {
        factory: "queue",
        hint: PLUGINS,
    })?;
    Ok(Branch {
        sink_pad,
        appsink: sink,
    })
}

/// `queue ! audioconvert ! audioresample ! appsink` producing mono F32 at `needs.rate_hz`.
pub(crate) fn add_audio_branch(
    pipeline: &gst::Pipeline,
    needs: AudioNeeds,
    pacing: BranchPacing,
) -> Result<Branch, MediaError> {
    add_branch(pipeline, &["audioconvert", "audioresample"], &needs.caps(), pacing)
}

/// `queue ! videoconvert ! videoscale ! appsink` producing greyscale frames of the needed size.
pub(crate) fn add_video_branch(
    pipeline: &gst::Pipeline,
    needs: VideoNeeds,
    pacing: BranchPacing,
) -> Result<Branch, MediaError> {
    add_branch(pipeline, &["videoconvert", "videoscale"], &needs.caps(), pacing)
}
