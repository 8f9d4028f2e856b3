//! Data a source loses is reported, not papered over: a real RTP audio path that drops
//! packets (payloader, lossy link, depayloader) makes the depayloader announce each hole with a
//! GAP event and flag the next buffer DISCONT; every hole reaches the event stream as a
//! `discont` of kind `loss`, while the run goes on to its end.

mod common;

use common::{events, of_type, warpflow};

/// Audio packets of 20 ms, one in ten lost at random; a test picture beside them.
const LOSSY_LINE: &str = "videotestsrc num-buffers=150 pattern=ball ! video/x-raw,framerate=30/1 ! \
    videoconvert ! videoscale ! appsink name=video \
    audiotestsrc num-buffers=250 samplesperbuffer=320 wave=ticks ! \
    audio/x-raw,format=S16BE,rate=16000,channels=1 ! \
    rtpL16pay min-ptime=20000000 max-ptime=20000000 ! identity drop-probability=0.1 ! \
    rtpL16depay ! audioconvert ! audioresample ! appsink name=audio";

#[test]
fn lost_packets_are_reported_as_losses_and_the_run_goes_on() {
    let output = warpflow(&["sync", "--live", LOSSY_LINE, "--pace", "fast"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let events = events(&output);
    let disconts = of_type(&events, "discont");
    let losses: Vec<_> = disconts.iter().filter(|e| e["kind"] == "loss").collect();
    eprintln!("{} losses reported, e.g. {:?}", losses.len(), losses.first());
    // About 25 packets go missing; reports closer than a second to the last are merged.
    assert!(!losses.is_empty(), "the lost packets were papered over: {disconts:?}");
    assert!(
        losses.iter().all(|e| {
            let reason = e["reason"].as_str().unwrap_or_default();
            reason.contains("GAP event") || reason.contains("marked a discontinuity")
        }),
        "{losses:?}"
    );
    // Holes of 20 ms in an unbroken time axis are neither gaps nor resets.
    assert_eq!(losses.len(), disconts.len(), "{disconts:?}");
    let live_ns: Vec<u64> = losses.iter().filter_map(|e| e["live_ns"].as_u64()).collect();
    assert!(live_ns.iter().all(|&ns| ns < 5_000_000_000), "{live_ns:?}");
    assert_eq!(events.last().map(|e| e["type"].clone()), Some("eos".into()));
}
