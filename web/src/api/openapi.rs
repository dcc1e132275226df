//! The OpenAPI document served at `/api/v1/openapi.json`, generated from
//! the API's route table ([`super::table`]), the one the router and the
//! role check are built from; a test checks that every documented route is
//! served. Request bodies and query
//! parameters are described by JSON Schemas (2020-12, as OpenAPI 3.1 uses)
//! derived with `schemars` from the very types the handlers deserialize.

use crate::routes::Input;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

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

/// Each path parameter of `path` with the type [`super::Ids`] parses it
/// as (the segment before it names what it is).
fn path_params(generator: &mut schemars::SchemaGenerator, path: &str) -> Vec<Value> {
    use raffle_core::ids::{ApprovalId, DrawId, RaffleId, SaleId, SessionId, UserId};
    let segments: Vec<&str> = path.split('/').collect();
    let mut params = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let before = i.checked_sub(1).map_or("", |j| segments[j]);
        let schema = match (name, before) {
            ("draw_id", _) => generator.subschema_for::<DrawId>().to_value(),
            ("id", "raffles") => generator.subschema_for::<RaffleId>().to_value(),
            ("id", "users") => generator.subschema_for::<UserId>().to_value(),
            ("id", "sessions") => generator.subschema_for::<SessionId>().to_value(),
            ("id", "approvals") => generator.subschema_for::<ApprovalId>().to_value(),
            ("id", "sales" | "orders") => generator.subschema_for::<SaleId>().to_value(),
            _ => json!({ "type": "string" }),
        };
        params.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
    }
    params
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
    for route in super::routes() {
        let (method, path) = (route.method.as_str(), route.path);
        let parameters = path_params(&mut generator, path);
        let errors = "JSON; errors are {\"error\": \"...\", \"code\": \"...\"}, refusals with their \"params\"";
        let mut op = match route.roles() {
            None => json!({
                "summary": route.summary,
                "parameters": parameters,
                "security": [],
                "responses": { "default": { "description": errors } }
            }),
            Some(roles) => {
                let who = if roles.is_empty() {
                    "any signed-in user".to_string()
                } else {
                    roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                };
                json!({
                    "summary": route.summary,
                    "description": format!("Needs a session (Authorization: Bearer) with the role: {who}."),
                    "parameters": parameters,
                    "security": [{ "bearer": [] }],
                    "x-roles": roles,
                    "responses": { "401": { "description": "no or expired session" }, "403": { "description": "role not allowed" }, "default": { "description": errors } }
                })
            }
        };
        describe_input(&mut op, route.input(&mut generator));
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
