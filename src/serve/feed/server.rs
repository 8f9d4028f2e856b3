//! The feed's HTTP side: `GET /` (the live page), `GET /run` (what the run is), `GET /events`
//! (WebSocket), `GET /metrics` (Prometheus text), `GET /picture?stream=NAME` (the stream's
//! newest picture as the engine read it, a greyscale BMP), `GET /healthz`, and on `warpflow
//! serve` `GET /publish` (runs pushing their events); bearer-token checks, on a tokio runtime of
//! its own.
//!
//! `/events` takes `stream` and `type` (comma-separated lists), `from_seq` (resume from the
//! replay buffer; a `replay_truncated` message says when it no longer reaches that far) and
//! `token`. When nothing else was sent for a second, a `heartbeat` message carries each
//! stream's watermark. A client more than the queue behind, or that takes no message for
//! [`SEND_TIMEOUT`], gets a close frame (1008, "too slow …") and is dropped; when the run ends
//! ([`FeedServer::finish`]) every client reads the last events, then a close frame (1000).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use tokio::sync::broadcast::error::RecvError;

use crate::engine_metrics::EngineMetrics;
use crate::events::StreamControl;

use super::publish::serve_publisher;
use super::streams::{add_stream, list_streams, remove_stream, StreamSlot};
use super::{EventFilter, FeedEvent, FeedHub, Publishers, ReplayStart, RunDescription, LIVE_PAGE_HTML};

/// How often an idle client hears that the run is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a message to a client may take before the client counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client cut off for slowness has to take its close frame (it still holds a queue
/// of events before it) before its connection is dropped without one.
const TOO_SLOW_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client told that the run ended has to take the close frame and answer it: the
/// run's end waits on this, and a run ends within 2 s of a signal.
const RUN_ENDED_CLOSE_TIMEOUT: Duration = Duration::from_millis(800);
/// WebSocket close code for a policy violation: here, reading too slowly.
const CLOSE_TOO_SLOW: u16 = 1008;
/// WebSocket close code for a normal end: the run is over.
const CLOSE_RUN_ENDED: u16 = 1000;

/// How the feed is served.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// Address to listen on (127.0.0.1 unless the user says otherwise).
    pub bind: SocketAddr,
    /// When set, every route but `/healthz` wants `Authorization: Bearer TOKEN` or `?token=`.
    pub token: Option<String>,
    /// Events kept for clients that resume with `from_seq`.
    pub replay_events: usize,
    /// Events a client may fall behind before it is cut off.
    pub client_queue_events: usize,
    /// What `GET /run` tells the page about the run.
    pub run: RunDescription,
    /// The engine's own measurements, served with the feed's at `GET /metrics`.
    pub engine: Arc<EngineMetrics>,
    /// Whether runs may publish their events here (`GET /publish`, for `warpflow serve`).
    pub accept_publishers: bool,
}

impl FeedSettings {
    /// Settings for `bind` with the default buffer sizes.
    pub fn new(bind: SocketAddr, token: Option<String>) -> Self {
        Self {
            bind,
            token,
            replay_events: 10_000,
            client_queue_events: 1_024,
            run: RunDescription::default(),
            engine: Arc::default(),
            accept_publishers: false,
        }
    }
}

struct App {
    hub: Arc<FeedHub>,
    token: Option<String>,
    run: RunDescription,
    engine: Arc<EngineMetrics>,
    /// Set when runs may publish here.
    publishers: Option<Publishers>,
}

/// Lets a request through when the feed has no token or the request brings it (as a bearer
/// header or `?token=`, once); answers 401 otherwise. Every route but `/healthz` goes through it.
async fn require_token(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(token) = app.token.as_ref() else {
        return next.run(request).await;
    };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let in_query: Vec<String> = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
        .map(|Query(params)| params)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name == "token")
        .map(|(_, value)| value)
        .collect();
    if offered_token(bearer, &in_query).is_some_and(|offered| tokens_match(token, offered)) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        "this feed wants one token: 'Authorization: Bearer TOKEN' or ?token=TOKEN",
    )
        .into_response()
}

/// The one token a request offers, in its bearer header or its query; `None` when it offers
/// none, or more than one (which one would count is no question a request should leave open).
fn offered_token<'a>(bearer: Option<&'a str>, in_query: &'a [String]) -> Option<&'a str> {
    match (bearer, in_query) {
        (Some(bearer), []) => Some(bearer),
        (None, [only]) => Some(only.as_str()),
        _ => None,
    }
}

/// Whether `offered` is `expected`, in a time that does not depend on where they first differ
/// (only on the offered token's length), so that timing does not tell a guess how close it is.
fn tokens_match(expected: &str, offered: &str) -> bool {
    let (expected, offered) = (expected.as_bytes(), offered.as_bytes());
    let differences = offered.iter().enumerate().fold(0u8, |acc, (k, byte)| {
        acc | (byte ^ expected.get(k).copied().unwrap_or(!byte))
    });
    differences == 0 && expected.len() == offered.len()
}

/// A running feed server; dropping it stops it.
pub struct FeedServer {
    runtime: Option<tokio::runtime::Runtime>,
    local_addr: SocketAddr,
    hub: Arc<FeedHub>,
    streams: Arc<StreamSlot>,
}

impl FeedServer {
    /// Binds `settings.bind` and serves in the background.
    pub fn start(settings: FeedSettings) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("warpflow-feed")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind(settings.bind)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let hub = Arc::new(FeedHub::new(settings.replay_events, settings.client_queue_events));
        let app = Arc::new(App {
            hub: hub.clone(),
            token: settings.token,
            run: settings.run,
            engine: settings.engine,
            publishers: settings.accept_publishers.then(Publishers::default),
        });
        let streams = Arc::new(StreamSlot::new());
        let stream_routes = Router::new()
            .route("/streams", get(list_streams).post(add_stream))
            .route("/streams/{id}", delete(remove_stream))
            .with_state(streams.clone());
        let router = Router::new()
            .route("/", get(page))
            .route("/run", get(run_description))
            .route("/publish", get(publish))
            .route("/events", get(events))
            .route("/metrics", get(metrics))
            .route("/picture", get(picture))
            .merge(stream_routes)
            .route_layer(middleware::from_fn_with_state(app.clone(), require_token))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(app);
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!("the event feed stopped: {error}");
            }
        });
        Ok(Self {
            runtime: Some(runtime),
            local_addr,
            hub,
            streams,
        })
    }

    /// Serves `service`'s streams at `/streams` from now on (until then those routes answer
    /// 404); a feed serves one service, and a second is refused (handed back).
    pub fn serve_streams(&self, service: Arc<dyn StreamControl>) -> Result<(), Arc<dyn StreamControl>> {
        self.streams.set(service)
    }

    /// The address it listens on (with the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the run publishes its events.
    pub fn hub(&self) -> Arc<FeedHub> {
        self.hub.clone()
    }

    /// Ends the feed after the run's last event: every client reads what it has not yet read
    /// and gets a normal close (1000), within `grace`; then the server stops. A client still
    /// reading when `grace` runs out is dropped without it.
    pub fn finish(self, grace: Duration) {
        self.hub.close();
        let deadline = std::time::Instant::now() + grace;
        while self.hub.open_connections() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_millis(500));
        }
    }
}

async fn page() -> Response {
    Html(LIVE_PAGE_HTML).into_response()
}

async fn run_description(State(app): State<Arc<App>>) -> Response {
    let run = match &app.publishers {
        Some(publishers) => publishers.description(),
        None => app.run.clone(),
    };
    match serde_json::to_string(&run) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn publish(upgrade: WebSocketUpgrade, State(app): State<Arc<App>>) -> Response {
    if app.publishers.is_none() {
        let reason = "this is a run's own feed; runs publish to 'warpflow serve'";
        return (StatusCode::NOT_FOUND, reason).into_response();
    }
    upgrade.on_upgrade(move |socket| async move {
        if let Some(publishers) = &app.publishers {
            serve_publisher(socket, &app.hub, publishers).await;
        }
    })
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.hub.metrics_text() + &app.engine.render(),
    )
        .into_response()
}

async fn picture(State(app): State<Arc<App>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let stream = params.get("stream").map(String::as_str);
    match app.engine.pictures.latest(stream) {
        Some((_, picture)) => (
            [(header::CONTENT_TYPE, "image/bmp"), (header::CACHE_CONTROL, "no-store")],
            super::picture::bmp(&picture),
        )
            .into_response(),
        None => {
            let reason = match stream {
                Some(name) => format!("no picture of stream '{name}' yet (sync runs keep one)"),
                None => "no picture yet (sync runs keep one per stream)".to_owned(),
            };
            (StatusCode::NOT_FOUND, reason).into_response()
        }
    }
}

async fn events(upgrade: WebSocketUpgrade, State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let filter = match EventFilter::from_query(query.as_deref().unwrap_or_default()) {
        Ok(filter) => filter,
        Err(reason) => return (StatusCode::BAD_REQUEST, reason.to_string()).into_response(),
    };
    let connection = app.hub.connection_opened();
    upgrade.on_upgrade(move |socket| async move {
        serve_client(socket, &app.hub, filter).await;
        drop(connection);
    })
}

/// What became of a message sent to a client.
enum Sent {
    Taken,
    /// The connection is gone.
    Gone,
    /// The client took nothing for [`SEND_TIMEOUT`].
    TooSlow,
}

async fn send(socket: &mut WebSocket, text: String) -> Sent {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Sent::Taken,
        Ok(Err(_)) => Sent::Gone,
        Err(_) => Sent::TooSlow,
    }
}

/// Sends a close frame saying why, and waits (up to `timeout` in all) for the client to take it
/// and answer, so that the reason reaches a client that reads whatever it still holds.
async fn close(socket: &mut WebSocket, code: u16, reason: String, timeout: Duration) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(timeout, async {
        if socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                return;
            }
        }
    })
    .await;
}

/// Why a client's connection ends.
enum Ending {
    Gone,
    TooSlow(String),
    RunEnded,
}

impl From<Sent> for Result<(), Ending> {
    fn from(sent: Sent) -> Self {
        match sent {
            Sent::Taken => Ok(()),
            Sent::Gone => Err(Ending::Gone),
            Sent::TooSlow => Err(Ending::TooSlow(format!(
                "no message taken in {} s",
                SEND_TIMEOUT.as_secs()
            ))),
        }
    }
}

async fn serve_client(mut socket: WebSocket, hub: &FeedHub, filter: EventFilter) {
    let subscription = hub.subscribe(filter.from_seq, |event| filter.accepts(event));
    let mut live = subscription.live;
    let ending = match replay(&mut socket, subscription.start, subscription.replay).await {
        Ok(()) => forward_live(&mut socket, &mut live, hub, &filter).await,
        Err(ending) => ending,
    };
    // A client that is cut off or done holds no place in the broadcast queue while it is told.
    drop(live);
    match ending {
        Ending::Gone => {}
        Ending::TooSlow(why) => {
            let reason = format!("too slow: {why}; reconnect with from_seq");
            close(&mut socket, CLOSE_TOO_SLOW, reason, TOO_SLOW_CLOSE_TIMEOUT).await;
        }
        Ending::RunEnded => {
            close(
                &mut socket,
                CLOSE_RUN_ENDED,
                "the run ended".into(),
                RUN_ENDED_CLOSE_TIMEOUT,
            )
            .await;
        }
    }
}

/// Sends the held events a resuming client asked for, saying first when they no longer reach
/// back that far.
async fn replay(socket: &mut WebSocket, start: ReplayStart, events: Vec<Arc<FeedEvent>>) -> Result<(), Ending> {
    if let ReplayStart::Truncated { from_seq, oldest_seq } = start {
        let notice = serde_json::json!({
            "v": crate::events::SCHEMA_VERSION,
            "type": "replay_truncated",
            "from_seq": from_seq,
            "oldest_seq": oldest_seq,
        });
        Result::from(send(socket, notice.to_string()).await)?;
    }
    for event in events {
        Result::from(send(socket, event.json.clone()).await)?;
    }
    Ok(())
}

/// Sends the live events the client wants, and a heartbeat after a second without any, until
/// the connection ends.
async fn forward_live(
    socket: &mut WebSocket,
    live: &mut tokio::sync::broadcast::Receiver<Arc<FeedEvent>>,
    hub: &FeedHub,
    filter: &EventFilter,
) -> Ending {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent_since_tick = true;
    loop {
        let sent = tokio::select! {
            received = live.recv() => match received {
                Ok(event) if filter.accepts(&event) => {
                    sent_since_tick = true;
                    send(socket, event.json.clone()).await
                }
                Ok(_) => Sent::Taken,
                Err(RecvError::Lagged(missed)) => return Ending::TooSlow(format!("{missed} events missed")),
                Err(RecvError::Closed) => return Ending::RunEnded,
            },
            _ = heartbeat.tick() => {
                let idle = !sent_since_tick;
                sent_since_tick = false;
                if idle {
                    send(socket, heartbeat_message(hub, filter)).await
                } else {
                    Sent::Taken
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Sent::Gone,
                Some(Ok(_)) => Sent::Taken,
            },
        };
        if let Err(ending) = Result::from(sent) {
            return ending;
        }
    }
}

/// Each wanted stream's watermark, for a client that has heard nothing for a second.
fn heartbeat_message(hub: &FeedHub, filter: &EventFilter) -> String {
    let frontiers: serde_json::Map<String, serde_json::Value> = hub
        .frontiers_ns()
        .into_iter()
        .filter(|(stream, _)| filter.accepts_stream(stream))
        .map(|(stream, ns)| (stream, ns.into()))
        .collect();
    serde_json::json!({
        "v": crate::events::SCHEMA_VERSION,
        "type": "heartbeat",
        "frontiers_ns": frontiers,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_offers_one_token_and_only_the_same_one_matches() {
        let one = vec!["a".to_owned()];
        let two = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(offered_token(Some("t"), &[]), Some("t"));
        assert_eq!(offered_token(None, &one), Some("a"));
        assert_eq!(offered_token(None, &two), None, "?token=a&token=b");
        assert_eq!(offered_token(Some("t"), &one), None, "a header and a query");
        assert_eq!(offered_token(None, &[]), None);
        assert!(tokens_match("secret", "secret"));
        for wrong in ["", "secre", "secrets", "Secret", "sec\0et"] {
            assert!(!tokens_match("secret", wrong), "{wrong:?}");
        }
    }
}
