//! `WarpflowAlignMeta`: the latest alignment result, carried on the video buffers that pass
//! through, for downstream elements and applications that read buffers rather than the bus.
//!
//! A custom meta holding a structure: `live-ns` (running time of the result), and where known
//! `ref-ns`, `tempo`, `confidence` (follow) and `av-offset-ns`, `band` (sync). Results come
//! after the media they are about (the analysis window), so the meta is the latest result,
//! not one of this very frame.

use std::sync::Mutex;

/// The custom meta's name, for `gst::meta::CustomMeta::from_buffer`.
pub const ALIGN_META_NAME: &str = "WarpflowAlignMeta";

/// Registers the meta (once per process; GStreamer ignores repeats).
pub(super) fn register() {
    if !gst::meta::CustomMeta::is_registered(ALIGN_META_NAME) {
        gst::meta::CustomMeta::register(ALIGN_META_NAME, &[]);
    }
}

/// The latest position and offset, as the engine reports them.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct LatestResult {
    pub live_ns: Option<u64>,
    pub position: Option<(u64, f64, f64)>,
    pub offset: Option<(i64, String)>,
}

/// Shared between the engine's writer (which updates it) and the video pad (which reads it).
#[derive(Debug, Default)]
pub(super) struct Latest(Mutex<LatestResult>);

impl Latest {
    pub fn update(&self, change: impl FnOnce(&mut LatestResult)) {
        if let Ok(mut latest) = self.0.lock() {
            change(&mut latest);
        }
    }

    /// Forgets the results (after a flush, or when the element stops).
    pub fn reset(&self) {
        self.update(|latest| *latest = LatestResult::default());
    }

    pub fn get(&self) -> LatestResult {
        self.0.lock().map(|latest| latest.clone()).unwrap_or_default()
    }
}

/// Adds the meta to `buffer` when there is a result to carry.
pub(super) fn attach(buffer: &mut gst::BufferRef, latest: &LatestResult) {
    let Some(live_ns) = latest.live_ns else { return };
    let Ok(mut meta) = gst::meta::CustomMeta::add(buffer, ALIGN_META_NAME) else {
        return;
    };
    let structure = meta.mut_structure();
    structure.set("live-ns", live_ns);
    if let Some((ref_ns, tempo, confidence)) = latest.position {
        structure.set("ref-ns", ref_ns);
        structure.set("tempo", tempo);
        structure.set("confidence", confidence);
    }
    if let Some((av_offset_ns, band)) = &latest.offset {
        structure.set("av-offset-ns", *av_offset_ns);
        structure.set("band", band.as_str());
    }
}
