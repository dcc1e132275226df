//! The JSON API under `/api/v1`: the public routes ([`public`]: raffles,
//! purchases, orders, ticket lookup), the staff routes ([`admin`]: each
//! behind the session and role check), and the OpenAPI document
//! ([`openapi`]) generated from the same table. Validation numbers travel
//! only in request and response bodies, never in a URL, and are never
//! logged.

pub mod admin;
pub mod openapi;
pub mod public;
pub mod rsu;

use crate::AppState;
use crate::error::AppError;
use crate::routes::{Access, Route, Table, entry};
use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::Method;
use axum::http::request::Parts;
use std::sync::OnceLock;

/// The largest request body any route takes.
pub const MAX_BODY: usize = 128 * 1024;

/// Path parameters parsed into their types ([`raffle_core::ids`]): a
/// malformed one is answered 400, as JSON, saying which and why, before
/// the handler runs.
pub struct Ids<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Ids<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ids<T>, AppError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(Ids(t)),
            // A malformed id is the client's; a route whose pattern and
            // parameters disagree is ours.
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(AppError::bad_request(e.body_text()))
            }
            Err(e) => Err(AppError::new(e.status(), e.body_text())),
        }
    }
}

/// A JSON request body of type `T`: one that does not read (bad JSON, a
/// wrong or missing field, a malformed id or role) is answered with the
/// status axum gives it (400, 415 or 422), as JSON, saying what is wrong.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Body<T>, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(t)) => Ok(Body(t)),
            Err(e) => Err(AppError::new(e.status(), e.body_text())),
        }
    }
}

/// Query parameters of type `T`, refused as JSON (400) when they do not read.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, AppError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(Params(t)),
            Err(e) => Err(AppError::new(e.status(), e.body_text())),
        }
    }
}

/// Every route of the API, public and staff.
pub fn table() -> Table {
    let mut entries = public::entries();
    entries.extend(admin::entries());
    entries.extend(rsu::entries());
    entries.push(entry(
        Method::GET,
        "/api/v1/openapi.json",
        Access::Public,
        "This document.",
        || async { Json(openapi::document()) },
    ));
    Table(entries)
}

/// The API's routes (descriptions only), as the role check reads them.
pub fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| table().routes())
}

pub fn router(state: &AppState) -> Router<AppState> {
    table().router(admin::checked(state))
}
