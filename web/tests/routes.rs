//! Who may call each route, written out: a change to a route's access (a
//! staff route made public, a role set widened or narrowed) must change
//! this list too, so it is never made by accident. The tables themselves
//! (`web::api::table`, `web::console::table`) build the routers and the
//! role checks; this test reads them back.

use raffle_core::Role;
use std::collections::BTreeSet;

/// (surface, method, path, access): `public`, `any` (any signed-in user),
/// or the roles allowed, sorted and joined by `+`.
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    ("api", "GET", "/api/v1/openapi.json", "public"),
    ("api", "GET", "/api/v1/raffles", "public"),
    ("api", "GET", "/api/v1/raffles/{id}", "public"),
    ("api", "POST", "/api/v1/raffles/{id}/purchases", "public"),
    ("api", "GET", "/api/v1/orders/{id}", "public"),
    ("api", "POST", "/api/v1/tickets/lookup", "public"),
    ("api", "POST", "/api/v1/payments/stripe/webhook", "public"),
    ("api", "POST", "/api/v1/sessions", "public"),
    ("api", "POST", "/api/v1/enrolment/password", "public"),
    ("api", "POST", "/api/v1/enrolment/totp", "public"),
    ("api", "DELETE", "/api/v1/sessions/current", "any"),
    ("api", "GET", "/api/v1/sessions", "any"),
    ("api", "DELETE", "/api/v1/sessions/{id}", "any"),
    ("api", "POST", "/api/v1/account/password", "any"),
    ("api", "POST", "/api/v1/account/device-pin", "rsu_operator"),
    ("api", "GET", "/api/v1/users", "administrator"),
    ("api", "POST", "/api/v1/users", "administrator"),
    ("api", "POST", "/api/v1/users/{id}/roles", "administrator"),
    ("api", "POST", "/api/v1/users/{id}/reset", "administrator"),
    ("api", "POST", "/api/v1/users/{id}/disable", "administrator"),
    ("api", "POST", "/api/v1/users/{id}/enable", "administrator"),
    ("api", "GET", "/api/v1/users/{id}/sessions", "administrator"),
    (
        "api",
        "DELETE",
        "/api/v1/users/{id}/sessions",
        "administrator",
    ),
    ("api", "POST", "/api/v1/raffles", "raffle_manager"),
    ("api", "PATCH", "/api/v1/raffles/{id}", "raffle_manager"),
    ("api", "POST", "/api/v1/raffles/{id}/open", "raffle_manager"),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/close",
        "raffle_manager",
    ),
    (
        "api",
        "GET",
        "/api/v1/raffles/{id}/reconciliation",
        "administrator+auditor+finance",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/reconciliation",
        "finance",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/freeze",
        "raffle_manager",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/contribution",
        "raffle_manager",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/perform",
        "raffle_manager",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/redraw",
        "raffle_manager",
    ),
    ("api", "POST", "/api/v1/sales/{id}/void", "finance"),
    (
        "api",
        "GET",
        "/api/v1/payments/reversals",
        "administrator+auditor+finance",
    ),
    (
        "api",
        "GET",
        "/api/v1/raffles/{id}/payments/reconciliation",
        "administrator+auditor+finance",
    ),
    ("api", "POST", "/api/v1/payments/stripe/fetch", "finance"),
    ("api", "POST", "/api/v1/payments/reversals/{id}", "finance"),
    (
        "api",
        "POST",
        "/api/v1/approvals/{id}",
        "administrator+finance",
    ),
    ("api", "POST", "/api/v1/claims", "raffle_manager"),
    ("api", "POST", "/api/v1/claims/supervised", "raffle_manager"),
    ("api", "GET", "/api/v1/events", "administrator+auditor"),
    ("api", "POST", "/api/v1/rsu/{rsu}/sync", "public"),
    (
        "api",
        "GET",
        "/api/v1/rsu/devices",
        "administrator+auditor+finance+raffle_manager",
    ),
    ("api", "POST", "/api/v1/rsu/devices", "administrator"),
    (
        "api",
        "POST",
        "/api/v1/rsu/devices/{rsu}/enrol",
        "administrator",
    ),
    (
        "api",
        "POST",
        "/api/v1/rsu/devices/{rsu}/enable",
        "administrator",
    ),
    (
        "api",
        "POST",
        "/api/v1/rsu/devices/{rsu}/disable",
        "administrator",
    ),
    (
        "api",
        "GET",
        "/api/v1/raffles/{id}/rsu",
        "administrator+auditor+finance+raffle_manager",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/rsu/allocations",
        "raffle_manager",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/rsu/{rsu}/cash",
        "finance",
    ),
    (
        "api",
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/rsu/{rsu}/unreconcilable",
        "finance",
    ),
    (
        "console",
        "GET",
        "/console/rsu",
        "administrator+auditor+finance+raffle_manager",
    ),
    ("console", "POST", "/console/rsu", "administrator"),
    (
        "console",
        "POST",
        "/console/rsu/{rsu}/{action}",
        "administrator",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/rsu/allocations",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/rsu/{rsu}/unreconcilable",
        "finance",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/rsu/cash",
        "finance",
    ),
    ("console", "GET", "/console/sign-in", "public"),
    ("console", "POST", "/console/sign-in", "public"),
    ("console", "POST", "/console/sign-out", "public"),
    ("console", "GET", "/console/enrol", "public"),
    ("console", "POST", "/console/enrol", "public"),
    ("console", "GET", "/console", "any"),
    ("console", "GET", "/console/raffles/new", "raffle_manager"),
    ("console", "POST", "/console/raffles", "raffle_manager"),
    ("console", "GET", "/console/raffles/{id}", "any"),
    (
        "console",
        "GET",
        "/console/raffles/{id}/edit",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/edit",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/open",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/close",
        "raffle_manager",
    ),
    (
        "console",
        "GET",
        "/console/raffles/{id}/draws/{draw_id}/reconciliation",
        "administrator+auditor+finance",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/reconciliation",
        "finance",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/reconciliation/fetch",
        "finance",
    ),
    (
        "console",
        "GET",
        "/console/raffles/{id}/draws/{draw_id}",
        "any",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/freeze",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/contribution",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/perform",
        "raffle_manager",
    ),
    (
        "console",
        "POST",
        "/console/raffles/{id}/draws/{draw_id}/redraw",
        "raffle_manager",
    ),
    ("console", "GET", "/console/claims", "raffle_manager"),
    ("console", "POST", "/console/claims", "raffle_manager"),
    (
        "console",
        "POST",
        "/console/claims/supervised",
        "raffle_manager",
    ),
    ("console", "GET", "/console/voids", "finance"),
    ("console", "POST", "/console/voids", "finance"),
    ("console", "POST", "/console/reversals/{id}", "finance"),
    (
        "console",
        "GET",
        "/console/approvals",
        "administrator+finance",
    ),
    (
        "console",
        "POST",
        "/console/approvals/{id}",
        "administrator+finance",
    ),
    ("console", "GET", "/console/account", "any"),
    ("console", "POST", "/console/account/password", "any"),
    (
        "console",
        "POST",
        "/console/account/device-pin",
        "rsu_operator",
    ),
    ("console", "POST", "/console/account/sessions/{id}", "any"),
    ("console", "GET", "/console/users", "administrator"),
    ("console", "POST", "/console/users", "administrator"),
    (
        "console",
        "POST",
        "/console/users/{id}/roles",
        "administrator",
    ),
    (
        "console",
        "POST",
        "/console/users/{id}/{action}",
        "administrator",
    ),
    ("console", "GET", "/console/events", "administrator+auditor"),
    ("console", "GET", "/console/status", "administrator+auditor"),
    (
        "console",
        "GET",
        "/console/status/panel",
        "administrator+auditor",
    ),
    ("console", "GET", "/console/settings", "administrator"),
    ("console", "POST", "/console/settings", "administrator"),
];

fn access(roles: Option<&[Role]>) -> String {
    match roles {
        None => "public".into(),
        Some([]) => "any".into(),
        Some(roles) => {
            let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            names.sort();
            names.join("+")
        }
    }
}

#[test]
fn every_route_has_the_access_written_here() {
    let mut actual = BTreeSet::new();
    for (surface, routes) in [
        ("api", web::api::routes()),
        ("console", web::console::routes()),
    ] {
        for r in routes {
            actual.insert((
                surface.to_string(),
                r.method.to_string(),
                r.path.to_string(),
                access(r.roles()),
            ));
        }
    }
    let expected: BTreeSet<(String, String, String, String)> = EXPECTED
        .iter()
        .map(|(s, m, p, a)| (s.to_string(), m.to_string(), p.to_string(), a.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let unexpected: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "routes whose access differs from this list:\n  expected, not served: {missing:#?}\n  served, not expected: {unexpected:#?}"
    );
    // The public site serves no staff route at all.
    assert!(
        web::site::table()
            .routes()
            .iter()
            .all(|r| r.roles().is_none())
    );
}
