//! `GET /publish` on `warpflow serve`: runs started with `--publish` push their events here,
//! and the server's clients read them all as one feed.
//!
//! A publisher first says what it is (`{"type":"run","command":…,"cues":[…]}`), then sends its
//! events as JSON text. Each stream belongs to one publisher at a time: a second run sending
//! the same stream name is refused (its seqs would collide), and told to pick another with
//! `--stream`. When a publisher goes, its streams are free again, so a run that reconnects
//! takes them back. This module admits events; it never changes them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde::Deserialize;

use crate::events::Event;

use super::{CueMark, FeedHub, RunDescription};

/// WebSocket close code for data that is not what was expected.
const CLOSE_BAD_DATA: u16 = 1007;
/// WebSocket close code for a policy violation: here, a stream another run publishes.
const CLOSE_POLICY: u16 = 1008;

/// The first message of a publisher.
#[derive(Debug, Deserialize)]
struct Hello {
    #[serde(rename = "type")]
    kind: String,
    command: String,
    #[serde(default)]
    cues: Vec<HelloCue>,
}

#[derive(Debug, Deserialize)]
struct HelloCue {
    id: String,
    ref_ns: u64,
}

/// Which publisher holds which stream, and what the runs together look like to the page.
#[derive(Debug, Default)]
pub struct Publishers {
    next_id: AtomicU64,
    owners: Mutex<BTreeMap<String, u64>>,
    runs: Mutex<Vec<String>>,
    cues: Mutex<Vec<CueMark>>,
}

impl Publishers {
    /// What `GET /run` says: the served runs' commands and all their cues.
    pub fn description(&self) -> RunDescription {
        let runs = self.runs.lock().map(|r| r.clone()).unwrap_or_default();
        RunDescription {
            command: "serve".into(),
            cues: self.cues.lock().map(|c| c.clone()).unwrap_or_default(),
            runs,
        }
    }

    /// Takes `stream` for publisher `id`; false when another publisher holds it.
    fn claim(&self, stream: &str, id: u64) -> bool {
        let Ok(mut owners) = self.owners.lock() else {
            return false;
        };
        *owners.entry(stream.to_owned()).or_insert(id) == id
    }

    /// Frees every stream publisher `id` held.
    fn release(&self, id: u64) {
        if let Ok(mut owners) = self.owners.lock() {
            owners.retain(|_, owner| *owner != id);
        }
    }

    fn welcome(&self, hello: Hello) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.push(hello.command);
        }
        if let Ok(mut cues) = self.cues.lock() {
            for cue in hello.cues {
                let mark = CueMark {
                    id: cue.id,
                    ref_ns: cue.ref_ns,
                };
                if !cues.contains(&mark) {
                    cues.push(mark);
                }
            }
        }
    }
}

/// Reads one publisher until it goes, publishing its events to `hub`.
pub(super) async fn serve_publisher(mut socket: WebSocket, hub: &FeedHub, publishers: &Publishers) {
    let id = publishers.next_id.fetch_add(1, Ordering::Relaxed);
    let refusal = read_publisher(&mut socket, hub, publishers, id).await;
    publishers.release(id);
    if let Some((code, reason)) = refusal {
        tracing::warn!("a publisher was refused: {reason}");
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
        // Wait for the publisher's answer (or its going), so that it reads the reason before
        // the connection is torn down.
        let answered = async {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), answered).await;
    }
}

/// The close code and reason when the publisher must be refused; `None` when it left.
async fn read_publisher(
    socket: &mut WebSocket,
    hub: &FeedHub,
    publishers: &Publishers,
    id: u64,
) -> Option<(u16, String)> {
    let mut hello: Option<Hello> = None;
    let mut greeted = false;
    let mut received = 0u64;
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return None,
            _ => continue,
        };
        received += 1;
        if !greeted {
            match serde_json::from_str::<Hello>(text.as_str()) {
                // The run counts once one of its events is admitted.
                Ok(said) if said.kind == "run" => hello = Some(said),
                _ => {
                    let reason = "the first message must be {\"type\":\"run\",\"command\":…}".to_owned();
                    return Some((CLOSE_BAD_DATA, reason));
                }
            }
            greeted = true;
            continue;
        }
        let event: Event = match serde_json::from_str(text.as_str()) {
            Ok(event) => event,
            Err(error) => {
                return Some((
                    CLOSE_BAD_DATA,
                    format!("message {received} is not a warpflow v1 event: {error}"),
                ))
            }
        };
        if !publishers.claim(&event.stream, id) {
            let reason = format!(
                "stream '{}' is published by another run; give each run its own --stream",
                event.stream
            );
            return Some((CLOSE_POLICY, reason));
        }
        if let Some(hello) = hello.take() {
            publishers.welcome(hello);
        }
        hub.publish(&event);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_belongs_to_one_publisher_until_it_goes() {
        let publishers = Publishers::default();
        assert!(publishers.claim("a", 1));
        assert!(publishers.claim("a", 1));
        assert!(!publishers.claim("a", 2), "another run's stream");
        assert!(publishers.claim("b", 2));
        publishers.release(1);
        assert!(publishers.claim("a", 2), "free again once its publisher left");
    }

    #[test]
    fn the_description_gathers_the_runs_and_their_cues_once() {
        let publishers = Publishers::default();
        for _ in 0..2 {
            publishers.welcome(Hello {
                kind: "run".into(),
                command: "follow".into(),
                cues: vec![HelloCue {
                    id: "act 2".into(),
                    ref_ns: 5,
                }],
            });
        }
        let description = publishers.description();
        assert_eq!(description.command, "serve");
        assert_eq!(description.runs, ["follow", "follow"]);
        assert_eq!(description.cues.len(), 1);
    }
}
