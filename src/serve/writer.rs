//! Event writers and the choice between them.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::config::ConfigError;
use crate::events::{Event, EventWriter, RunSummary};

use super::PrettyWriter;

/// How events are written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// One JSON object per line, for programs.
    #[default]
    JsonLines,
    /// A readable line per event, for people.
    Pretty,
}

impl FromStr for OutputFormat {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "jsonl" => Ok(Self::JsonLines),
            "pretty" => Ok(Self::Pretty),
            _ => Err(ConfigError::BadValue {
                name: "--format",
                value: text.to_owned(),
                expected: "'jsonl' or 'pretty'",
            }),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::JsonLines => "jsonl",
            Self::Pretty => "pretty",
        })
    }
}

/// JSON lines on `out`, flushed per event so that a reader sees each one at once; the summary
/// goes to `notes` (standard error) to keep `out` pure JSON.
pub struct JsonLinesWriter<W: Write, N: Write> {
    out: W,
    notes: N,
}

impl<W: Write, N: Write> JsonLinesWriter<W, N> {
    /// Writes events to `out` and the summary to `notes`.
    pub fn new(out: W, notes: N) -> Self {
        Self { out, notes }
    }
}

impl<W: Write, N: Write> EventWriter for JsonLinesWriter<W, N> {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        writeln!(self.out, "{}", event.to_json_line())?;
        self.out.flush()
    }

    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()> {
        writeln!(self.notes, "{}", summary.line())
    }
}

/// The writer for `format` on standard output (and standard error for notes).
///
/// `live_paced`: whether media arrive at their own pace (live sources, `--pace realtime`); only
/// then is an event's latency a delay people care about, and the pretty view shows it.
pub fn event_writer(format: OutputFormat, live_paced: bool) -> Box<dyn EventWriter + Send> {
    match format {
        OutputFormat::JsonLines => Box::new(JsonLinesWriter::new(io::stdout(), io::stderr())),
        OutputFormat::Pretty => Box::new(PrettyWriter::new(io::stdout()).showing_latency(live_paced)),
    }
}
