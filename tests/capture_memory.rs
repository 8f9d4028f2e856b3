//! Memory stays bounded when the graph stops taking records: a fast live-paced source feeds a
//! consumer that never reads for a minute; the rings drop their oldest records (counted) and
//! the process's resident memory stops growing once they are full.

use std::time::{Duration, Instant};

use warpflow::config::{Pace, SourceSpec};
use warpflow::media::{AudioNeeds, Capture, MediaNeeds, VideoNeeds};

/// Resident memory of this process in MiB, from /proc.
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib / 1024.0
}

#[test]
fn a_stalled_consumer_keeps_memory_bounded_over_a_minute() {
    let line = "videotestsrc pattern=ball ! video/x-raw,width=320,height=240,framerate=200/1 ! \
                videoconvert ! videoscale ! appsink name=video \
                audiotestsrc samplesperbuffer=160 wave=white-noise ! audio/x-raw,rate=16000 ! \
                audioconvert ! audioresample ! appsink name=audio";
    let spec: SourceSpec = line.parse().expect("a launch line");
    let needs = MediaNeeds {
        audio: Some(AudioNeeds { rate_hz: 16_000 }),
        video: Some(VideoNeeds {
            width: 320,
            height: 240,
            colour: true,
        }),
    };
    let mut capture = Capture::open(&spec, needs, Pace::Realtime).expect("the launch line builds");
    // Held, never read: the graph has stalled.
    let _audio = capture.take_audio().expect("an audio ring");
    let _video = capture.take_video().expect("a video ring");
    capture.start().expect("the pipeline starts");

    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(5));
        assert!(capture.poll().is_ok(), "the pipeline failed");
        samples.push((started.elapsed().as_secs_f64(), resident_mib()));
    }
    let stats = capture.stats();
    println!(
        "stalled consumer: {} records in, {} dropped; RSS (s, MiB): {samples:.1?}",
        stats.frames_in(),
        stats.frames_dropped()
    );
    assert!(
        stats.frames_dropped() > 10_000,
        "the source was not fast: {} dropped",
        stats.frames_dropped()
    );
    // After 10 s the rings are long full; from then on memory must not grow with the records.
    let settled = samples
        .iter()
        .filter(|(t, _)| *t >= 10.0)
        .map(|(_, mib)| *mib)
        .collect::<Vec<_>>();
    let (low, high) = settled
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(
        high - low < 16.0,
        "resident memory grew by {:.1} MiB while the consumer stalled: {samples:.1?}",
        high - low
    );
}
