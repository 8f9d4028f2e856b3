//! Media pushed in by a host program — the `avalign` element hands over the buffers that pass
//! through it — instead of a source warpflow opens itself.
//!
//! The capture builds `appsrc ! convert ! appsink` branches for the media the run reads and
//! attaches each appsrc here. Buffers must carry running time as their timestamps. In a live
//! pipeline nothing waits: buffers pushed before the capture is ready are held (a bounded
//! number), and an appsrc drops its oldest buffers rather than hold the host's streaming
//! thread. Otherwise pushing waits — for the capture, then for room — so that analysis of a
//! file loses nothing. This module moves buffers; it never looks into them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use gst::prelude::*;
use gst_app::AppSrc;

use crate::config::{PushedSource, SourceSpec};

use super::branches::make;
use super::MediaError;

/// Buffers held per medium until the capture is ready for them.
const HELD_BUFFERS: usize = 512;
/// Bytes an appsrc of a non-live pipeline takes before it blocks the host.
const NON_LIVE_QUEUE_BYTES: u64 = 32 << 20;
/// Buffers an appsrc of a live pipeline holds before it drops the oldest.
const LIVE_QUEUE_BUFFERS: u64 = 256;
/// Bytes an appsrc of a live pipeline holds before it drops the oldest (its default, 200 kB,
/// is under three frames of 320×240 RGB).
const LIVE_QUEUE_BYTES: u64 = 64 << 20;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// The audio input.
    Audio,
    /// The video input.
    Video,
}

#[derive(Default)]
struct Slot {
    wanted: bool,
    appsrc: Option<AppSrc>,
    caps: Option<gst::Caps>,
    held: VecDeque<gst::Buffer>,
    ended: bool,
}

#[derive(Default)]
struct Slots {
    audio: Slot,
    video: Slot,
    /// The run is over: nothing will read any more.
    closed: bool,
}

impl Slots {
    fn slot(&mut self, medium: Medium) -> &mut Slot {
        match medium {
            Medium::Audio => &mut self.audio,
            Medium::Video => &mut self.video,
        }
    }
}

/// The inputs of one pushed source.
pub struct PushedInputs {
    live: bool,
    slots: Mutex<Slots>,
    attached: Condvar,
    dropped: AtomicU64,
}

impl PushedInputs {
    /// Inputs for the media a run reads, in a live host pipeline (drop rather than wait) or
    /// not (wait, lose nothing).
    pub fn new(live: bool, wanted: &[Medium]) -> Arc<Self> {
        let mut slots = Slots::default();
        for &medium in wanted {
            slots.slot(medium).wanted = true;
        }
        Arc::new(Self {
            live,
            slots: Mutex::new(slots),
            attached: Condvar::new(),
            dropped: AtomicU64::new(0),
        })
    }

    /// The source to give a job.
    pub fn source(self: &Arc<Self>) -> SourceSpec {
        SourceSpec::Pushed(PushedSource::new(self.clone()))
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The format of what will be pushed as `medium` (any raw audio or video).
    pub fn set_caps(&self, medium: Medium, caps: &gst::Caps) {
        let mut slots = self.slots();
        let slot = slots.slot(medium);
        slot.caps = Some(caps.clone());
        if let Some(appsrc) = &slot.appsrc {
            appsrc.set_caps(Some(caps));
        }
    }

    /// Hands over a buffer timestamped in running time; false once the run is over. Media the
    /// run does not read are let go. Before the capture is ready, a live pipeline's buffers
    /// are held (the newest few hundred); a non-live pipeline waits for it.
    pub fn push(&self, medium: Medium, buffer: gst::Buffer) -> bool {
        let appsrc = {
            let mut slots = self.slots();
            loop {
                if slots.closed {
                    return false;
                }
                let slot = slots.slot(medium);
                if !slot.wanted {
                    return true;
                }
                if let Some(appsrc) = &slot.appsrc {
                    break appsrc.clone();
                }
                if self.live {
                    if slot.held.len() == HELD_BUFFERS {
                        slot.held.pop_front();
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    slot.held.push_back(buffer);
                    return true;
                }
                slots = self
                    .attached
                    .wait(slots)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        if self.live && !has_room(&appsrc, &buffer) {
            // Analysis is behind a live pipeline: this buffer is not analysed.
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        // Outside the lock: in a non-live pipeline this waits for room.
        appsrc.push_buffer(buffer).is_ok()
    }

    /// Announces that `medium` has no data from `start` (running time) for `duration`, as a
    /// GAP event from upstream says: it goes into the analysis in order with the buffers, and
    /// comes out as a loss. Before the capture is ready there is nothing to tell.
    pub fn announce_gap(&self, medium: Medium, start: gst::ClockTime, duration: Option<gst::ClockTime>) {
        let appsrc = {
            let mut slots = self.slots();
            let slot = slots.slot(medium);
            match (&slot.appsrc, slot.wanted) {
                (Some(appsrc), true) => appsrc.clone(),
                _ => return,
            }
        };
        appsrc.send_event(gst::event::Gap::builder(start).duration(duration).build());
    }

    /// Buffers of a live pipeline left unanalysed because analysis was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// No more buffers of `medium` will come.
    pub fn end(&self, medium: Medium) {
        let mut slots = self.slots();
        let slot = slots.slot(medium);
        slot.ended = true;
        if let Some(appsrc) = &slot.appsrc {
            let _ = appsrc.end_of_stream();
        }
    }

    /// Whether every medium the run reads has ended.
    pub fn all_ended(&self) -> bool {
        let slots = self.slots();
        [&slots.audio, &slots.video]
            .iter()
            .all(|slot| !slot.wanted || slot.ended)
    }

    /// The run is over: pushes return at once from now on.
    pub fn close(&self) {
        self.slots().closed = true;
        self.attached.notify_all();
    }

    /// Connects `appsrc` as the input of `medium`: what was held goes in first.
    fn attach(&self, medium: Medium, appsrc: AppSrc) {
        let mut slots = self.slots();
        let slot = slots.slot(medium);
        if let Some(caps) = &slot.caps {
            appsrc.set_caps(Some(caps));
        }
        // A live appsrc lets go of its oldest buffers beyond its bounds without a word: those
        // are counted here instead, the oldest first.
        if self.live {
            let mut bytes: u64 = slot.held.iter().map(|b| b.size() as u64).sum();
            while slot.held.len() as u64 > LIVE_QUEUE_BUFFERS || bytes > LIVE_QUEUE_BYTES {
                let Some(oldest) = slot.held.pop_front() else { break };
                bytes -= oldest.size() as u64;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        for buffer in slot.held.drain(..) {
            let _ = appsrc.push_buffer(buffer);
        }
        if slot.ended {
            let _ = appsrc.end_of_stream();
        }
        slot.appsrc = Some(appsrc);
        self.attached.notify_all();
    }
}

/// Adds an appsrc for each branch (`audio`, `video`: their sink pads) and attaches it to
/// `inputs`.
pub(crate) fn add_pushed_inputs(
    pipeline: &gst::Pipeline,
    inputs: &PushedInputs,
    audio: Option<gst::Pad>,
    video: Option<gst::Pad>,
) -> Result<(), MediaError> {
    for (medium, branch) in [(Medium::Audio, audio), (Medium::Video, video)] {
        let Some(branch) = branch else { continue };
        let element = make("appsrc", "gstreamer1.0-plugins-base")?;
        let appsrc = element
            .clone()
            .downcast::<AppSrc>()
            .map_err(|_| runtime("appsrc is not an AppSrc".into()))?;
        appsrc.set_format(gst::Format::Time);
        appsrc.set_is_live(inputs.live);
        if inputs.live {
            appsrc.set_max_buffers(LIVE_QUEUE_BUFFERS);
            appsrc.set_max_bytes(LIVE_QUEUE_BYTES);
            appsrc.set_leaky_type(gst_app::AppLeakyType::Downstream);
        } else {
            appsrc.set_max_bytes(NON_LIVE_QUEUE_BYTES);
        }
        pipeline.add(&element).map_err(|e| runtime(e.to_string()))?;
        let pad = element
            .static_pad("src")
            .ok_or_else(|| runtime("appsrc has no src pad".into()))?;
        pad.link(&branch)
            .map_err(|e| runtime(format!("cannot link the appsrc: {e:?}")))?;
        // The held buffers go in before the pipeline runs: only then may pushing wait.
        inputs.attach(medium, appsrc.clone());
        appsrc.set_block(!inputs.live);
    }
    Ok(())
}

/// Whether a live appsrc takes `buffer` without letting go of an older one.
fn has_room(appsrc: &AppSrc, buffer: &gst::Buffer) -> bool {
    appsrc.current_level_buffers() < LIVE_QUEUE_BUFFERS
        && appsrc.current_level_bytes() + buffer.size() as u64 <= LIVE_QUEUE_BYTES
}

fn runtime(detail: String) -> MediaError {
    MediaError::Runtime {
        source_name: "the element's input".into(),
        detail,
    }
}
