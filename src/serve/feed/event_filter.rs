//! What a feed client asks `/events` for, read from the request's query string: `stream` and
//! `type` (comma-separated lists), `from_seq` (resume from the replay buffer) and `token`
//! (checked before this). Anything else, or a parameter given twice, is refused with a 400
//! that names it: a filter that silently means something else than its client thought is worse
//! than none.

use super::FeedEvent;

/// A query string `/events` cannot serve, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedQueryError {
    /// A parameter `/events` does not take.
    #[error("'{name}' is not a parameter of /events; expected stream, type, from_seq or token")]
    Unknown {
        /// The parameter's name.
        name: String,
    },
    /// The same parameter twice (which one would count is no question to leave open).
    #[error("'{name}' is given twice; give it once (stream and type take comma-separated lists)")]
    Repeated {
        /// The parameter's name.
        name: String,
    },
    /// `from_seq` that is not a whole number.
    #[error("from_seq is '{value}', expected a whole number ≥ 0")]
    BadFromSeq {
        /// What was given.
        value: String,
    },
    /// An empty name in a `stream` or `type` list.
    #[error("{name} '{value}' holds an empty name; expected names separated by commas")]
    EmptyName {
        /// `stream` or `type`.
        name: String,
        /// The list as given.
        value: String,
    },
}

/// The events a client wants, and where its replay starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these streams (all when `None`).
    pub streams: Option<Vec<String>>,
    /// Only these event types (all when `None`).
    pub kinds: Option<Vec<String>>,
    /// Replay held events from this seq on before the live ones.
    pub from_seq: Option<u64>,
}

impl EventFilter {
    /// Reads a query string (without its `?`; percent-encoded as in a URL).
    pub fn from_query(query: &str) -> Result<Self, FeedQueryError> {
        let mut filter = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if seen.iter().any(|earlier| *earlier == name) {
                return Err(FeedQueryError::Repeated {
                    name: name.into_owned(),
                });
            }
            seen.push(name.clone().into_owned());
            match name.as_ref() {
                "stream" => filter.streams = Some(names(&name, &value)?),
                "type" => filter.kinds = Some(names(&name, &value)?),
                "from_seq" => {
                    let from_seq = value.parse().map_err(|_| FeedQueryError::BadFromSeq {
                        value: value.clone().into_owned(),
                    })?;
                    filter.from_seq = Some(from_seq);
                }
                "token" => {}
                _ => {
                    return Err(FeedQueryError::Unknown {
                        name: name.into_owned(),
                    })
                }
            }
        }
        Ok(filter)
    }

    /// Whether the client wants `event`.
    pub fn accepts(&self, event: &FeedEvent) -> bool {
        self.streams.as_ref().is_none_or(|s| s.contains(&event.stream))
            && self.kinds.as_ref().is_none_or(|k| k.contains(&event.kind))
    }

    /// Whether the client wants events of `stream`.
    pub fn accepts_stream(&self, stream: &str) -> bool {
        self.streams.as_ref().is_none_or(|s| s.iter().any(|x| x == stream))
    }
}

fn names(name: &str, value: &str) -> Result<Vec<String>, FeedQueryError> {
    let names: Vec<String> = value.split(',').map(str::to_owned).collect();
    if names.iter().any(String::is_empty) {
        return Err(FeedQueryError::EmptyName {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_and_the_resume_point() {
        let filter = EventFilter::from_query("stream=a,b%20c&type=offset&from_seq=12&token=t").expect("a filter");
        assert_eq!(filter.streams, Some(vec!["a".to_owned(), "b c".to_owned()]));
        assert_eq!(filter.kinds, Some(vec!["offset".to_owned()]));
        assert_eq!(filter.from_seq, Some(12));
        assert_eq!(EventFilter::from_query(""), Ok(EventFilter::default()));
    }

    #[test]
    fn names_what_it_refuses() {
        let refused = |query: &str| EventFilter::from_query(query).expect_err(query).to_string();
        assert!(refused("stream=a&stream=b").contains("'stream' is given twice"));
        assert!(refused("from_seq=-1").contains("from_seq is '-1'"));
        assert!(refused("from_seq=99999999999999999999").contains("whole number"));
        assert!(refused("streams=a").contains("'streams' is not a parameter"));
        assert!(refused("type=offset,").contains("empty name"));
    }
}
