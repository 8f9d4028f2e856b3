//! The live page (`GET /`) and the run's description it starts from (`GET /run`).
//!
//! The page is one self-contained HTML file compiled into the binary: the machines warpflow
//! runs on often have no internet, so it loads nothing from elsewhere. It reads `/run` for the
//! command and the reference's cues, then `/events`, and redraws as events arrive. This module
//! only serves the page; what the page draws is decided in `live_page.html`.

use serde::Serialize;

/// The live page.
pub const LIVE_PAGE_HTML: &str = include_str!("live_page.html");

/// What the page needs to know about a run before its first event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunDescription {
    /// The subcommand: `sync`, `follow` or `locate`.
    pub command: String,
    /// The reference's cues (`follow --cues`), drawn on the alignment path before they come.
    pub cues: Vec<CueMark>,
    /// For `warpflow serve`: the commands of the runs that have published to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
}

/// One cue of the reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CueMark {
    /// The cue's identifier, as in `cue` events.
    pub id: String,
    /// Its time in the reference.
    pub ref_ns: u64,
}

impl RunDescription {
    /// A run of `command` with no cues.
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for outside in ["http://", "https://", "//cdn", "@import"] {
            let at = LIVE_PAGE_HTML.find(outside);
            assert!(at.is_none(), "the page refers to '{outside}' at byte {at:?}");
        }
        for needed in [
            "/events",
            "/run",
            "from_seq",
            "id=\"path\"",
            "id=\"offset\"",
            "id=\"cue\"",
        ] {
            assert!(LIVE_PAGE_HTML.contains(needed), "the page lacks {needed}");
        }
    }

    #[test]
    fn the_description_is_json_the_page_reads() {
        let run = RunDescription {
            command: "follow".into(),
            cues: vec![CueMark {
                id: "scene-2".into(),
                ref_ns: 3_600_000_000,
            }],
            runs: Vec::new(),
        };
        let json = serde_json::to_value(&run).expect("serialises");
        assert_eq!(json["command"], "follow");
        assert_eq!(json["cues"][0]["id"], "scene-2");
        assert_eq!(json["cues"][0]["ref_ns"], 3_600_000_000u64);
    }
}
