//! How fast a source that is not live is played.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;

/// Playback pace of files and test patterns (live cameras always run in real time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// As if live: buffers arrive at their running time, and a full ring drops records.
    #[default]
    Realtime,
    /// As fast as the machine allows: a full ring holds the pipeline back and nothing is lost.
    Fast,
}

impl FromStr for Pace {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "realtime" => Ok(Pace::Realtime),
            "fast" => Ok(Pace::Fast),
            _ => Err(ConfigError::BadValue {
                name: "--pace",
                value: text.to_owned(),
                expected: "'realtime' or 'fast'",
            }),
        }
    }
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pace::Realtime => "realtime",
            Pace::Fast => "fast",
        })
    }
}
