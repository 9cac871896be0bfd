//! The simulator's HTTP side door, for playing the farmer and for inspecting what the modem
//! did. Bind it to loopback only: it has no authentication, by design (a test tool).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /sms` | `{"from","text"}` | [`DeliverySummary`](super::DeliverySummary): SMS-DELIVER PDUs, multipart when long, stored on the SIM with `+CMTI` |
//! | `POST /call` | `{"from"}` | `{"call_id"}`: `RING` + `+CLIP` until answered or missed |
//! | `POST /dtmf` | `{"digits"}` | `{"keys"}`: `+DTMF:` per key, during a connected call |
//! | `POST /hangup` | – | `{}`: the farmer hangs up (`NO CARRIER`) |
//! | `GET /outbox` | – | [`OutboxEntry`](super::OutboxEntry) list: what the modem sent (to, text, parts, refs, time) |
//! | `GET /spoken` | – | [`SpokenEntry`](super::SpokenEntry) list: text-to-speech |
//! | `GET /calls` | – | [`CallEntry`](super::CallEntry) list: direction, number, state, times |
//! | `GET /sim` | – | [`StoredEntry`](super::StoredEntry) list: the SIM store |
//! | `GET /stats` | – | [`SimStats`](super::SimStats) |
//! | `POST /faults` | [`FaultPlan`] | the faults armed afterwards |
//! | `GET /faults` | – | the faults armed |
//!
//! Errors answer `{"error": "..."}` with 400 (bad input), 409 (no such call / call in
//! progress) or 503 (network queue full). Request bodies reject unknown fields. These wire
//! types are this module's own, not the machine's records with derives bolted on, except
//! for the read-only listings, which are plain records meant to be shown.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::faults::FaultPlan;
use super::machine::SideDoorError;
use super::{Shared, SimError};

/// `POST /sms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsRequest {
    /// The farmer's number (`+919876543210`) or a short alphanumeric sender.
    pub from: String,
    /// The text; split into parts when long.
    pub text: String,
}

/// `POST /call`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// The farmer's number.
    pub from: String,
}

/// `POST /dtmf`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtmfRequest {
    /// Keys pressed, in order: `0-9`, `*`, `#`, `A-D`.
    pub digits: String,
}

/// Answer to `POST /call`.
#[derive(Debug, Serialize)]
pub struct CallAnswer {
    /// The new call's id (see `GET /calls`).
    pub call_id: u64,
}

/// Answer to `POST /dtmf`.
#[derive(Debug, Serialize)]
pub struct DtmfAnswer {
    /// Keys accepted.
    pub keys: usize,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ControlError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<SideDoorError> for ControlError {
    fn from(error: SideDoorError) -> Self {
        let status = match error {
            SideDoorError::InvalidSender(_)
            | SideDoorError::InvalidText(_)
            | SideDoorError::InvalidKeys(_) => StatusCode::BAD_REQUEST,
            SideDoorError::CallInProgress | SideDoorError::NoCall | SideDoorError::NotConnected => {
                StatusCode::CONFLICT
            }
            SideDoorError::NetworkQueueFull => StatusCode::SERVICE_UNAVAILABLE,
        };
        ControlError {
            status,
            message: error.to_string(),
        }
    }
}

impl From<JsonRejection> for ControlError {
    fn from(rejection: JsonRejection) -> Self {
        ControlError {
            status: StatusCode::BAD_REQUEST,
            message: rejection.body_text(),
        }
    }
}

impl From<SimError> for ControlError {
    fn from(error: SimError) -> Self {
        ControlError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
        }
    }
}

type SharedState = Arc<Shared>;

/// The side door's routes over a running simulator.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/sms", post(sms))
        .route("/call", post(call))
        .route("/dtmf", post(dtmf))
        .route("/hangup", post(hangup))
        .route("/outbox", get(outbox))
        .route("/spoken", get(spoken))
        .route("/calls", get(calls))
        .route("/sim", get(sim))
        .route("/stats", get(stats))
        .route("/faults", get(faults).post(arm_faults))
        .with_state(shared)
}

async fn sms(
    State(shared): State<SharedState>,
    body: Result<Json<SmsRequest>, JsonRejection>,
) -> Result<Response, ControlError> {
    let Json(request) = body?;
    let summary =
        shared.with_modem(|modem, now| modem.deliver_sms(&request.from, &request.text, now))?;
    Ok(Json(summary).into_response())
}

async fn call(
    State(shared): State<SharedState>,
    body: Result<Json<CallRequest>, JsonRejection>,
) -> Result<Response, ControlError> {
    let Json(request) = body?;
    let call_id = shared.with_modem(|modem, now| modem.incoming_call(&request.from, now))?;
    Ok(Json(CallAnswer { call_id }).into_response())
}

async fn dtmf(
    State(shared): State<SharedState>,
    body: Result<Json<DtmfRequest>, JsonRejection>,
) -> Result<Response, ControlError> {
    let Json(request) = body?;
    let keys = shared.with_modem(|modem, _| modem.press_keys(&request.digits))?;
    Ok(Json(DtmfAnswer { keys }).into_response())
}

async fn hangup(State(shared): State<SharedState>) -> Result<Response, ControlError> {
    shared.with_modem(|modem, now| modem.remote_hang_up(now))?;
    Ok(Json(serde_json::json!({})).into_response())
}

async fn outbox(State(shared): State<SharedState>) -> Response {
    Json(shared.with_modem(|modem, _| modem.outbox())).into_response()
}

async fn spoken(State(shared): State<SharedState>) -> Response {
    Json(shared.with_modem(|modem, _| modem.spoken())).into_response()
}

async fn calls(State(shared): State<SharedState>) -> Response {
    Json(shared.with_modem(|modem, _| modem.calls())).into_response()
}

async fn sim(State(shared): State<SharedState>) -> Response {
    Json(shared.with_modem(|modem, _| modem.stored())).into_response()
}

async fn stats(State(shared): State<SharedState>) -> Response {
    Json(shared.with_modem(|modem, _| modem.stats())).into_response()
}

async fn faults(State(shared): State<SharedState>) -> Response {
    Json(shared.with_modem(|modem, now| modem.armed_faults(now))).into_response()
}

async fn arm_faults(
    State(shared): State<SharedState>,
    body: Result<Json<FaultPlan>, JsonRejection>,
) -> Result<Response, ControlError> {
    let Json(plan) = body?;
    let armed = shared.arm_faults(&plan).await?;
    Ok(Json(armed).into_response())
}
