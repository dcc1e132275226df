//! The OpenAPI document served at `/api/v1/openapi.json`, generated from
//! the route tables the server itself uses ([`PUBLIC_ROUTES`] here and
//! [`crate::admin::ROUTES`], which the role middleware enforces); a test
//! checks that every documented route is served. Request bodies and query
//! parameters are described by JSON Schemas (2020-12, as OpenAPI 3.1 uses)
//! derived with `schemars` from the very types the handlers deserialize.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// What a route reads besides its path: a JSON body or query parameters.
enum Input {
    None,
    Body(Value),
    Query(Value),
}

/// The request body or query of each route, from the handler's own type.
fn input(generator: &mut SchemaGenerator, method: &str, path: &str) -> Input {
    fn body<T: JsonSchema>(g: &mut SchemaGenerator) -> Input {
        Input::Body(g.subschema_for::<T>().to_value())
    }
    fn query<T: JsonSchema>(g: &mut SchemaGenerator) -> Input {
        Input::Query(g.root_schema_for::<T>().to_value())
    }
    use crate::admin as a;
    use crate::api as p;
    let g = generator;
    match (method, path) {
        ("POST", "/api/v1/raffles/{id}/purchases") => body::<p::PurchaseRequest>(g),
        ("POST", "/api/v1/tickets/lookup") => body::<p::Lookup>(g),
        ("POST", "/api/v1/sessions") => body::<a::SignIn>(g),
        ("POST", "/api/v1/users") => body::<a::NewUser>(g),
        ("POST", "/api/v1/users/{id}/roles") => body::<a::Roles>(g),
        ("POST", "/api/v1/account/password") => body::<a::PasswordChange>(g),
        ("POST", "/api/v1/enrolment/password") => body::<a::EnrolmentPassword>(g),
        ("POST", "/api/v1/enrolment/totp") => body::<a::EnrolmentCode>(g),
        ("POST", "/api/v1/raffles") | ("PATCH", "/api/v1/raffles/{id}") => body::<a::ConfigBody>(g),
        ("POST", "/api/v1/raffles/{id}/reconciliation") => body::<a::ReconciliationRequest>(g),
        ("GET", "/api/v1/raffles/{id}/reconciliation") => query::<a::DrawQuery>(g),
        ("POST", "/api/v1/raffles/{id}/draws/{draw_id}/contribution") => body::<a::Contribution>(g),
        ("POST", "/api/v1/raffles/{id}/draws/{draw_id}/redraw") => body::<a::RedrawRequest>(g),
        ("POST", "/api/v1/sales/{id}/void") => body::<a::VoidRequest>(g),
        ("POST", "/api/v1/approvals/{id}") => body::<a::Decision>(g),
        ("POST", "/api/v1/claims") => body::<a::Claim>(g),
        ("POST", "/api/v1/claims/supervised") => body::<a::SupervisedClaim>(g),
        ("GET", "/api/v1/events") => query::<a::EventQuery>(g),
        _ => Input::None,
    }
}

/// Adds a route's body or query parameters to its operation.
fn describe_input(op: &mut Value, input: Input) {
    match input {
        Input::None => {}
        Input::Body(schema) => {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema } }
            });
        }
        Input::Query(schema) => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let (Some(params), Some(props)) = (
                op["parameters"].as_array_mut(),
                schema["properties"].as_object(),
            ) {
                for (name, s) in props {
                    params.push(json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(&name.as_str()),
                        "schema": s,
                    }));
                }
            }
        }
    }
}

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
        "Sign in with username, password and TOTP code: returns a bearer token. With a one-time enrolment code as the password (and any code), the token opens only the enrolment steps.",
    ),
    (
        "POST",
        "/api/v1/enrolment/password",
        "Enrolment, step one (an enrolment session): a password of your own; answers your TOTP secret.",
    ),
    (
        "POST",
        "/api/v1/enrolment/totp",
        "Enrolment, step two: a code from your authenticator confirms it; the session then opens your routes.",
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
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
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
        let mut op = json!({ "summary": summary, "parameters": params(path), "security": [], "responses": { "default": { "description": "JSON; errors are {\"error\": \"...\"}" } } });
        describe_input(&mut op, input(&mut generator, method, path));
        add(method, path, op);
    }
    for (method, path, roles) in crate::admin::ROUTES {
        let who = if roles.is_empty() {
            "any signed-in user".to_string()
        } else {
            roles.join(" or ")
        };
        let mut op = json!({
            "summary": summary_of(method, path),
            "description": format!("Needs a session (Authorization: Bearer) with the role: {who}."),
            "parameters": params(path),
            "security": [{ "bearer": [] }],
            "x-roles": roles,
            "responses": { "401": { "description": "no or expired session" }, "403": { "description": "role not allowed" }, "default": { "description": "JSON; errors are {\"error\": \"...\"}" } }
        });
        describe_input(&mut op, input(&mut generator, method, path));
        add(method, path, op);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "raffled", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": generator.take_definitions(true),
        },
        "paths": paths,
    })
}
