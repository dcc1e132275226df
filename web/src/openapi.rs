//! The OpenAPI document served at `/api/v1/openapi.json`, generated from
//! the route tables the server itself uses ([`PUBLIC_ROUTES`] here and
//! [`crate::admin::ROUTES`], which the role middleware enforces); a test
//! checks that every documented route is served.

use serde_json::{Map, Value, json};

/// Public routes: method, path, summary.
pub const PUBLIC_ROUTES: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/api/v1/raffles",
        "List raffles with status and live jackpot estimate.",
    ),
    (
        "GET",
        "/api/v1/raffles/{id}",
        "A raffle: rules, packages, draws and results.",
    ),
    (
        "POST",
        "/api/v1/raffles/{id}/purchases",
        "Buy a package: 201 with the receipt (Idempotency-Key honoured).",
    ),
    ("GET", "/api/v1/orders/{id}", "An order's status."),
    (
        "POST",
        "/api/v1/tickets/lookup",
        "Check a ticket by its validation number (in the body, never in the URL).",
    ),
    (
        "POST",
        "/api/v1/sessions",
        "Sign in with username, password and TOTP code: returns a bearer token.",
    ),
    ("GET", "/api/v1/openapi.json", "This document."),
];

fn summary_of(method: &str, path: &str) -> String {
    let verb = match method {
        "GET" => "Read",
        "DELETE" => "End",
        "PATCH" => "Change",
        _ => "Submit",
    };
    format!(
        "{verb} {}",
        path.trim_start_matches("/api/v1/").replace('/', " ")
    )
}

/// The document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let mut add = |method: &str, path: &str, op: Value| {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_lowercase()] = op;
    };
    let params = |path: &str| -> Vec<Value> {
        path.split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect()
    };
    for (method, path, summary) in PUBLIC_ROUTES {
        add(
            method,
            path,
            json!({ "summary": summary, "parameters": params(path), "security": [], "responses": { "default": { "description": "JSON; errors are {\"error\": \"...\"}" } } }),
        );
    }
    for (method, path, roles) in crate::admin::ROUTES {
        let who = if roles.is_empty() {
            "any signed-in user".to_string()
        } else {
            roles.join(" or ")
        };
        add(
            method,
            path,
            json!({
                "summary": summary_of(method, path),
                "description": format!("Needs a session (Authorization: Bearer) with the role: {who}."),
                "parameters": params(path),
                "security": [{ "bearer": [] }],
                "x-roles": roles,
                "responses": { "401": { "description": "no or expired session" }, "403": { "description": "role not allowed" }, "default": { "description": "JSON" } }
            }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "raffled", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "paths": paths,
    })
}
