//! The live event feed (`--serve ADDR`): the run's events over WebSocket to any number of
//! clients, with filters, resumption from a bounded replay buffer and a heartbeat, and a live
//! page drawing them, on a small tokio runtime of its own so that no client can slow the engine.
//!
//! The engine publishes each event once into the [`FeedHub`] (a lock held for a push, and a
//! non-blocking broadcast); each client's task reads from the broadcast at its own pace. A
//! client that falls further behind than the broadcast holds is told so and disconnected;
//! the others do not notice. This module serves events; it never makes or changes them.

mod event_filter;
mod hub;
mod metrics;
mod page;
mod picture;
mod publish;
mod publish_error;
mod publisher;
mod replay;
mod server;
mod streams;
mod writer;

pub use event_filter::{EventFilter, FeedQueryError};
pub use hub::{ConnectionGuard, FeedHub, Subscription};
pub use metrics::FeedMetrics;
pub use page::{CueMark, RunDescription, LIVE_PAGE_HTML};
pub use publish::Publishers;
pub use publish_error::{PublishError, Refusal};
pub use publisher::FeedPublisher;
pub use replay::{FeedEvent, ReplayBuffer, ReplayStart};
pub use server::{FeedServer, FeedSettings};
pub use writer::FeedWriter;
