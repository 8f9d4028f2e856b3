//! Hand-off from GStreamer to the graph on a real pipeline: paced fast, a consumer far slower
//! than the decoder still receives every video frame and every audio sample of a file, in
//! order, with nothing counted as dropped.

mod common;

use std::time::{Duration, Instant};

use common::gst_launch;
use warpflow::config::{Pace, SourceSpec};
use warpflow::media::{AudioNeeds, Capture, CaptureState, MediaNeeds, VideoNeeds};

const FRAMES: u64 = 300;
const FPS: u64 = 30;
const RATE_HZ: u32 = 16_000;

#[test]
fn paced_fast_a_slow_consumer_gets_every_frame_and_sample_of_a_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("ten_seconds.mkv");
    let samples_per_buffer = RATE_HZ / 50;
    let audio_buffers = FRAMES / FPS * 50;
    gst_launch(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=ball ! video/x-raw,format=GRAY8,width=64,height=48,framerate={FPS}/1 ! queue ! mux. \
         audiotestsrc num-buffers={audio_buffers} samplesperbuffer={samples_per_buffer} wave=white-noise ! \
         audio/x-raw,format=F32LE,rate={RATE_HZ},channels=1 ! queue ! mux. \
         matroskamux name=mux ! filesink location={}",
        path.display()
    ));

    let needs = MediaNeeds {
        audio: Some(AudioNeeds { rate_hz: RATE_HZ }),
        video: Some(VideoNeeds {
            width: 32,
            height: 24,
            colour: false,
        }),
    };
    let spec = SourceSpec::File(path.clone());
    let mut capture = Capture::open(&spec, needs, Pace::Fast).expect("the file opens");
    let mut audio = capture.take_audio().expect("an audio ring");
    let mut video = capture.take_video().expect("a video ring");
    capture.start().expect("the pipeline starts");

    let (mut frame_times_ns, mut samples) = (Vec::new(), 0usize);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(audio.is_finished() && video.is_finished()) {
        assert!(Instant::now() < deadline, "the file did not end within 120 s");
        assert_ne!(capture.poll().ok(), None, "the pipeline failed");
        // Far slower than decoding, so both rings fill and the decoder must wait.
        std::thread::sleep(Duration::from_millis(2));
        if let Some(frame) = video.pop() {
            frame_times_ns.push(frame.pts_ns);
        }
        if let Some(chunk) = audio.pop() {
            samples += chunk.samples.len();
        }
    }
    let state = capture.poll().expect("no error at the end");
    assert_eq!(state, CaptureState::Finished);

    let stats = capture.stats();
    assert_eq!(stats.frames_dropped(), 0, "paced fast, nothing may be dropped");
    assert_eq!(frame_times_ns.len() as u64, FRAMES, "every video frame arrives");
    for (index, &time_ns) in frame_times_ns.iter().enumerate() {
        let expected_ns = index as u64 * 1_000_000_000 / FPS;
        assert!(
            time_ns.abs_diff(expected_ns) <= 1_000_000,
            "frame {index} at {time_ns} ns, expected {expected_ns} ns: frames arrive in order, none missing"
        );
    }
    assert_eq!(
        samples as u64,
        audio_buffers * u64::from(samples_per_buffer),
        "every audio sample arrives"
    );
}
