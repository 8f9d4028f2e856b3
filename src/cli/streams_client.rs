//! `warpflow streams add|list|remove`: a small HTTP client for a running `warpflow serve`'s
//! stream routes. It prints the server's JSON answer; a refusal becomes an error carrying the
//! server's own message.
//!
//! Plain HTTP/1.1 over one connection per request (`Connection: close`), enough for the
//! service's short JSON answers, so that the command line needs no HTTP client library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

use super::args::{AddStreamArgs, StreamsAction, StreamsArgs};

/// How long the client waits on the server: a removal waits up to 10 s for the stream's end.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

impl StreamsArgs {
    /// Sends the action to the server and prints its answer.
    pub(super) fn run(&self) -> Result<()> {
        let (method, path, body) = match &self.action {
            StreamsAction::Add(add) => ("POST", "/streams".to_owned(), Some(add.request().to_string())),
            StreamsAction::List => ("GET", "/streams".to_owned(), None),
            StreamsAction::Remove { id } => ("DELETE", format!("/streams/{}", percent_encode(id)), None),
        };
        let (status, answer) = self.request(method, &path, body.as_deref())?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<Value>(&answer)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(answer);
            bail!("{} answered {status}: {}", self.server, message.trim());
        }
        println!("{}", answer.trim());
        Ok(())
    }

    /// One request; the answer's status and body.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
        let mut connection = TcpStream::connect(&self.server)
            .with_context(|| format!("cannot reach 'warpflow serve' at {}", self.server))?;
        connection.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let body = body.unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.server,
            body.len()
        );
        if let Some(token) = &self.token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        connection.write_all(head.as_bytes())?;
        connection.write_all(body.as_bytes())?;
        let mut answer = Vec::new();
        connection
            .read_to_end(&mut answer)
            .with_context(|| format!("reading the answer of {}", self.server))?;
        parse_answer(&answer).with_context(|| format!("{} did not answer in HTTP", self.server))
    }
}

impl AddStreamArgs {
    /// The JSON request for `POST /streams`: the fields given, no others.
    fn request(&self) -> Value {
        let mut request = Map::new();
        request.insert("id".into(), json!(self.id));
        request.insert("job".into(), json!(self.job));
        request.insert("source".into(), json!(self.source));
        // The server checks the values, and says which one is wrong.
        let optional = [
            ("reference", self.reference.as_ref().map(|v| json!(v))),
            ("cues", self.cues.as_ref().map(|v| json!(v))),
            ("pace", self.pace.as_ref().map(|v| json!(v))),
            ("progress_interval_s", self.progress_interval_s.map(|v| json!(v))),
            ("max_lag_ms", self.max_lag_ms.map(|v| json!(v))),
            ("window_s", self.window_s.map(|v| json!(v))),
            ("emit_interval_ms", self.emit_interval_ms.map(|v| json!(v))),
            ("relocation_window_s", self.relocation_window_s.map(|v| json!(v))),
            ("join_at_s", self.join_at_s.map(|v| json!(v))),
            ("emit_every_frames", self.emit_every_frames.map(|v| json!(v))),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                request.insert(field.into(), value);
            }
        }
        Value::Object(request)
    }
}

/// Status and body of an HTTP/1.1 answer (a body sent whole or in chunks).
fn parse_answer(answer: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("no end of headers in {} bytes", answer.len());
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status in '{}'", head.lines().next().unwrap_or_default()))?;
    let chunked = head
        .lines()
        .any(|line| line.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked { unchunk(body)? } else { body.to_owned() };
    Ok((status, body))
}

/// The body of a chunked answer.
fn unchunk(mut rest: &str) -> Result<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").context("a chunk without its size line")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or_default().trim(), 16)
            .with_context(|| format!("'{size}' is not a chunk size"))?;
        if size == 0 {
            return Ok(body);
        }
        let chunk = after.get(..size).context("a chunk shorter than its size")?;
        body.push_str(chunk);
        rest = after.get(size..).unwrap_or_default().trim_start_matches("\r\n");
    }
}

/// `text` with every byte outside the URL's unreserved characters percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_whole_or_in_chunks() {
        let whole = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_answer(whole).unwrap(), (201, "{}".to_owned()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(parse_answer(chunked).unwrap(), (200, "[1,2]".to_owned()));
        assert!(parse_answer(b"garbage").is_err());
    }

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(percent_encode("cam-1.a_b"), "cam-1.a_b");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }
}
