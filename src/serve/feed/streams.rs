//! The service's stream routes: `GET /streams` lists them, `POST /streams` adds one (201 with
//! its description), `DELETE /streams/{id}` ends one (200 once its `eos` is written, 202 while
//! it is still ending). Refusals answer with `{"error": "…"}`: 400 for a request that names a
//! wrong field or a stream that cannot start, 404 for an id no stream has, 409 for an id in use,
//! 503 once the service is shutting down, 502 when the process of a cluster that holds the
//! stream does not answer.
//!
//! The routes only translate HTTP to [`StreamControl`] calls, which block, so they run on
//! tokio's blocking threads.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::events::{StreamControl, StreamRefusal, StreamState};

/// Where a feed finds the service its stream routes control, once there is one.
pub(super) type StreamSlot = OnceLock<Arc<dyn StreamControl>>;

fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => (status, [(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(Serialize)]
struct Refused {
    error: String,
}

fn refused(refusal: &StreamRefusal) -> Response {
    let status = match refusal {
        StreamRefusal::BadField { .. } | StreamRefusal::NotJson(_) | StreamRefusal::NotStarted { .. } => {
            StatusCode::BAD_REQUEST
        }
        StreamRefusal::IdInUse(_) => StatusCode::CONFLICT,
        StreamRefusal::NoSuchStream(_) => StatusCode::NOT_FOUND,
        StreamRefusal::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        StreamRefusal::HolderAway { .. } => StatusCode::BAD_GATEWAY,
    };
    json(
        status,
        &Refused {
            error: refusal.to_string(),
        },
    )
}

/// Runs `call` on the service on a blocking thread; 404 where this feed has no service.
async fn with_service<T: Send + 'static>(
    slot: &StreamSlot,
    call: impl FnOnce(&dyn StreamControl) -> T + Send + 'static,
) -> Result<T, Response> {
    let Some(service) = slot.get().cloned() else {
        let reason = "this feed takes no streams: 'warpflow serve' does";
        return Err((StatusCode::NOT_FOUND, reason).into_response());
    };
    tokio::task::spawn_blocking(move || call(service.as_ref()))
        .await
        .map_err(|error| (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response())
}

pub(super) async fn list_streams(State(slot): State<Arc<StreamSlot>>) -> Response {
    match with_service(&slot, |service| service.list()).await {
        Ok(streams) => json(StatusCode::OK, &streams),
        Err(response) => response,
    }
}

pub(super) async fn add_stream(State(slot): State<Arc<StreamSlot>>, body: Bytes) -> Response {
    match with_service(&slot, move |service| service.add(&body)).await {
        Ok(Ok(description)) => json(StatusCode::CREATED, &description),
        Ok(Err(refusal)) => refused(&refusal),
        Err(response) => response,
    }
}

pub(super) async fn remove_stream(State(slot): State<Arc<StreamSlot>>, Path(id): Path<String>) -> Response {
    match with_service(&slot, move |service| service.remove(&id)).await {
        Ok(Ok(description)) if description.state == StreamState::Ending => json(StatusCode::ACCEPTED, &description),
        Ok(Ok(description)) => json(StatusCode::OK, &description),
        Ok(Err(refusal)) => refused(&refusal),
        Err(response) => response,
    }
}
