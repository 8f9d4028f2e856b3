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

/// How a branch's records are paced, and whether the branch has a thread of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BranchPacing {
    /// The appsink plays in real time, against the pipeline clock.
    pub sync: bool,
    /// The branch starts with a queue, which decouples it from its source's streaming thread
    /// (see `source::build_pipeline` for where it is needed).
    pub queued: bool,
}

fn appsink(caps: &gst::Caps, sync: bool) -> AppSink {
    AppSink::builder().caps(caps).sync(sync).max_buffers(4).build()
}

/// Package of the elements of every branch.
const PLUGINS: &str = "gstreamer1.0-plugins-base";

/// `[queue !] converters… ! appsink(caps)`, added to `pipeline` and linked.
fn add_branch(
    pipeline: &gst::Pipeline,
    converters: Vec<gst::Element>,
    caps: &gst::Caps,
    pacing: BranchPacing,
) -> Result<Branch, MediaError> {
    let runtime = |e: gst::glib::BoolError| MediaError::Runtime {
        source_name: "pipeline".into(),
        detail: e.to_string(),
    };
    let mut elements = Vec::with_capacity(converters.len() + 2);
    if pacing.queued {
        elements.push(make("queue", PLUGINS)?);
    }
    elements.extend(converters);
    let sink = appsink(caps, pacing.sync);
    elements.push(sink.clone().upcast());
    pipeline.add_many(&elements).map_err(runtime)?;
    gst::Element::link_many(&elements).map_err(runtime)?;
    let sink_pad = elements[0].static_pad("sink").ok_or_else(|| MediaError::Runtime {
        source_name: "pipeline".into(),
        detail: format!("the branch's first element ({}) has no sink pad", elements[0].name()),
    })?;
    Ok(Branch {
        sink_pad,
        appsink: sink,
    })
}

/// `[queue !] audioconvert ! audioresample ! appsink` producing mono F32 at `needs.rate_hz`.
pub(crate) fn add_audio_branch(
    pipeline: &gst::Pipeline,
    needs: AudioNeeds,
    pacing: BranchPacing,
) -> Result<Branch, MediaError> {
    let converters = vec![make("audioconvert", PLUGINS)?, resampler()?];
    add_branch(pipeline, converters, &needs.caps(), pacing)
}

/// `audioresample` with its filter's taps interpolated from an oversampled table rather than
/// tabulated for every phase. A 48 kHz microphone taken to 22.05 kHz has 147 phases, and a
/// table of all of them is the largest thing a stream's capture allocates; interpolating the
/// same filter's taps costs a little more arithmetic per sample, a small share of what
/// decoding takes.
fn resampler() -> Result<gst::Element, MediaError> {
    let resampler = make("audioresample", PLUGINS)?;
    resampler.set_property_from_str("sinc-filter-mode", "interpolated");
    Ok(resampler)
}

/// `[queue !] videoconvert ! videoscale ! appsink` producing greyscale frames of the needed size.
pub(crate) fn add_video_branch(
    pipeline: &gst::Pipeline,
    needs: VideoNeeds,
    pacing: BranchPacing,
) -> Result<Branch, MediaError> {
    let converters = vec![make("videoconvert", PLUGINS)?, make("videoscale", PLUGINS)?];
    add_branch(pipeline, converters, &needs.caps(), pacing)
}
