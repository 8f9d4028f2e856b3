//! A client of the event feed: prints each A/V offset of a `warpflow sync --serve` run.
//!
//! `cargo run --example feed_client -- ws://127.0.0.1:8750/events` (add `?token=T` if the run
//! has one). It asks for offsets only and resumes after the last `seq` it saw on reconnect.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8750/events".into());
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut next_seq = 0u64;
    loop {
        let url = format!("{base}{separator}type=offset&from_seq={next_seq}");
        let Ok((mut feed, _)) = tokio_tungstenite::connect_async(&url).await else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        };
        while let Some(Ok(Message::Text(text))) = feed.next().await {
            let event: serde_json::Value = serde_json::from_str(text.as_str())?;
            if let Some(seq) = event["seq"].as_u64() {
                next_seq = seq + 1;
            }
            if event["type"] == "offset" {
                let (live_s, offset_ms) = (
                    event["live_ns"].as_f64().unwrap_or(0.0) / 1e9,
                    event["av_offset_ns"].as_f64().unwrap_or(0.0) / 1e6,
                );
                println!("{live_s:8.2} s  {offset_ms:+7.1} ms  {}", event["band"]);
            }
        }
    }
}
