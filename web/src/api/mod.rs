//! The JSON API under `/api/v1`: the public routes ([`public`]: raffles,
//! purchases, orders, ticket lookup), the staff routes ([`admin`]: each
//! behind the session and role check), and the OpenAPI document
//! ([`openapi`]) generated from the same table. Validation numbers travel
//! only in request and response bodies, never in a URL, and are never
//! logged.

pub mod admin;
pub mod openapi;
pub mod public;

use crate::AppState;
use crate::routes::{Access, Route, Table, entry};
use axum::Json;
use axum::Router;
use axum::http::Method;
use std::sync::OnceLock;

/// The largest request body any route takes.
pub const MAX_BODY: usize = 128 * 1024;

/// Every route of the API, public and staff.
pub fn table() -> Table {
    let mut entries = public::entries();
    entries.extend(admin::entries());
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
