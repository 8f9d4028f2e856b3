//! The `avalign` element: two pass-through pairs of pads (video, audio) and the engine that
//! reads what passes.
//!
//! Buffers, events and queries go through unchanged: each sink pad is internally linked to
//! its src pad, so caps, allocation and latency queries are answered by the peers (the element
//! holds no buffer back, so it adds no latency to the stream; its results come later, by the
//! analysis window, see `analysis-latency`). A copy of each timestamped buffer (memory shared,
//! timestamps in running time) goes to the engine. A flushing seek restarts the engine from
//! the new position; EOS on a pad ends that input; PAUSED→READY stops the engine.

use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use warpflow::media::{Medium, PushedInputs};

use super::engine::Engine;
use super::meta::{self, Latest};
use super::property;
use super::settings::{self, Settings};
use super::{Device, Features, Mode};

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "avalign",
        gst::DebugColorFlags::empty(),
        Some("warpflow live alignment"),
    )
});

/// Running state, from the first buffer until a flush or PAUSED→READY.
#[derive(Default)]
struct State {
    engine: Option<Engine>,
    /// Buffers left unanalysed by the engines before this one.
    dropped_before: u64,
    /// Set once starting failed: the error is on the bus, buffers only pass through.
    failed: bool,
    video_segment: gst::FormattedSegment<gst::ClockTime>,
    audio_segment: gst::FormattedSegment<gst::ClockTime>,
    video_caps: Option<gst::Caps>,
    audio_caps: Option<gst::Caps>,
}

impl State {
    /// Takes the engine away, keeping the count of what it left unanalysed.
    fn take_engine(&mut self) -> Option<Engine> {
        let engine = self.engine.take();
        self.dropped_before += engine.as_ref().map_or(0, |e| e.inputs().dropped());
        engine
    }

    fn segment(&self, medium: Medium) -> &gst::FormattedSegment<gst::ClockTime> {
        match medium {
            Medium::Audio => &self.audio_segment,
            Medium::Video => &self.video_segment,
        }
    }
}

/// The element's private part.
pub struct AvAlign {
    video_sink: gst::Pad,
    video_src: gst::Pad,
    audio_sink: gst::Pad,
    audio_src: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    latest: Arc<Latest>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AvAlign {
    fn medium_of(&self, pad: &gst::Pad) -> Medium {
        if pad == &self.audio_sink || pad == &self.audio_src {
            Medium::Audio
        } else {
            Medium::Video
        }
    }

    /// The pad a pad's buffers, events and queries go on to.
    fn partner(&self, pad: &gst::Pad) -> &gst::Pad {
        match pad {
            p if p == &self.video_sink => &self.video_src,
            p if p == &self.video_src => &self.video_sink,
            p if p == &self.audio_sink => &self.audio_src,
            _ => &self.audio_sink,
        }
    }

    fn chain(&self, pad: &gst::Pad, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let medium = self.medium_of(pad);
        self.analyse(pad, medium, &buffer);
        let mut buffer = buffer;
        if medium == Medium::Video && locked(&self.settings).attach_meta {
            let latest = self.latest.get();
            if latest.live_ns.is_some() {
                meta::attach(buffer.make_mut(), &latest);
            }
        }
        self.partner(pad).push(buffer)
    }

    /// Hands a copy of `buffer`, stamped with its running time, to the engine (started here on
    /// the first buffer).
    fn analyse(&self, pad: &gst::Pad, medium: Medium, buffer: &gst::Buffer) {
        let mut state = locked(&self.state);
        let Some(running_time) = buffer.pts().and_then(|pts| state.segment(medium).to_running_time(pts)) else {
            return;
        };
        if state.engine.is_none() && !state.failed {
            self.start_engine(pad, &mut state);
        }
        let Some(inputs) = state.engine.as_ref().map(Engine::inputs) else {
            return;
        };
        drop(state);
        let mut copy = buffer.copy();
        {
            let copy = copy.make_mut();
            copy.set_pts(running_time);
            copy.set_dts(gst::ClockTime::NONE);
        }
        inputs.push(medium, copy);
    }

    fn start_engine(&self, pad: &gst::Pad, state: &mut State) {
        // A live upstream must never be held back: its inputs then drop instead of waiting,
        // unless the user asked for every buffer to be analysed.
        let settings = locked(&self.settings).clone();
        let mut latency = gst::query::Latency::new();
        let live = !settings.lossless && pad.peer_query(&mut latency) && latency.result().0;
        let element = self.obj();
        match Engine::start(element.upcast_ref(), &settings, live, self.latest.clone()) {
            Ok(engine) => {
                gst::debug!(
                    CAT,
                    imp = self,
                    "engine started ({} pipeline)",
                    if live { "live" } else { "non-live" }
                );
                let inputs: Arc<PushedInputs> = engine.inputs();
                if let Some(caps) = &state.audio_caps {
                    inputs.set_caps(Medium::Audio, caps);
                }
                if let Some(caps) = &state.video_caps {
                    inputs.set_caps(Medium::Video, caps);
                }
                state.engine = Some(engine);
            }
            Err(message) => {
                state.failed = true;
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("{}", message));
            }
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        let medium = self.medium_of(pad);
        match event.view() {
            gst::EventView::Caps(caps) => {
                let caps = caps.caps_owned();
                let mut state = locked(&self.state);
                if let Some(engine) = &state.engine {
                    engine.inputs().set_caps(medium, &caps);
                }
                match medium {
                    Medium::Audio => state.audio_caps = Some(caps),
                    Medium::Video => state.video_caps = Some(caps),
                }
            }
            gst::EventView::Segment(segment) => {
                let segment = segment.segment().clone().downcast::<gst::ClockTime>();
                let mut state = locked(&self.state);
                match (segment, medium) {
                    (Ok(segment), Medium::Audio) => state.audio_segment = segment,
                    (Ok(segment), Medium::Video) => state.video_segment = segment,
                    (Err(_), _) => gst::warning!(CAT, imp = self, "{medium:?} segment not in time: not analysed"),
                }
            }
            gst::EventView::Gap(gap) => {
                // Data upstream lost: the analysis hears of it at the same place in the stream.
                let (start, duration) = gap.get();
                let state = locked(&self.state);
                let running = state.segment(medium).to_running_time(start);
                if let (Some(running), Some(engine)) = (running, state.engine.as_ref()) {
                    engine.inputs().announce_gap(medium, running, duration);
                }
            }
            gst::EventView::FlushStop(_) => {
                // Alignment starts afresh from wherever the stream now is.
                let engine = locked(&self.state).take_engine();
                if let Some(engine) = engine {
                    engine.discard();
                }
                self.latest.reset();
            }
            gst::EventView::Eos(_) => {
                // When the last input the engine reads ends, the run finishes before EOS goes
                // on, so that every result is on the bus before the pipeline's EOS.
                let finished = {
                    let mut state = locked(&self.state);
                    let all_ended = state.engine.as_ref().is_some_and(|engine| {
                        let inputs = engine.inputs();
                        inputs.end(medium);
                        inputs.all_ended()
                    });
                    gst::debug!(CAT, imp = self, "{medium:?} ended; every input ended: {all_ended}");
                    if all_ended {
                        state.take_engine()
                    } else {
                        None
                    }
                };
                if let Some(engine) = finished {
                    engine.finish();
                }
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn stop(&self) {
        let engine = {
            let mut state = locked(&self.state);
            let engine = state.engine.take();
            *state = State::default();
            engine
        };
        // Outside the lock: the engine's last events are still posted while it stops.
        drop(engine);
        self.latest.reset();
    }

    /// The latency of results behind the media they are about: the analysis window, one hop,
    /// and what encoding takes (budgeted at 50 ms).
    fn analysis_latency(&self) -> gst::ClockTime {
        const ENCODER_BUDGET_MS: u64 = 50;
        let settings = locked(&self.settings);
        let window_s = match (settings.window_s, settings.mode) {
            (w, _) if w > 0.0 => w,
            (_, Mode::Sync) => 4.0,
            (_, Mode::Follow) => 0.0,
        };
        let hop_ms = match settings.mode {
            Mode::Sync => u64::from(settings.emit_interval_ms),
            Mode::Follow => 20,
        };
        gst::ClockTime::from_nseconds((window_s * 1e9) as u64)
            + gst::ClockTime::from_mseconds(hop_ms + ENCODER_BUDGET_MS)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AvAlign {
    const NAME: &'static str = "GstAvAlign";
    type Type = super::AvAlign;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let template = |name: &str| {
            klass
                .pad_template(name)
                .unwrap_or_else(|| panic!("the {name} template is registered"))
        };
        // Caps, allocation and scheduling queries are answered by the peers on the other side.
        let proxy = gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION | gst::PadFlags::PROXY_SCHEDULING;
        let sink = |name: &str| {
            gst::Pad::builder_from_template(&template(name))
                .chain_function(|pad, parent, buffer| {
                    AvAlign::catch_panic_pad_function(
                        parent,
                        || Err(gst::FlowError::Error),
                        |this| this.chain(pad, buffer),
                    )
                })
                .event_function(|pad, parent, event| {
                    AvAlign::catch_panic_pad_function(parent, || false, |this| this.sink_event(pad, event))
                })
                .iterate_internal_links_function(internal_links)
                .flags(proxy)
                .build()
        };
        let src = |name: &str| {
            gst::Pad::builder_from_template(&template(name))
                .iterate_internal_links_function(internal_links)
                .flags(proxy)
                .build()
        };
        Self {
            video_sink: sink("video_sink"),
            video_src: src("video_src"),
            audio_sink: sink("audio_sink"),
            audio_src: src("audio_src"),
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            latest: Arc::new(Latest::default()),
        }
    }
}

/// Each pad's one internal link: its partner on the other side.
fn internal_links(pad: &gst::Pad, parent: Option<&gst::Object>) -> gst::Iterator<gst::Pad> {
    AvAlign::catch_panic_pad_function(
        parent,
        || gst::Iterator::from_vec(vec![]),
        |this| gst::Iterator::from_vec(vec![this.partner(pad).clone()]),
    )
}

impl ObjectImpl for AvAlign {
    fn constructed(&self) {
        self.parent_constructed();
        let element = self.obj();
        for pad in [&self.video_sink, &self.video_src, &self.audio_sink, &self.audio_src] {
            element
                .add_pad(pad)
                .unwrap_or_else(|e| panic!("a new element takes its own pads: {e}"));
        }
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let ready = glib::ParamFlags::READWRITE | gst::PARAM_FLAG_MUTABLE_READY;
            vec![
                glib::ParamSpecEnum::builder_with_default::<Mode>(property::MODE, settings::DEFAULT_MODE)
                    .nick("Mode")
                    .blurb("sync: the A/V offset of the stream; follow: its position in 'reference'")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::REFERENCE)
                    .nick("Reference")
                    .blurb("The reference recording for mode=follow: a media file, or a .wfr made by 'warpflow encode-ref'")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::CUES)
                    .nick("Cues")
                    .blurb("Cues of the reference (WebVTT, SubRip or JSON), announced as 'cue' events in mode=follow")
                    .flags(ready)
                    .build(),
                glib::ParamSpecEnum::builder_with_default::<Features>(property::FEATURES, settings::DEFAULT_FEATURES)
                    .nick("Audio features")
                    .blurb("Audio features compared in mode=follow: auto (a .wfr reference's own, else semitone-flux-lows, whose key is estimated and undone), semitone-flux, semitone-flux-lows, logmel-flux, logmel or chroma")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::AUDIO_MODEL)
                    .nick("Audio model")
                    .blurb("A TorchScript audio encoder (with its .toml contract) compared instead of the built-in features")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::VIDEO_MODEL)
                    .nick("Video model")
                    .blurb("A TorchScript video encoder whose output is compared beside the audio in mode=follow")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::FACE_MODEL)
                    .nick("Face model")
                    .blurb("A TorchScript face detector (video contract, output_dim 5: box and score) whose box holds the region the offset is measured in, in mode=sync")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::SYNC_MODEL)
                    .nick("Sync model")
                    .blurb("A SyncNet-style pair of embedders (kind = \"sync\" contract) whose agreement gives the offset in mode=sync")
                    .flags(ready)
                    .build(),
                glib::ParamSpecEnum::builder_with_default::<Device>(property::DEVICE, settings::DEFAULT_DEVICE)
                    .nick("Device")
                    .blurb("Where the encoders run: auto (the first CUDA GPU, else the CPU), cpu or cuda (the GPU cuda-device-id names)")
                    .flags(ready)
                    .build(),
                glib::ParamSpecUInt::builder(property::CUDA_DEVICE_ID)
                    .nick("CUDA device ID")
                    .blurb("The GPU device=cuda runs on, as libtorch numbers them from 0")
                    .maximum(255)
                    .default_value(settings::DEFAULT_CUDA_DEVICE_ID)
                    .flags(ready)
                    .build(),
                glib::ParamSpecDouble::builder(property::WINDOW)
                    .nick("Window")
                    .blurb("Seconds of media each result looks at (sync: the offset window, at most 60 s; follow: the aligner's band, at most 600 s); 0: the mode's default")
                    .minimum(0.0)
                    .maximum(settings::MAX_FOLLOW_WINDOW_S)
                    .default_value(settings::DEFAULT_WINDOW_S)
                    .flags(ready)
                    .build(),
                glib::ParamSpecUInt::builder(property::EMIT_INTERVAL)
                    .nick("Emit interval")
                    .blurb("Milliseconds of stream between results (offsets in sync, positions in follow)")
                    .minimum(1)
                    .maximum(60_000)
                    .default_value(settings::DEFAULT_EMIT_INTERVAL_MS)
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::SERVE)
                    .nick("Serve")
                    .blurb("HOST:PORT for the WebSocket event feed and live page (e.g. 127.0.0.1:8750); empty: off")
                    .flags(ready)
                    .build(),
                glib::ParamSpecString::builder(property::STREAM)
                    .nick("Stream")
                    .blurb("The stream's name in events")
                    .default_value(Some(settings::DEFAULT_STREAM))
                    .flags(ready)
                    .build(),
                glib::ParamSpecBoolean::builder(property::ATTACH_META)
                    .nick("Attach meta")
                    .blurb("Attach the latest result to video buffers as a WarpflowAlignMeta")
                    .default_value(settings::DEFAULT_ATTACH_META)
                    .flags(glib::ParamFlags::READWRITE | gst::PARAM_FLAG_MUTABLE_PLAYING)
                    .build(),
                glib::ParamSpecBoolean::builder(property::LOSSLESS)
                    .nick("Lossless")
                    .blurb("Analyse every buffer even in a live pipeline, holding the pipeline back when analysis lags (default: a live pipeline is never held back; analysis drops what it cannot keep up with)")
                    .default_value(settings::DEFAULT_LOSSLESS)
                    .flags(ready)
                    .build(),
                glib::ParamSpecUInt64::builder(property::DROPPED)
                    .nick("Dropped")
                    .blurb("Buffers of a live pipeline left unanalysed because analysis was behind (they still passed through)")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder(property::ANALYSIS_LATENCY)
                    .nick("Analysis latency")
                    .blurb("Nanoseconds by which results trail the media they are about: window, hop and encoder budget (the buffers themselves pass without delay)")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let name = pspec.name();
        if name != property::ATTACH_META && self.obj().current_state() > gst::State::Ready {
            gst::warning!(
                CAT,
                imp = self,
                "'{name}' changes only in NULL or READY; the change is ignored"
            );
            return;
        }
        let text = || value.get::<Option<String>>().ok().flatten().filter(|s| !s.is_empty());
        let mut settings = locked(&self.settings);
        match name {
            property::MODE => settings.mode = value.get().unwrap_or(settings::DEFAULT_MODE),
            property::REFERENCE => settings.reference = text(),
            property::CUES => settings.cues = text(),
            property::FEATURES => settings.features = value.get().unwrap_or(settings::DEFAULT_FEATURES),
            property::AUDIO_MODEL => settings.audio_model = text(),
            property::VIDEO_MODEL => settings.video_model = text(),
            property::FACE_MODEL => settings.face_model = text(),
            property::SYNC_MODEL => settings.sync_model = text(),
            property::DEVICE => settings.device = value.get().unwrap_or(settings::DEFAULT_DEVICE),
            property::CUDA_DEVICE_ID => {
                settings.cuda_device_id = value.get().unwrap_or(settings::DEFAULT_CUDA_DEVICE_ID)
            }
            property::WINDOW => settings.window_s = value.get().unwrap_or(settings::DEFAULT_WINDOW_S),
            property::EMIT_INTERVAL => {
                settings.emit_interval_ms = value.get().unwrap_or(settings::DEFAULT_EMIT_INTERVAL_MS)
            }
            property::SERVE => settings.serve = text(),
            property::STREAM => settings.stream = text().unwrap_or_else(|| settings::DEFAULT_STREAM.into()),
            property::ATTACH_META => settings.attach_meta = value.get().unwrap_or(settings::DEFAULT_ATTACH_META),
            property::LOSSLESS => settings.lossless = value.get().unwrap_or(settings::DEFAULT_LOSSLESS),
            other => gst::warning!(CAT, imp = self, "no property '{other}'"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            property::ANALYSIS_LATENCY => return self.analysis_latency().nseconds().to_value(),
            property::DROPPED => {
                let state = locked(&self.state);
                let current = state.engine.as_ref().map_or(0, |e| e.inputs().dropped());
                return (state.dropped_before + current).to_value();
            }
            _ => {}
        }
        let settings = locked(&self.settings);
        match pspec.name() {
            property::MODE => settings.mode.to_value(),
            property::REFERENCE => settings.reference.to_value(),
            property::CUES => settings.cues.to_value(),
            property::FEATURES => settings.features.to_value(),
            property::AUDIO_MODEL => settings.audio_model.to_value(),
            property::VIDEO_MODEL => settings.video_model.to_value(),
            property::FACE_MODEL => settings.face_model.to_value(),
            property::SYNC_MODEL => settings.sync_model.to_value(),
            property::DEVICE => settings.device.to_value(),
            property::CUDA_DEVICE_ID => settings.cuda_device_id.to_value(),
            property::WINDOW => settings.window_s.to_value(),
            property::EMIT_INTERVAL => settings.emit_interval_ms.to_value(),
            property::SERVE => settings.serve.to_value(),
            property::STREAM => settings.stream.to_value(),
            property::ATTACH_META => settings.attach_meta.to_value(),
            property::LOSSLESS => settings.lossless.to_value(),
            _ => pspec.default_value().clone(),
        }
    }
}

impl GstObjectImpl for AvAlign {}

impl ElementImpl for AvAlign {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Live audio-video alignment",
                "Filter/Analyzer/Audio/Video",
                "Passes video and audio through unchanged while measuring their A/V offset \
                 (mode=sync) or following a reference recording (mode=follow); results are \
                 'warpflow-event' element messages and a WarpflowAlignMeta on video buffers",
                "warpflow developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let video = gst::Caps::builder("video/x-raw").build();
            let audio = gst::Caps::builder("audio/x-raw").build();
            [
                ("video_sink", gst::PadDirection::Sink, &video),
                ("video_src", gst::PadDirection::Src, &video),
                ("audio_sink", gst::PadDirection::Sink, &audio),
                ("audio_src", gst::PadDirection::Src, &audio),
            ]
            .into_iter()
            .map(|(name, direction, caps)| {
                gst::PadTemplate::new(name, direction, gst::PadPresence::Always, caps)
                    .unwrap_or_else(|e| panic!("the {name} template is valid: {e}"))
            })
            .collect()
        });
        TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            // Refuse a configuration that cannot make a job now, rather than at the first buffer.
            let settings = locked(&self.settings).clone();
            let checked = settings
                .job(
                    PushedInputs::new(false, &settings.media()).source(),
                    false,
                    Default::default(),
                    Default::default(),
                )
                .and_then(|_| settings.serve_address().map(drop));
            if let Err(message) = checked {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("{}", message));
                return Err(gst::StateChangeError);
            }
        }
        let success = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.stop();
        }
        Ok(success)
    }
}
