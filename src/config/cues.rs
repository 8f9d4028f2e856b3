//! Cue files (`follow --cues FILE`): the reference times at which something should happen —
//! subtitles, lighting or sound cues — read from WebVTT (`.vtt`), SubRip (`.srt`) or a JSON
//! list of `{"id": "...", "ref_s": 12.5}`. A file that cannot be read is refused with the line
//! at fault.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// One cue: what it is called (a subtitle's text, or its identifier) and when it comes in the
/// reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// The cue's identifier in events.
    pub id: String,
    /// Reference time of the cue.
    pub ref_ns: u64,
}

/// Reads the cues in `path`, sorted by time; the format follows the extension (`.vtt`,
/// `.srt`, `.json`).
pub fn load_cues(path: &Path) -> Result<Vec<Cue>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, 0, format!("cannot be read: {e}")))?;
    parse_cues(path, &text)
}

/// The cues in `text`, the contents of the cue file `path` (whose extension says the format,
/// and which errors name), sorted by time.
pub fn parse_cues(path: &Path, text: &str) -> Result<Vec<Cue>, ConfigError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut cues = match extension.as_str() {
        "vtt" => parse_timed_text(path, text, true)?,
        "srt" => parse_timed_text(path, text, false)?,
        "json" => parse_json(path, text)?,
        _ => {
            return Err(bad(
                path,
                0,
                "the extension must say the format: .vtt (WebVTT), .srt (SubRip) or .json".into(),
            ))
        }
    };
    if cues.is_empty() {
        return Err(bad(path, 0, "it holds no cue".into()));
    }
    cues.sort_by_key(|cue| cue.ref_ns);
    Ok(cues)
}

fn bad(path: &Path, line: usize, detail: String) -> ConfigError {
    ConfigError::BadCueFile {
        path: PathBuf::from(path),
        line,
        detail,
    }
}

/// WebVTT and SubRip: blocks separated by blank lines; a block's timing line
/// `START --> END` gives the cue's time, the lines after it its text. In WebVTT a line before
/// the timing line is the cue's identifier, which names it; otherwise its text does.
fn parse_timed_text(path: &Path, text: &str, webvtt: bool) -> Result<Vec<Cue>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end())).peekable();
    if webvtt {
        match lines.next() {
            Some((_, first)) if first.starts_with("WEBVTT") => {}
            _ => return Err(bad(path, 1, "a WebVTT file starts with 'WEBVTT'".into())),
        }
    }
    let mut cues = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let mut flush = |block: &mut Vec<(usize, &str)>| -> Result<(), ConfigError> {
        let taken = std::mem::take(block);
        let Some(timing_at) = taken.iter().position(|(_, l)| l.contains("-->")) else {
            // WebVTT's NOTE, STYLE and REGION blocks have no timing; SubRip has none of them.
            return match taken.first() {
                Some((number, line)) if !webvtt => Err(bad(
                    path,
                    *number,
                    format!("'{line}' starts a block without a 'START --> END' timing line"),
                )),
                _ => Ok(()),
            };
        };
        let (number, timing) = taken[timing_at];
        let mut sides = timing.split("-->");
        let start = sides.next().unwrap_or_default().trim();
        // WebVTT may follow the end with cue settings (`align:start`).
        let end = sides
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default();
        let timestamp = |text: &str| {
            parse_timestamp(text).ok_or_else(|| {
                bad(
                    path,
                    number,
                    format!("'{text}' is not a time like 00:01:02.500, of at most {MAX_CUE_HOURS} hours"),
                )
            })
        };
        let ref_ns = timestamp(start)?;
        if timestamp(end)? < ref_ns {
            return Err(bad(
                path,
                number,
                format!("the cue ends ({end}) before it starts ({start})"),
            ));
        }
        let text: Vec<&str> = taken[timing_at + 1..].iter().map(|(_, l)| *l).collect();
        let id = match (webvtt, timing_at) {
            (true, 1..) => taken[timing_at - 1].1.to_owned(),
            _ => text.join("\n"),
        };
        if id.trim().is_empty() {
            return Err(bad(path, number, "the cue has neither an identifier nor text".into()));
        }
        cues.push(Cue { id, ref_ns });
        Ok(())
    };
    for (number, line) in lines {
        if line.trim().is_empty() {
            flush(&mut block)?;
        } else {
            block.push((number, line));
        }
    }
    flush(&mut block)?;
    Ok(cues)
}

/// The longest reference a cue may be timed in, in hours (far above any performance; it keeps
/// the times within what nanoseconds can count).
const MAX_CUE_HOURS: u64 = 1_000;

/// `HH:MM:SS.mmm`, `MM:SS.mmm` or SubRip's `HH:MM:SS,mmm`, in nanoseconds; `None` past
/// [`MAX_CUE_HOURS`].
fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.replace(',', ".");
    let parts: Vec<&str> = text.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m, s] => (h.parse::<u64>().ok()?, m.parse::<u64>().ok()?, *s),
        [m, s] => (0, m.parse::<u64>().ok()?, *s),
        _ => return None,
    };
    let (whole, fraction) = seconds.split_once('.')?;
    let whole: u64 = whole.parse().ok()?;
    if hours > MAX_CUE_HOURS || minutes >= 60 || whole >= 60 || fraction.is_empty() || fraction.len() > 9 {
        return None;
    }
    let fraction_ns: u64 = format!("{fraction:0<9}").parse().ok()?;
    Some(((hours * 60 + minutes) * 60 + whole) * 1_000_000_000 + fraction_ns)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCue {
    id: String,
    ref_s: f64,
}

fn parse_json(path: &Path, text: &str) -> Result<Vec<Cue>, ConfigError> {
    let cues: Vec<JsonCue> = serde_json::from_str(text).map_err(|e| {
        bad(
            path,
            e.line(),
            format!("{e}; expected a list of {{\"id\": \"…\", \"ref_s\": seconds}}"),
        )
    })?;
    cues.into_iter()
        .enumerate()
        .map(|(index, cue)| {
            if !cue.ref_s.is_finite() || cue.ref_s < 0.0 {
                return Err(bad(
                    path,
                    0,
                    format!(
                        "cue {} ('{}') has ref_s {}, expected seconds ≥ 0",
                        index + 1,
                        cue.id,
                        cue.ref_s
                    ),
                ));
            }
            Ok(Cue {
                id: cue.id,
                ref_ns: (cue.ref_s * 1e9).round() as u64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Result<Vec<Cue>, ConfigError> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("written");
        load_cues(&path)
    }

    fn cue(id: &str, ref_ms: u64) -> Cue {
        Cue {
            id: id.into(),
            ref_ns: ref_ms * 1_000_000,
        }
    }

    #[test]
    fn reads_webvtt_srt_and_json() {
        let vtt = "WEBVTT\n\nNOTE a comment\n\nscene-2\n00:01:02.500 --> 00:01:04.000\nEnter the king\n\n00:05.250 --> 00:06.000 align:start\nA line\nand another\n";
        assert_eq!(
            load("a.vtt", vtt).unwrap(),
            [cue("A line\nand another", 5_250), cue("scene-2", 62_500)]
        );
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:03,500 --> 00:00:04,000\nWorld\n";
        assert_eq!(load("a.srt", srt).unwrap(), [cue("Hello", 1_000), cue("World", 3_500)]);
        let json = r#"[{"id": "lights", "ref_s": 12.5}, {"id": "curtain", "ref_s": 0.25}]"#;
        assert_eq!(
            load("a.json", json).unwrap(),
            [cue("curtain", 250), cue("lights", 12_500)]
        );
    }

    #[test]
    fn bad_files_name_the_line_at_fault() {
        for (name, text, needle) in [
            (
                "a.vtt",
                "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:xx.000 --> 00:03.000\nbad\n",
                "line 6",
            ),
            ("a.vtt", "00:01.000 --> 00:02.000\nno header\n", "starts with 'WEBVTT'"),
            (
                "a.srt",
                "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nno timing\n",
                "line 5",
            ),
            ("a.json", "[{\"id\": \"x\"}]", "ref_s"),
            ("a.json", "[{\"id\": \"x\", \"ref_s\": -1}]", "seconds ≥ 0"),
            ("a.txt", "anything", ".vtt (WebVTT)"),
            ("a.srt", "", "no cue"),
            (
                "a.srt",
                "1\n00:00:01,000 --> 00:00:aa,000\nbad end\n",
                "'00:00:aa,000' is not a time",
            ),
            (
                "a.srt",
                "1\n9999999999999:00:01,000 --> 9999999999999:00:02,000\ntoo late\n",
                "at most 1000 hours",
            ),
            (
                "a.vtt",
                "WEBVTT\n\n00:05.000 --> 00:04.000\nbackwards\n",
                "ends (00:04.000) before it starts",
            ),
        ] {
            let error = load(name, text).unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
            assert!(error.contains(needle), "{name} {text:?}: {error}");
        }
    }
}
