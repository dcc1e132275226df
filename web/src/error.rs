//! The one error type of the web layer: every failure becomes a JSON
//! answer `{"error": "..."}` with the status that fits it. Internal details
//! (database messages) are logged, not sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use raffle_core::Error;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, what)
    }

    pub fn bad_request(what: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, what)
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        let status = match &e {
            Error::Invalid { .. } | Error::Overflow(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Refused(_) | Error::ValidationNumberTaken => StatusCode::CONFLICT,
            Error::Storage(_) | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::UnknownEntry(_) | Error::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        match &e {
            Error::Storage(detail) => {
                eprintln!("raffled: storage error: {detail}");
                AppError::new(
                    status,
                    "the system cannot take this change now; nothing was charged twice: retry with the same Idempotency-Key",
                )
            }
            _ => AppError::new(status, e.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
