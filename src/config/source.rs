//! The `SOURCE` argument: which media a run reads.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{ConfigError, PushedSource, TestPatternParams, WebcamSpec};

/// A media source in one of the forms of the command-line contract.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// The built-in flash-and-beep test pattern.
    Test(TestPatternParams),
    /// A local media file.
    File(PathBuf),
    /// A network URI (`rtsp://`, `http://`, `https://`).
    Uri(String),
    /// A V4L2 camera and a microphone.
    Webcam(WebcamSpec),
    /// A GStreamer launch line with appsinks named `video` and/or `audio`.
    LaunchLine(String),
    /// Media a host program pushes in (the `avalign` element); never parsed from text.
    Pushed(PushedSource),
}

/// The forms a source can take, for error messages.
const SOURCE_FORMS: &str = "an existing media file, a URI, 'webcam', 'test' or a launch line";

const NETWORK_SCHEMES: [&str; 6] = ["rtsp", "rtsps", "rtspt", "rtspu", "http", "https"];

impl FromStr for SourceSpec {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(unknown(text, "the source is empty"));
        }
        if text == "test" || text.starts_with("test?") {
            let query = text.strip_prefix("test").unwrap_or_default().trim_start_matches('?');
            return TestPatternParams::from_query(query).map(SourceSpec::Test);
        }
        if let Some(rest) = text.strip_prefix("webcam") {
            if rest.is_empty() || rest.starts_with(':') || rest.starts_with('?') {
                return WebcamSpec::parse(rest).map(SourceSpec::Webcam);
            }
        }
        if text.contains('!') {
            return Ok(SourceSpec::LaunchLine(text.to_owned()));
        }
        if let Some((scheme, rest)) = text.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "file" {
                return existing_file(Path::new(&percent_decode(rest)));
            }
            if NETWORK_SCHEMES.contains(&scheme.as_str()) {
                return Ok(SourceSpec::Uri(text.to_owned()));
            }
            return Err(unknown(
                text,
                "URI schemes understood are file, rtsp, rtsps, rtspt (TCP), rtspu (UDP), http and https",
            ));
        }
        existing_file(Path::new(text))
    }
}

impl SourceSpec {
    /// Whether the source produces data at its own pace (a camera or network stream), so that
    /// `--pace` does not apply to it.
    pub fn is_live(&self) -> bool {
        matches!(self, SourceSpec::Webcam(_) | SourceSpec::Uri(_))
    }

    /// A description safe to print: credentials in URIs are masked.
    pub fn display_name(&self) -> String {
        match self {
            SourceSpec::Test(_) => "test pattern".to_owned(),
            SourceSpec::File(path) => path.display().to_string(),
            SourceSpec::Uri(uri) => mask_credentials(uri),
            SourceSpec::Webcam(webcam) => webcam.to_string(),
            SourceSpec::LaunchLine(line) => format!("launch line '{line}'"),
            SourceSpec::Pushed(_) => "the element's input".to_owned(),
        }
    }
}

impl SourceSpec {
    /// `text` (e.g. a GStreamer message about this source) with the URI's credentials masked,
    /// so that logs and events never show a password.
    pub fn redact(&self, text: &str) -> String {
        let SourceSpec::Uri(uri) = self else {
            return text.to_owned();
        };
        match credentials(uri) {
            Some(userinfo) => text.replace(userinfo, "***"),
            None => text.to_owned(),
        }
    }
}

/// The `user:password` part of a URI's authority, if it has one.
fn credentials(uri: &str) -> Option<&str> {
    let (_, rest) = uri.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(&rest[..at])
}

fn existing_file(path: &Path) -> Result<SourceSpec, ConfigError> {
    if path.is_file() {
        Ok(SourceSpec::File(path.to_path_buf()))
    } else {
        Err(ConfigError::MissingFile {
            path: path.to_path_buf(),
            expected: SOURCE_FORMS,
        })
    }
}

fn unknown(text: &str, reason: &str) -> ConfigError {
    ConfigError::UnknownSource {
        source_text: mask_credentials(text),
        reason: reason.to_owned(),
    }
}

/// `rtsp://user:pass@host/x` becomes `rtsp://***@host/x`.
fn mask_credentials(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => uri.to_owned(),
    }
}

/// Decodes `%XX` escapes in a `file://` path; invalid escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_in_names_and_messages() {
        let spec: SourceSpec = "rtsp://admin:s3cret@10.0.0.2:554/live".parse().unwrap();
        assert_eq!(spec.display_name(), "rtsp://***@10.0.0.2:554/live");
        let message = "Could not open rtsp://admin:s3cret@10.0.0.2:554/live (admin:s3cret refused)";
        let redacted = spec.redact(message);
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("rtsp://***@10.0.0.2:554/live"), "{redacted}");
    }

    #[test]
    fn recognises_every_form() {
        assert!(matches!("test".parse(), Ok(SourceSpec::Test(_))));
        assert!(matches!("test?fps=25".parse(), Ok(SourceSpec::Test(p)) if p.fps == 25.0));
        assert!(matches!(
            "webcam".parse(),
            Ok(SourceSpec::Webcam(WebcamSpec { device: None, .. }))
        ));
        assert!(matches!(
            "webcam:/dev/video2?mic=pulse".parse(),
            Ok(SourceSpec::Webcam(WebcamSpec { device: Some(d), microphone: crate::config::Microphone::Pulse(None) }))
                if d == Path::new("/dev/video2")
        ));
        assert_eq!(
            "rtsp://127.0.0.1:8554/x".parse(),
            Ok(SourceSpec::Uri("rtsp://127.0.0.1:8554/x".into()))
        );
        assert!(matches!(
            "videotestsrc ! appsink name=video".parse(),
            Ok(SourceSpec::LaunchLine(_))
        ));
        assert!(matches!("Cargo.toml".parse(), Ok(SourceSpec::File(_))));
        assert!(matches!(
            format!("file://{}/Cargo.toml", env!("CARGO_MANIFEST_DIR")).parse(),
            Ok(SourceSpec::File(_))
        ));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(matches!(
            "no/such/file.wav".parse::<SourceSpec>(),
            Err(ConfigError::MissingFile { .. })
        ));
        assert!(matches!(
            "ftp://host/x".parse::<SourceSpec>(),
            Err(ConfigError::UnknownSource { .. })
        ));
        assert!(matches!(
            "webcam:".parse::<SourceSpec>(),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            "".parse::<SourceSpec>(),
            Err(ConfigError::UnknownSource { .. })
        ));
    }

    #[test]
    fn credentials_never_reach_the_display_name() {
        let spec: SourceSpec = "rtsp://admin:secret@cam.local/stream".parse().unwrap();
        assert_eq!(spec.display_name(), "rtsp://***@cam.local/stream");
        let plain: SourceSpec = "rtsp://cam.local/a@b".parse().unwrap();
        assert_eq!(plain.display_name(), "rtsp://cam.local/a@b");
    }

    #[test]
    fn file_uris_are_percent_decoded() {
        assert_eq!(percent_decode("/tmp/a%20b.wav"), "/tmp/a b.wav");
        assert_eq!(percent_decode("/tmp/100%"), "/tmp/100%");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a user types, parsing answers with a source or an error, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in ".{0,80}") {
            let _ = text.parse::<SourceSpec>();
        }

        #[test]
        fn any_test_query_parses_or_is_refused(query in "[a-z_=&0-9.+-]{0,60}") {
            let _ = TestPatternParams::from_query(&query);
        }
    }
}
