//! Building a pipeline for each form of `SOURCE`, ending in the conversion branches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_app::AppSink;

use crate::config::{Microphone, SourceSpec, WebcamSpec};

use super::branches::{add_audio_branch, add_video_branch, make, Branch, BranchPacing};
use super::pushed::{add_pushed_inputs, PushedInputs};
use super::test_pattern::add_test_pattern;
use super::{MediaError, MediaNeeds};

/// A built, not yet started pipeline and its appsinks.
pub(crate) struct BuiltPipeline {
    pub pipeline: gst::Pipeline,
    pub audio_sink: Option<AppSink>,
    pub video_sink: Option<AppSink>,
    /// Set by signal handlers that find the input unusable (e.g. a file without audio).
    pub input_error: Arc<Mutex<Option<MediaError>>>,
}

/// Builds the pipeline for `spec`, delivering what `needs` asks for; `sync` makes the appsinks
/// play in real time.
pub(crate) fn build_pipeline(spec: &SourceSpec, needs: MediaNeeds, sync: bool) -> Result<BuiltPipeline, MediaError> {
    let input_error = Arc::new(Mutex::new(None));
    let name = spec.display_name();
    let pacing = BranchPacing {
        sync,
        queued: needs_branch_queue(spec, sync),
    };
    match spec {
        SourceSpec::LaunchLine(line) => launch_line(line, needs, sync, input_error),
        SourceSpec::Test(params) => with_branches(needs, pacing, input_error, |pipeline, audio, video| {
            add_test_pattern(pipeline, params, video.as_ref(), audio.as_ref())
        }),
        SourceSpec::File(path) => {
            // GLib wants an absolute path; people give paths relative to where they are.
            let uri = std::path::absolute(path)
                .map_err(|e| e.to_string())
                .and_then(|path| gst::glib::filename_to_uri(path, None).map_err(|e| e.to_string()))
                .map_err(|detail| MediaError::Unreadable {
                    source_name: name.clone(),
                    detail,
                })?;
            let slot = input_error.clone();
            with_branches(needs, pacing, input_error, |pipeline, audio, video| {
                add_uri_decoder(pipeline, &uri, name, audio, video, sync, slot)
            })
        }
        SourceSpec::Uri(uri) => {
            let slot = input_error.clone();
            with_branches(needs, pacing, input_error, |pipeline, audio, video| {
                add_uri_decoder(pipeline, uri, name, audio, video, sync, slot)
            })
        }
        SourceSpec::Webcam(webcam) => with_branches(needs, pacing, input_error, |pipeline, audio, video| {
            add_webcam(pipeline, webcam, audio, video)
        }),
        SourceSpec::Pushed(pushed) => {
            let inputs = pushed.inputs::<PushedInputs>().ok_or_else(|| MediaError::Runtime {
                source_name: name.clone(),
                detail: "the pushed source carries no PushedInputs".into(),
            })?;
            with_branches(needs, pacing, input_error, |pipeline, audio, video| {
                add_pushed_inputs(pipeline, &inputs, audio, video)
            })
        }
    }
}

/// Whether `spec`'s branches start with a queue. Read as fast as it is taken (a file turned into
/// a reference, an analysis), a queue lets the source decode on one core while the branch
/// converts on another. Paced by the clock, a queue buys nothing where the source part pushes
/// each medium from a streaming thread of its own that pausing leaves running (an appsrc, a
/// file's decodebin): its thread would only cost each stream of a service its stack and its
/// copy of the libraries' thread-local storage. Network sources and cameras keep it: rtspsrc
/// stops its jitterbuffers' threads when the pipeline pauses on its way down, and a thread held
/// in an appsink waiting to preroll never stops (seen: `sync` over RTSP hung on Ctrl-C).
fn needs_branch_queue(spec: &SourceSpec, sync: bool) -> bool {
    !sync || matches!(spec, SourceSpec::Uri(_) | SourceSpec::Webcam(_))
}

/// A new pipeline with the branches `needs` asks for, whose source part `add_source` adds and
/// links to the branches' sink pads (audio first, then video).
fn with_branches<F>(
    needs: MediaNeeds,
    pacing: BranchPacing,
    input_error: Arc<Mutex<Option<MediaError>>>,
    add_source: F,
) -> Result<BuiltPipeline, MediaError>
where
    F: FnOnce(&gst::Pipeline, Option<gst::Pad>, Option<gst::Pad>) -> Result<(), MediaError>,
{
    let pipeline = gst::Pipeline::new();
    let audio: Option<Branch> = needs
        .audio
        .map(|n| add_audio_branch(&pipeline, n, pacing))
        .transpose()?;
    let video: Option<Branch> = needs
        .video
        .map(|n| add_video_branch(&pipeline, n, pacing))
        .transpose()?;
    add_source(
        &pipeline,
        audio.as_ref().map(|b| b.sink_pad.clone()),
        video.as_ref().map(|b| b.sink_pad.clone()),
    )?;
    Ok(BuiltPipeline {
        pipeline,
        audio_sink: audio.map(|b| b.appsink),
        video_sink: video.map(|b| b.appsink),
        input_error,
    })
}

/// `uridecodebin` for files and network URIs: each decoded pad goes to its branch, or to a
/// fakesink when the run does not need that medium. When all pads are known and a needed
/// medium is missing, the input is refused — unless it is a medium an RTSP server offered and
/// that can be decoded, whose pad may still be on its way.
fn add_uri_decoder(
    pipeline: &gst::Pipeline,
    uri: &str,
    source_name: String,
    audio_pad: Option<gst::Pad>,
    video_pad: Option<gst::Pad>,
    sync: bool,
    input_error: Arc<Mutex<Option<MediaError>>>,
) -> Result<(), MediaError> {
    let decoder = make("uridecodebin", "gstreamer1.0-plugins-base")?;
    decoder.set_property("uri", uri);
    pipeline.add(&decoder).map_err(|e| MediaError::Runtime {
        source_name: source_name.clone(),
        detail: e.to_string(),
    })?;

    let offered = Arc::new(MediaFlags::default());
    let offered_by_source = offered.clone();
    decoder.connect("source-setup", false, move |values| {
        if let Some(source) = values.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
            configure_network_source(&source, offered_by_source.clone());
        }
        None
    });
    let undecodable = Arc::new(MediaFlags::default());
    let undecodable_found = undecodable.clone();
    decoder.connect("unknown-type", false, move |values| {
        if let Some(caps) = values.get(2).and_then(|v| v.get::<gst::Caps>().ok()) {
            undecodable_found.set_from(&caps);
        }
        None
    });

    let pipeline_weak = pipeline.downgrade();
    let (audio_target, video_target) = (audio_pad.clone(), video_pad.clone());
    decoder.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let media = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
        let target = if media.starts_with("audio/") {
            audio_target.as_ref()
        } else if media.starts_with("video/") {
            video_target.as_ref()
        } else {
            None
        };
        match target {
            Some(target) if !target.is_linked() => {
                let _ = pad.link(target);
            }
            _ => {
                if let Some(pipeline) = pipeline_weak.upgrade() {
                    discard(&pipeline, pad, sync);
                }
            }
        }
    });

    // An RTSP source adds each stream's pad from a thread of its own and can say it has no
    // more pads while one is still on its way; uridecodebin stops listening for the source's
    // pads at that moment, so that pad may never be decoded on this connection (seen under
    // load at a camera's first connection). A medium the server offered is therefore not
    // missing unless it cannot be decoded: should its pad not come, the media that came wait
    // in preroll, nothing is delivered, and the capture connects again at the stall timeout.
    decoder.connect_no_more_pads(move |decoder| {
        let missing = [("audio", &audio_pad), ("video", &video_pad)]
            .into_iter()
            .find(|(_, pad)| pad.as_ref().is_some_and(|p| !p.is_linked()))
            .map(|(kind, _)| kind)
            .filter(|kind| undecodable.get(kind) || !offered.get(kind));
        if let Some(kind) = missing {
            let error = if undecodable.get(kind) {
                MediaError::Unreadable {
                    source_name: source_name.clone(),
                    detail: format!(
                        "its {kind} stream has no decoder on this machine \
                         (gstreamer1.0-libav and the plugins good, bad and ugly have most)"
                    ),
                }
            } else {
                MediaError::MissingStream {
                    source_name: source_name.clone(),
                    kind,
                }
            };
            let text = error.to_string();
            if let Ok(mut slot) = input_error.lock() {
                slot.get_or_insert(error);
            }
            gst::element_error!(decoder, gst::StreamError::WrongType, ["{}", text]);
        }
    });
    Ok(())
}

/// One flag for audio and one for video.
#[derive(Debug, Default)]
struct MediaFlags {
    audio: AtomicBool,
    video: AtomicBool,
}

impl MediaFlags {
    /// Sets the flag of the medium `caps` carry: RTP caps say it in their `media` field,
    /// others in their name (`video/x-h265`).
    fn set_from(&self, caps: &gst::Caps) {
        let Some(structure) = caps.structure(0) else {
            return;
        };
        let media = structure
            .get::<&str>("media")
            .ok()
            .or_else(|| structure.name().split('/').next());
        match media {
            Some("audio") => self.audio.store(true, Ordering::Relaxed),
            Some("video") => self.video.store(true, Ordering::Relaxed),
            _ => {}
        }
    }

    fn get(&self, kind: &str) -> bool {
        match kind {
            "audio" => self.audio.load(Ordering::Relaxed),
            "video" => self.video.load(Ordering::Relaxed),
            _ => false,
        }
    }
}

/// Jitterbuffer latency of RTSP sources: rtspsrc's default of 2 s would delay every event by
/// that much; packets later than this are dropped rather than let latency grow.
const RTSP_LATENCY_MS: u32 = 200;

/// Settles an RTSP source for live use: a short, bounded jitterbuffer, so that latency stays
/// the same after a reconnect. The transport follows the scheme (`rtspt://` TCP, `rtspu://`
/// UDP, `rtsp://` UDP falling back to TCP), as rtspsrc has it. Takes every stream the server
/// offers, noting in `offered` which media they are.
fn configure_network_source(source: &gst::Element, offered: Arc<MediaFlags>) {
    if source.factory().is_some_and(|f| f.name() == "rtspsrc") {
        source.set_property("latency", RTSP_LATENCY_MS);
        source.set_property("drop-on-latency", true);
        source.connect("select-stream", false, move |values| {
            if let Some(caps) = values.get(2).and_then(|v| v.get::<gst::Caps>().ok()) {
                offered.set_from(&caps);
            }
            Some(true.to_value())
        });
    }
}

/// Sends a pad nobody needs into a fakesink, so that it does not stall the demuxer.
fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad, sync: bool) {
    let Ok(sink) = gst::ElementFactory::make("fakesink")
        .property("sync", sync)
        .property("async", false)
        .build()
    else {
        return;
    };
    if pipeline.add(&sink).is_ok() {
        let _ = sink.sync_state_with_parent();
        if let Some(sink_pad) = sink.static_pad("sink") {
            let _ = pad.link(&sink_pad);
        }
    }
}

/// A V4L2 camera and its microphone.
fn add_webcam(
    pipeline: &gst::Pipeline,
    webcam: &WebcamSpec,
    audio_pad: Option<gst::Pad>,
    video_pad: Option<gst::Pad>,
) -> Result<(), MediaError> {
    let link = |element: &gst::Element, target: &gst::Pad| -> Result<(), MediaError> {
        pipeline.add(element).map_err(|e| MediaError::Runtime {
            source_name: "webcam".into(),
            detail: e.to_string(),
        })?;
        let pad = element.static_pad("src").ok_or_else(|| MediaError::Runtime {
            source_name: "webcam".into(),
            detail: "source without a src pad".into(),
        })?;
        pad.link(target).map(|_| ()).map_err(|e| MediaError::Runtime {
            source_name: "webcam".into(),
            detail: format!("{e:?}"),
        })
    };
    if let Some(target) = video_pad {
        let device = webcam.device.clone().unwrap_or_else(|| "/dev/video0".into());
        if !device.exists() {
            return Err(MediaError::MissingDevice { device });
        }
        let camera = make("v4l2src", "gstreamer1.0-plugins-good")?;
        camera.set_property("device", device.display().to_string());
        link(&camera, &target)?;
    }
    if let Some(target) = audio_pad {
        let microphone = match &webcam.microphone {
            Microphone::Auto => make("autoaudiosrc", "gstreamer1.0-plugins-good")?,
            Microphone::Pulse(name) => {
                let source = make("pulsesrc", "gstreamer1.0-pulseaudio")?;
                if let Some(name) = name {
                    source.set_property("device", name);
                }
                source
            }
            Microphone::Alsa(name) => {
                let source = make("alsasrc", "gstreamer1.0-alsa")?;
                if let Some(name) = name {
                    source.set_property("device", name);
                }
                source
            }
            Microphone::None => {
                return Err(MediaError::MissingStream {
                    source_name: webcam.to_string(),
                    kind: "audio",
                })
            }
        };
        link(&microphone, &target)?;
    }
    Ok(())
}

/// A user's launch line, which must contain appsinks named `audio` and/or `video` for the
/// media the run needs; their caps are set to what the encoders take.
fn launch_line(
    line: &str,
    needs: MediaNeeds,
    sync: bool,
    input_error: Arc<Mutex<Option<MediaError>>>,
) -> Result<BuiltPipeline, MediaError> {
    let element = gst::parse::launch(line).map_err(|e| MediaError::BadLaunchLine { detail: e.to_string() })?;
    let pipeline = match element.downcast::<gst::Pipeline>() {
        Ok(pipeline) => pipeline,
        Err(element) => {
            let pipeline = gst::Pipeline::new();
            pipeline
                .add(&element)
                .map_err(|e| MediaError::BadLaunchLine { detail: e.to_string() })?;
            pipeline
        }
    };
    let find = |name: &'static str, caps: gst::Caps| -> Result<AppSink, MediaError> {
        let sink = pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<AppSink>().ok())
            .ok_or_else(|| MediaError::BadLaunchLine {
                detail: format!("it needs an appsink named '{name}' (… ! appsink name={name})"),
            })?;
        sink.set_caps(Some(&caps));
        sink.set_property("sync", sync);
        Ok(sink)
    };
    let audio_sink = needs.audio.map(|n| find("audio", n.caps())).transpose()?;
    let video_sink = needs.video.map(|n| find("video", n.caps())).transpose()?;
    Ok(BuiltPipeline {
        pipeline,
        audio_sink,
        video_sink,
        input_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_medium_of_caps_is_read_from_rtp_caps_and_from_codec_caps() {
        gst::init().unwrap();
        let flags = MediaFlags::default();
        flags.set_from(&gst::Caps::builder("application/x-rtp").field("media", "video").build());
        assert!(flags.get("video") && !flags.get("audio"));
        flags.set_from(
            &gst::Caps::builder("application/x-rtp")
                .field("media", "application")
                .build(),
        );
        flags.set_from(&gst::Caps::new_empty_simple("application/x-subtitle"));
        assert!(!flags.get("audio"));
        flags.set_from(&gst::Caps::new_empty_simple("audio/x-opus"));
        assert!(flags.get("audio"));
    }
}
