//! The engine's events as `warpflow-event` element messages on the bus, and the latest result
//! kept for the video buffers' meta.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gst::glib;
use gst::prelude::*;
use serde_json::Value;
use warpflow::events::{Event, EventWriter, RunSummary};
use warpflow::serve::feed::FeedHub;

use super::meta::Latest;

/// The structure name of the element messages.
pub const EVENT_MESSAGE_NAME: &str = "warpflow-event";

/// Fields that are signed whatever their value, so that readers can rely on one type.
const SIGNED_FIELDS: [&str; 2] = ["av_offset_ns", "raw_offset_ns"];

/// The message structure of one event: every field of the event schema, by the same name.
pub(super) fn event_structure(event: &Event) -> gst::Structure {
    let json: Value = serde_json::from_str(&event.to_json_line()).unwrap_or_default();
    let mut structure = gst::Structure::new_empty(EVENT_MESSAGE_NAME);
    let Value::Object(fields) = json else { return structure };
    for (name, value) in fields {
        match value {
            Value::Bool(b) => structure.set(name.as_str(), b),
            Value::String(s) => structure.set(name.as_str(), s),
            Value::Number(n) if SIGNED_FIELDS.contains(&name.as_str()) => {
                structure.set(name.as_str(), n.as_i64().unwrap_or_default());
            }
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => structure.set(name.as_str(), u),
                (None, Some(i), _) => structure.set(name.as_str(), i),
                (None, None, Some(f)) => structure.set(name.as_str(), f),
                _ => {}
            },
            Value::Null => {}
            // Arrays of numbers (an offset's region) stay numbers: a GstValueArray of doubles.
            Value::Array(items) if items.iter().all(Value::is_number) => {
                let numbers = items.iter().filter_map(Value::as_f64).map(|n| n.to_send_value());
                structure.set(name.as_str(), gst::Array::new(numbers));
            }
            other => structure.set(name.as_str(), other.to_string()),
        }
    }
    structure
}

/// Posts each event from `element`, keeps the latest result, and publishes events to `feed`
/// (with `serve`).
pub(super) struct BusWriter {
    element: glib::WeakRef<gst::Element>,
    latest: Arc<Latest>,
    feed: Option<Arc<FeedHub>>,
    /// Set when the run's remaining events are no longer wanted (after a flush).
    muted: Arc<AtomicBool>,
}

impl BusWriter {
    pub fn new(
        element: &gst::Element,
        latest: Arc<Latest>,
        feed: Option<Arc<FeedHub>>,
        muted: Arc<AtomicBool>,
    ) -> Self {
        Self {
            element: element.downgrade(),
            latest,
            feed,
            muted,
        }
    }
}

impl EventWriter for BusWriter {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        if self.muted.load(Ordering::Acquire) {
            return Ok(());
        }
        let structure = event_structure(event);
        self.latest.update(|latest| {
            let live_ns = structure.get::<u64>("live_ns").ok();
            match structure.get::<&str>("type") {
                Ok("position") => {
                    if let (Ok(ref_ns), Ok(tempo), Ok(confidence)) = (
                        structure.get::<u64>("ref_ns"),
                        structure.get::<f64>("tempo"),
                        structure.get::<f64>("confidence"),
                    ) {
                        latest.position = Some((ref_ns, tempo, confidence));
                        latest.live_ns = live_ns.max(latest.live_ns);
                    }
                }
                Ok("offset") => {
                    if let (Ok(offset), Ok(band)) =
                        (structure.get::<i64>("av_offset_ns"), structure.get::<String>("band"))
                    {
                        latest.offset = Some((offset, band));
                        latest.live_ns = live_ns.max(latest.live_ns);
                    }
                }
                _ => {}
            }
        });
        if let Some(element) = self.element.upgrade() {
            let message = gst::message::Element::builder(structure).src(&element).build();
            let _ = element.post_message(message);
        }
        if let Some(feed) = &self.feed {
            feed.publish(event);
        }
        Ok(())
    }

    fn write_summary(&mut self, _summary: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use warpflow::events::{EventBody, SyncBand};

    use super::*;

    #[test]
    fn an_offset_keeps_its_schema_fields_with_signed_offsets() {
        gst::init().expect("GStreamer initialises");
        let event = Event {
            v: 1,
            stream: "cam".into(),
            seq: 4,
            body: EventBody::Offset {
                live_ns: 2_000_000_000,
                av_offset_ns: 80_000_000,
                raw_offset_ns: 79_000_000,
                drift_ppm: 0.0,
                locked: true,
                confidence: 0.9,
                band: SyncBand::Undetectable,
                region: Some([0.25, 0.5, 0.125, 0.25]),
                is_final: true,
            },
        };
        let structure = event_structure(&event);
        let region = structure.get::<gst::Array>("region").expect("the region as an array");
        let region: Vec<f64> = region.iter().filter_map(|v| v.get::<f64>().ok()).collect();
        assert_eq!(region, vec![0.25, 0.5, 0.125, 0.25]);
        assert_eq!(structure.name(), EVENT_MESSAGE_NAME);
        assert_eq!(structure.get::<&str>("type"), Ok("offset"));
        assert_eq!(structure.get::<&str>("stream"), Ok("cam"));
        assert_eq!(structure.get::<u64>("seq"), Ok(4));
        assert_eq!(structure.get::<i64>("av_offset_ns"), Ok(80_000_000));
        assert_eq!(structure.get::<u64>("live_ns"), Ok(2_000_000_000));
        assert_eq!(structure.get::<bool>("final"), Ok(true));
        assert_eq!(structure.get::<&str>("band"), Ok("undetectable"));
    }
}
