//! Configuration: what users write (sources, test-pattern parameters, pacing) parsed into
//! validated settings. Every parser here refuses bad input with a [`ConfigError`] that names
//! the value at fault and what was expected; nothing here touches media, tensors or the graph.

mod cues;
mod error;
mod pace;
mod pipeline_file;
mod pushed;
mod source;
mod test_pattern;
mod webcam;

pub use cues::{load_cues, parse_cues, Cue};
pub use error::ConfigError;
pub use pace::Pace;
pub use pipeline_file::{PipelineFile, PipelineStream};
pub use pushed::PushedSource;
pub use source::SourceSpec;
pub use test_pattern::TestPatternParams;
pub use webcam::{Microphone, WebcamSpec};
