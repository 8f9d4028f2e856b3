//! Appsink callbacks: each GStreamer sample becomes a record in a ring.
//!
//! Timestamps become running time (the segment applied to the buffer's PTS), so that audio
//! and video of one pipeline share one time axis whatever their segments say. Buffers without
//! a timestamp cannot be placed in time and are skipped. Breaks in the stream — jumps in the
//! timestamps, GAP events, buffers flagged DISCONT — are noted in a shared list for the
//! capture to report (see [`TimestampWatch`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use gst_app::AppSink;
use gst_video::prelude::*;

use super::ring::SharedSender;
use super::timestamp_watch::{Discontinuity, TimestampWatch};
use super::{AudioChunk, VideoFrame};

/// Running time of a sample's buffer, or `None` when it has no usable timestamp.
fn running_time_ns(sample: &gst::Sample, buffer: &gst::BufferRef) -> Option<u64> {
    let pts = buffer.pts()?;
    let running = match sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>()) {
        Some(segment) => segment.to_running_time(pts)?,
        None => pts,
    };
    Some(running.nseconds())
}

/// Discontinuities the appsinks of a capture found, oldest first.
pub(crate) type DiscontinuityLog = Arc<Mutex<Vec<Discontinuity>>>;

/// What one appsink's callbacks share: the watch over its stream, and the segment of the
/// latest sample, in which GAP events are timed (appsink keeps SEGMENT events to itself and
/// hands the segment over with each sample instead).
#[derive(Default)]
struct SinkWatch {
    timestamps: TimestampWatch,
    segment: Option<gst::FormattedSegment<gst::ClockTime>>,
}

impl SinkWatch {
    /// Takes a serialized event the sink received: a span without data is a loss.
    fn observe_event(&mut self, event: &gst::EventRef) -> Option<Discontinuity> {
        match event.view() {
            gst::EventView::Gap(gap) => {
                let (start, duration) = gap.get();
                let running = match &self.segment {
                    Some(segment) => segment.to_running_time(start)?,
                    None => start,
                };
                self.timestamps
                    .observe_gap(running.nseconds(), duration.map(gst::ClockTime::nseconds))
            }
            _ => None,
        }
    }
}

fn note(log: &DiscontinuityLog, found: Option<Discontinuity>) {
    if let (Some(found), Ok(mut log)) = (found, log.lock()) {
        log.push(found);
    }
}

/// Sends every sample of `sink`, turned into a record by `to_record`, into `sender`, noting
/// breaks in its stream in `log`.
fn connect<T, F>(sink: &AppSink, sender: SharedSender<T>, log: DiscontinuityLog, to_record: F)
where
    T: Send + 'static,
    F: Fn(&gst::Sample, &gst::BufferRef, u64) -> Result<T, gst::FlowError> + Send + Sync + 'static,
{
    let watch = Arc::new(Mutex::new(SinkWatch::default()));
    let handle_sample = {
        let (watch, log) = (watch.clone(), log.clone());
        move |sample: gst::Sample| -> Result<gst::FlowSuccess, gst::FlowError> {
            let Some(buffer) = sample.buffer() else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let Some(pts_ns) = running_time_ns(&sample, buffer) else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let duration_ns = buffer.duration().map_or(0, gst::ClockTime::nseconds);
            let flagged = buffer.flags().contains(gst::BufferFlags::DISCONT);
            if let Ok(mut watch) = watch.lock() {
                note(&log, watch.timestamps.observe(pts_ns, duration_ns, flagged));
                watch.segment = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::ClockTime>())
                    .cloned();
            }
            let record = to_record(&sample, buffer, pts_ns)?;
            let mut sender = sender.lock().map_err(|_| gst::FlowError::Error)?;
            if sender.send(record, pts_ns) {
                Ok(gst::FlowSuccess::Ok)
            } else {
                Err(gst::FlowError::Flushing)
            }
        }
    };
    let handle_sample = Arc::new(handle_sample);
    let on_sample = handle_sample.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                on_sample(sample)
            })
            .new_event(move |sink| {
                // Samples are pulled as they come, so the next object is this event; a sample
                // found instead is handled as one rather than lost.
                let Ok(object) = sink.pull_object() else {
                    return false;
                };
                match object.downcast::<gst::Event>() {
                    Ok(event) => {
                        if let Ok(mut watch) = watch.lock() {
                            note(&log, watch.observe_event(&event));
                        }
                    }
                    Err(object) => {
                        if let Ok(sample) = object.downcast::<gst::Sample>() {
                            let _ = handle_sample(sample);
                        }
                    }
                }
                false
            })
            .build(),
    );
}

/// Sends every audio sample of `sink` (mono F32LE caps) into `sender`.
pub(crate) fn connect_audio(sink: &AppSink, sender: SharedSender<AudioChunk>, log: DiscontinuityLog) {
    connect(sink, sender, log, |_, buffer, pts_ns| {
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let samples = map
            .as_slice()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(AudioChunk {
            pts_ns,
            samples,
            captured_at: Instant::now(),
        })
    });
}

/// Sends every video sample of `sink` (GRAY8 or RGB caps) into `sender`, without row padding.
pub(crate) fn connect_video(sink: &AppSink, sender: SharedSender<VideoFrame>, log: DiscontinuityLog) {
    connect(sink, sender, log, |sample, buffer, pts_ns| {
        let caps = sample.caps().ok_or(gst::FlowError::NotNegotiated)?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| gst::FlowError::NotNegotiated)?;
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|_| gst::FlowError::Error)?;
        let (width, height) = (info.width(), info.height());
        let channels: u8 = if info.format() == gst_video::VideoFormat::Rgb {
            3
        } else {
            1
        };
        let row_bytes = width as usize * usize::from(channels);
        let stride = frame.plane_stride()[0] as usize;
        let plane = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
        let mut pixels = Vec::with_capacity(row_bytes * height as usize);
        for row in plane.chunks(stride).take(height as usize) {
            pixels.extend_from_slice(row.get(..row_bytes).ok_or(gst::FlowError::Error)?);
        }
        Ok(VideoFrame {
            pts_ns,
            width,
            height,
            channels,
            pixels,
            captured_at: Instant::now(),
        })
    });
}
