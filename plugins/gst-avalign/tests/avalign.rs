//! `avalign` driven through `gst_check::Harness`es, one on its video pads and one on its audio
//! pads: buffers pass through unchanged, a flash-and-beep input made with the beep 80 ms after
//! each flash gives offset messages of +80 ms, a flushing seek restarts the alignment, EOS
//! on both pads ends the run with an `eos` event, and a live pipeline is never held back.

use std::sync::Once;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_check::Harness;

const FPS: u64 = 30;
const WIDTH: usize = 160;
const HEIGHT: usize = 120;
const RATE_HZ: u64 = 48_000;
/// Audio buffers of 10 ms.
const AUDIO_BUFFER_SAMPLES: u64 = RATE_HZ / 100;
/// The beep follows each flash by this much.
const OFFSET_MS: f64 = 80.0;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("GStreamer initialises");
        gstavalign::plugin_register_static().expect("the plugin registers");
    });
}

/// The element with a harness on each pair of pads, a bus of its own, playing.
struct Rig {
    element: gst::Element,
    video: Harness,
    audio: Harness,
    bus: gst::Bus,
}

impl Rig {
    fn new(properties: &[(&str, &str)]) -> Self {
        init();
        let element = gst::ElementFactory::make("avalign").build().expect("avalign exists");
        for (name, value) in properties {
            element.set_property_from_str(name, value);
        }
        let bus = gst::Bus::new();
        element.set_bus(Some(&bus));
        let mut video = Harness::with_element(&element, Some("video_sink"), Some("video_src"));
        let mut audio = Harness::with_element(&element, Some("audio_sink"), Some("audio_src"));
        video.set_src_caps(
            gst::Caps::builder("video/x-raw")
                .field("format", "GRAY8")
                .field("width", WIDTH as i32)
                .field("height", HEIGHT as i32)
                .field("framerate", gst::Fraction::new(FPS as i32, 1))
                .build(),
        );
        audio.set_src_caps(
            gst::Caps::builder("audio/x-raw")
                .field("format", "F32LE")
                .field("layout", "interleaved")
                .field("rate", RATE_HZ as i32)
                .field("channels", 1)
                .build(),
        );
        // The harnesses' clock only moves when a test moves it: nothing here depends on the
        // machine's speed.
        video.use_testclock();
        video.play();
        Self {
            element,
            video,
            audio,
            bus,
        }
    }

    /// Pushes `seconds` of flashes and beeps from `start_s`, in time order, taking what comes out.
    fn push_flashes_and_beeps(&mut self, start_s: u64, seconds: u64) -> (Vec<gst::Buffer>, Vec<gst::Buffer>) {
        let mut pushed = (Vec::new(), Vec::new());
        let audio_buffers_per_frame = 100.0 / FPS as f64;
        let mut audio_index = start_s * 100;
        for frame in start_s * FPS..(start_s + seconds) * FPS {
            let video = flash_frame(frame);
            pushed.0.push(video.clone());
            self.video.push(video).expect("the video buffer goes through");
            self.video.pull().expect("and comes out");
            let until = ((frame + 1) as f64 * audio_buffers_per_frame) as u64;
            while audio_index < until {
                let audio = beep_buffer(audio_index);
                pushed.1.push(audio.clone());
                self.audio.push(audio).expect("the audio buffer goes through");
                self.audio.pull().expect("and comes out");
                audio_index += 1;
            }
        }
        pushed
    }

    /// The `warpflow-event` messages posted until one satisfies `until` or `timeout` passes.
    fn events_until(&self, timeout: Duration, until: impl Fn(&gst::StructureRef) -> bool) -> Vec<gst::Structure> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(message) = self
                .bus
                .timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64))
            else {
                break;
            };
            match message.view() {
                gst::MessageView::Element(element) => {
                    if let Some(structure) = element
                        .structure()
                        .filter(|s| s.name() == gstavalign::EVENT_MESSAGE_NAME)
                    {
                        let done = until(structure);
                        events.push(structure.to_owned());
                        if done {
                            break;
                        }
                    }
                }
                gst::MessageView::Error(error) => panic!("the element failed: {} ({:?})", error.error(), error.debug()),
                _ => {}
            }
        }
        events
    }

    fn end(&mut self) {
        assert!(self.video.push_event(gst::event::Eos::new()));
        assert!(self.audio.push_event(gst::event::Eos::new()));
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.element.set_state(gst::State::Null);
    }
}

fn flash_frame(index: u64) -> gst::Buffer {
    let level = if index.is_multiple_of(FPS) { 235u8 } else { 16 };
    let mut buffer = gst::Buffer::from_mut_slice(vec![level; WIDTH * HEIGHT]);
    {
        let buffer = buffer.get_mut().expect("a new buffer is writable");
        buffer.set_pts(gst::ClockTime::from_nseconds(index * 1_000_000_000 / FPS));
        buffer.set_duration(gst::ClockTime::from_nseconds(1_000_000_000 / FPS));
    }
    buffer
}

/// Audio buffer `index` (10 ms each): quiet noise, and a 1 kHz beep `OFFSET_MS` after each
/// whole second.
fn beep_buffer(index: u64) -> gst::Buffer {
    let first = index * AUDIO_BUFFER_SAMPLES;
    let mut noise = (index as u32).wrapping_mul(2_654_435_761) | 1;
    let samples: Vec<u8> = (first..first + AUDIO_BUFFER_SAMPLES)
        .flat_map(|n| {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let in_second_s = (n % RATE_HZ) as f64 / RATE_HZ as f64;
            let since_beep_s = in_second_s - OFFSET_MS / 1e3;
            let beep = if (0.0..0.1).contains(&since_beep_s) {
                0.5 * (2.0 * std::f64::consts::PI * 1_000.0 * since_beep_s).sin()
            } else {
                0.0
            };
            let value = (noise as f64 / u32::MAX as f64 - 0.5) * 0.01 + beep;
            (value as f32).to_le_bytes()
        })
        .collect();
    let mut buffer = gst::Buffer::from_mut_slice(samples);
    {
        let buffer = buffer.get_mut().expect("a new buffer is writable");
        buffer.set_pts(gst::ClockTime::from_nseconds(index * 10_000_000));
        buffer.set_duration(gst::ClockTime::from_nseconds(10_000_000));
    }
    buffer
}

#[test]
fn buffers_pass_through_unchanged() {
    let mut rig = Rig::new(&[("mode", "sync"), ("attach-meta", "false")]);
    for index in 0..10 {
        let frame = flash_frame(index);
        rig.video.push(frame.clone()).expect("pushed");
        let out = rig.video.pull().expect("pulled");
        assert_eq!(out.pts(), frame.pts());
        assert_eq!(out.duration(), frame.duration());
        let (a, b) = (
            out.map_readable().expect("mapped"),
            frame.map_readable().expect("mapped"),
        );
        assert_eq!(a.as_slice(), b.as_slice(), "video frame {index} unchanged");
    }
    for index in 0..10 {
        let beep = beep_buffer(index);
        rig.audio.push(beep.clone()).expect("pushed");
        let out = rig.audio.pull().expect("pulled");
        assert_eq!(out.pts(), beep.pts());
        let (a, b) = (
            out.map_readable().expect("mapped"),
            beep.map_readable().expect("mapped"),
        );
        assert_eq!(a.as_slice(), b.as_slice(), "audio buffer {index} unchanged");
    }
}

#[test]
fn posts_the_offset_of_a_flash_and_beep_input_and_ends_on_eos() {
    let mut rig = Rig::new(&[("mode", "sync"), ("lossless", "true"), ("stream", "cam")]);
    rig.push_flashes_and_beeps(0, 12);
    rig.end();
    assert!(
        std::iter::from_fn(|| rig.video.try_pull_event()).any(|e| e.type_() == gst::EventType::Eos),
        "EOS goes on downstream"
    );
    let events = rig.events_until(Duration::from_secs(60), |s| s.get::<&str>("type") == Ok("eos"));
    assert_eq!(
        events.last().and_then(|e| e.get::<&str>("type").ok()),
        Some("eos"),
        "{events:?}"
    );
    let offsets_ms: Vec<f64> = events
        .iter()
        .filter(|e| e.get::<&str>("type") == Ok("offset"))
        .filter_map(|e| e.get::<i64>("av_offset_ns").ok())
        .map(|ns| ns as f64 / 1e6)
        .collect();
    assert!(offsets_ms.len() >= 10, "offsets: {offsets_ms:?}");
    let last = offsets_ms.last().copied().unwrap_or(f64::NAN);
    assert!(
        (last - OFFSET_MS).abs() <= 1_000.0 / FPS as f64,
        "made with {OFFSET_MS} ms, measured {last} ms"
    );
    assert!(events.iter().all(|e| e.get::<&str>("stream") == Ok("cam")));
}

#[test]
fn the_latest_offset_rides_on_video_buffers() {
    let mut rig = Rig::new(&[("mode", "sync"), ("lossless", "true")]);
    rig.push_flashes_and_beeps(0, 8);
    // The first estimates come before the tracker has settled; a locked one is the answer.
    rig.events_until(Duration::from_secs(60), |s| {
        s.get::<&str>("type") == Ok("offset") && s.get::<bool>("locked") == Ok(true)
    });
    rig.video.push(flash_frame(8 * FPS)).expect("pushed");
    let out = rig.video.pull().expect("pulled");
    let meta =
        gst::meta::CustomMeta::from_buffer(&out, gstavalign::ALIGN_META_NAME).expect("the buffer carries the meta");
    let offset_ns = meta.structure().get::<i64>("av-offset-ns").expect("an offset");
    assert!(
        ((offset_ns as f64 / 1e6) - OFFSET_MS).abs() <= 1_000.0 / FPS as f64,
        "{offset_ns} ns"
    );
}

#[test]
fn a_flushing_seek_restarts_the_alignment() {
    let mut rig = Rig::new(&[("mode", "sync"), ("lossless", "true")]);
    rig.push_flashes_and_beeps(0, 6);
    let before = rig.events_until(Duration::from_secs(60), |s| s.get::<&str>("type") == Ok("offset"));
    assert!(!before.is_empty());
    for harness in [&mut rig.video, &mut rig.audio] {
        assert!(harness.push_event(gst::event::FlushStart::new()));
        assert!(harness.push_event(gst::event::FlushStop::new(true)));
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        assert!(harness.push_event(gst::event::Segment::new(&segment)));
    }
    // After the flush the stream goes on from 20 s; a new run numbers its events from 0.
    rig.push_flashes_and_beeps(20, 8);
    rig.end();
    let after = rig.events_until(Duration::from_secs(60), |s| s.get::<&str>("type") == Ok("eos"));
    let restarted = after.iter().position(|e| e.get::<u64>("seq") == Ok(0));
    let restarted = restarted.unwrap_or_else(|| panic!("a new run after the flush: {after:?}"));
    let offsets_after: Vec<f64> = after[restarted..]
        .iter()
        .filter(|e| e.get::<&str>("type") == Ok("offset"))
        .filter_map(|e| e.get::<i64>("av_offset_ns").ok())
        .map(|ns| ns as f64 / 1e6)
        .collect();
    let last = offsets_after.last().copied().unwrap_or(f64::NAN);
    assert!(
        (last - OFFSET_MS).abs() <= 1_000.0 / FPS as f64,
        "after the flush: {offsets_after:?}"
    );
}

#[test]
fn a_gap_upstream_is_reported_as_a_loss_where_it_was() {
    let mut rig = Rig::new(&[("mode", "sync"), ("lossless", "true")]);
    rig.push_flashes_and_beeps(0, 3);
    // One second of both media lost upstream, announced by GAP events, then data again.
    let (start, duration) = (gst::ClockTime::from_seconds(3), gst::ClockTime::from_seconds(1));
    for harness in [&mut rig.video, &mut rig.audio] {
        assert!(harness.push_event(gst::event::Gap::builder(start).duration(duration).build()));
    }
    rig.push_flashes_and_beeps(4, 3);
    rig.end();
    let events = rig.events_until(Duration::from_secs(60), |s| s.get::<&str>("type") == Ok("eos"));
    let disconts: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e.get::<&str>("type") == Ok("discont"))
        .filter_map(|e| Some((e.get::<String>("kind").ok()?, e.get::<u64>("live_ns").ok()?)))
        .collect();
    assert_eq!(disconts, [("loss".to_owned(), 3_000_000_000)], "{events:?}");
}

/// Checks that `pipeline`'s start posted an error naming `property`, then stops it.
fn assert_start_refused_naming(pipeline: &gst::Pipeline, property: &str) {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let error = bus
        .iter_timed_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error])
        .next()
        .expect("an error message");
    let gst::MessageView::Error(error) = error.view() else {
        panic!("not an error: {error:?}")
    };
    assert!(
        error.error().to_string().contains(&format!("'{property}'")),
        "{}",
        error.error()
    );
    let _ = pipeline.set_state(gst::State::Null);
}

#[test]
fn follow_without_a_reference_is_refused_when_it_starts() {
    init();
    let pipeline = gst::Pipeline::new();
    let element = gst::ElementFactory::make("avalign")
        .property_from_str("mode", "follow")
        .build()
        .expect("avalign exists");
    pipeline.add(&element).expect("added");
    assert!(pipeline.set_state(gst::State::Paused).is_err(), "no reference: refused");
    assert_start_refused_naming(&pipeline, "reference");
}

#[test]
fn a_live_pipeline_is_never_held_back() {
    // A harness answers the latency query as a live source: without `lossless` the engine's
    // inputs drop what analysis cannot take, and every push returns at once.
    let mut rig = Rig::new(&[("mode", "sync"), ("emit-interval", "250")]);
    let (video, audio) = rig.push_flashes_and_beeps(0, 20);
    assert_eq!((video.len(), audio.len()), (600, 2000), "every buffer went through");
    rig.end();
    let events = rig.events_until(Duration::from_secs(60), |s| s.get::<&str>("type") == Ok("eos"));
    assert_eq!(
        events.last().and_then(|e| e.get::<&str>("type").ok()),
        Some("eos"),
        "{events:?}"
    );
    let progress = events.iter().rfind(|e| e.get::<&str>("type") == Ok("progress"));
    let progress = progress.unwrap_or_else(|| panic!("progress events: {events:?}"));
    let (taken, dropped_in_engine) = (
        progress.get::<u64>("frames_in").unwrap_or_default(),
        progress.get::<u64>("frames_dropped").unwrap_or_default(),
    );
    let left_out = rig.element.property::<u64>("dropped");
    println!(
        "live: {taken} records analysed ({dropped_in_engine} dropped in the engine), {left_out} buffers \
         left unanalysed, of 2600 pushed at once"
    );
    assert!(taken > 0, "the engine analysed what it could");
    // Which stage lets go (the element's inputs, or the engine's rings behind them) depends
    // on how fast the machine analyses; that something was let go, and counted, does not.
    assert!(
        left_out + dropped_in_engine > 0,
        "pushed far faster than real time, some buffers were left out and counted"
    );
    // No buffer is lost without a word: each was analysed (the engine counts records in,
    // dropped or not; resampling may split an audio buffer in two) or left out and counted.
    assert!(
        taken + left_out >= 2600,
        "{taken} records in and {left_out} left out account for fewer than the 2600 buffers pushed"
    );
}

#[test]
fn numeric_properties_refuse_values_outside_their_ranges() {
    init();
    let element = gst::ElementFactory::make("avalign").build().expect("avalign exists");
    // GObject checks each value against the property's range (gstreamer-rs panics on a refused
    // one; gst-launch-1.0 warns) and leaves the property as it was.
    for (name, refused) in [
        ("window", "600.5"),
        ("window", "-1"),
        ("emit-interval", "0"),
        ("emit-interval", "60001"),
    ] {
        let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            element.set_property_from_str(name, refused)
        }));
        assert!(set.is_err(), "{name}={refused} is refused");
    }
    assert_eq!(
        element.property::<f64>("window"),
        0.0,
        "the refused values left the defaults"
    );
    assert_eq!(element.property::<u32>("emit-interval"), 500);
    element.set_property_from_str("window", "600");
    assert_eq!(element.property::<f64>("window"), 600.0, "the range's end is taken");
    // Within the property's range but past sync's: refused when the element starts, naming it.
    let pipeline = gst::Pipeline::new();
    element.set_property("window", 120.0f64);
    pipeline.add(&element).expect("added");
    assert!(
        pipeline.set_state(gst::State::Paused).is_err(),
        "a 120 s sync window: refused"
    );
    assert_start_refused_naming(&pipeline, "window");
}

#[test]
fn features_and_device_take_only_the_values_they_list() {
    init();
    let element = gst::ElementFactory::make("avalign").build().expect("avalign exists");
    let nick = |name: &str| {
        let value = element.property_value(name);
        gst::glib::EnumValue::from_value(&value).map(|(_, v)| v.nick().to_owned())
    };
    assert_eq!(nick("features").as_deref(), Some("auto"));
    assert_eq!(nick("device").as_deref(), Some("auto"));
    element.set_property_from_str("features", "chroma");
    element.set_property_from_str("device", "cuda");
    element.set_property("cuda-device-id", 1u32);
    assert_eq!(nick("features").as_deref(), Some("chroma"));
    assert_eq!(nick("device").as_deref(), Some("cuda"));
    assert_eq!(element.property::<u32>("cuda-device-id"), 1);
    // A launch line naming a value the enum does not list fails as it is parsed.
    for line in ["avalign features=mfcc", "avalign device=cuda:1", "avalign device=gpu"] {
        assert!(gst::parse::launch(line).is_err(), "'{line}' is refused");
    }
}
