//! The one error type of the web layer: every failure becomes a JSON
//! answer `{"error": "...", "code": "..."}` with the status that fits it.
//! `code` is stable: a refusal's own code ([`Refusal::code`]), else one per
//! kind of failure ([`AppError::code`]). The console renders a refusal in
//! the page's language from its code; internal details (database
//! messages) are logged, not sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use raffle_core::{Error, Refusal};

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
    /// The rule that refused the change, if a rule did.
    pub refusal: Option<Refusal>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError {
            status,
            message: message.into(),
            refusal: None,
        }
    }

    /// A change the rules refuse: 409, with the refusal's code.
    pub fn refused(r: Refusal) -> AppError {
        AppError {
            status: StatusCode::CONFLICT,
            message: Error::Refused(r.clone()).to_string(),
            refusal: Some(r),
        }
    }

    /// The same error with another status.
    pub fn with_status(self, status: StatusCode) -> AppError {
        AppError { status, ..self }
    }

    /// The JSON answer: `error` (English), `code`, and for a refusal its
    /// `params` (the values its text names, for clients that word it in
    /// their own language).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.message, "code": self.code() });
        // The request's id, for the buyer to quote (crate::ops::request_id).
        if let Some(id) = crate::ops::request_id::current() {
            body["request_id"] = serde_json::Value::String(id);
        }
        if let Some(r) = &self.refusal {
            body["params"] = refusal_params(r);
        }
        body
    }

    /// The stable code of the answer: the refusal's, else the kind of
    /// failure its status says.
    pub fn code(&self) -> &'static str {
        if let Some(r) = &self.refusal {
            return r.code();
        }
        match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_client_error() => "bad_request",
            _ => "internal",
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
        match e {
            Error::Refused(r) => AppError::refused(r),
            Error::Storage(detail) => {
                tracing::error!(error = %detail, "storage error");
                AppError::new(
                    status,
                    "the system cannot take this change now; nothing was charged twice: retry with the same Idempotency-Key",
                )
            }
            e => AppError::new(status, e.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// A refusal's parameters as a JSON object of strings.
pub fn refusal_params(r: &Refusal) -> serde_json::Value {
    serde_json::Value::Object(
        r.params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
            .collect(),
    )
}
