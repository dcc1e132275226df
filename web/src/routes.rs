//! Route tables: each surface (the JSON API, the console, the public site)
//! lists its routes once, as [`Entry`]s: method, path, who may call it,
//! a summary, what it reads (for the OpenAPI document) and its handler.
//! The same list builds the surface's router, the role check its
//! middleware applies, the OpenAPI document, and the tests that walk every
//! route for every role; a route's roles are stated only there.
//!
//! Guarantees: a path is written once, in its entry; a method a path does
//! not declare is answered 405 by the router; a route that needs a session
//! is routed only behind its surface's role check ([`Table::router`]).

use crate::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use raffle_core::Role;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

/// The roles of the organisation, as sets the tables name.
pub mod roles {
    use raffle_core::Role;
    /// Any signed-in user.
    pub const ANY: &[Role] = &[];
    pub const ADMINISTRATOR: &[Role] = &[Role::Administrator];
    pub const MANAGER: &[Role] = &[Role::RaffleManager];
    pub const FINANCE: &[Role] = &[Role::Finance];
    /// Who may approve a second-person request (GLI-31 5.2.4).
    pub const APPROVERS: &[Role] = &[Role::Finance, Role::Administrator];
    /// Who may read the reconciliation figures.
    pub const FIGURES: &[Role] = &[Role::Finance, Role::Administrator, Role::Auditor];
    /// Who may search significant events.
    pub const EVENTS: &[Role] = &[Role::Administrator, Role::Auditor];
    /// Who may read the sales units and their figures.
    /// Sales-unit operators (their device PIN).
    pub const RSU_OPERATOR: &[Role] = &[Role::RsuOperator];
    pub const UNIT_READERS: &[Role] = &[
        Role::Administrator,
        Role::RaffleManager,
        Role::Finance,
        Role::Auditor,
    ];
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the handler may still ask for a token of its own kind).
    Public,
    /// A signed-in, enrolled user with one of these roles (none: any role).
    Staff(&'static [Role]),
}

/// What a route reads besides its path, for the OpenAPI document.
pub enum Input {
    None,
    Body(Value),
    Query(Value),
}

type Describe = fn(&mut SchemaGenerator) -> Input;

/// A route's description, without its handler.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    describe: Option<Describe>,
}

impl Route {
    /// The JSON Schema of what the route reads.
    pub fn input(&self, generator: &mut SchemaGenerator) -> Input {
        self.describe.map_or(Input::None, |d| d(generator))
    }

    /// The roles it needs, if it needs a session.
    pub fn roles(&self) -> Option<&'static [Role]> {
        match self.access {
            Access::Public => None,
            Access::Staff(roles) => Some(roles),
        }
    }
}

/// A route and its handler.
pub struct Entry {
    pub route: Route,
    handler: MethodRouter<AppState>,
}

/// A route: `method path`, `access`, `summary`, answered by `handler`.
pub fn entry<H, T>(
    method: Method,
    path: &'static str,
    access: Access,
    summary: &'static str,
    handler: H,
) -> Entry
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method routers know");
    Entry {
        route: Route {
            method,
            path,
            access,
            summary,
            describe: None,
        },
        handler: axum::routing::on(filter, handler),
    }
}

fn body<T: JsonSchema>(g: &mut SchemaGenerator) -> Input {
    Input::Body(g.subschema_for::<T>().to_value())
}

fn query<T: JsonSchema>(g: &mut SchemaGenerator) -> Input {
    Input::Query(g.root_schema_for::<T>().to_value())
}

impl Entry {
    /// The route reads a JSON body of type `T`.
    pub fn body<T: JsonSchema>(mut self) -> Entry {
        self.route.describe = Some(body::<T>);
        self
    }

    /// The route reads query parameters of type `T`.
    pub fn query<T: JsonSchema>(mut self) -> Entry {
        self.route.describe = Some(query::<T>);
        self
    }
}

/// A surface's routes.
pub struct Table(pub Vec<Entry>);

impl Table {
    /// The routes' descriptions.
    pub fn routes(&self) -> Vec<Route> {
        self.0.iter().map(|e| e.route.clone()).collect()
    }

    /// The router: public routes as they are, the others behind `check`
    /// (the surface's session and role check, which finds a route's roles
    /// with [`find`]).
    pub fn router(
        self,
        check: impl Fn(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Router<AppState> {
        let mut router = Router::new();
        for e in self.0 {
            let handler = match e.route.access {
                Access::Public => e.handler,
                Access::Staff(_) => check(e.handler),
            };
            router = router.route(e.route.path, handler);
        }
        router
    }
}

/// The route template (`/api/v1/raffles/{id}`) a request's path matches
/// in any surface's table, for metrics labels: `/log/*` for the published
/// log, `unmatched` for anything else (so a visitor's paths make no series).
/// It runs on every request: the templates are split once, and matching
/// allocates nothing.
pub fn template(method: &Method, path: &str) -> &'static str {
    use std::sync::OnceLock;
    type Split = (Method, &'static str, Vec<&'static str>, usize);
    static ALL: OnceLock<Vec<Split>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut all = crate::api::routes().to_vec();
        all.extend(crate::console::routes().iter().cloned());
        all.extend(crate::site::table().routes());
        all.extend(crate::ops::table().routes());
        let mut split: Vec<Split> = all
            .into_iter()
            .map(|r| {
                let params = r.path.matches('{').count();
                (r.method, r.path, r.path.split('/').collect(), params)
            })
            .collect();
        // A literal segment beats a parameter: `/api/v1/claims/supervised`
        // before `/api/v1/claims/{id}`.
        split.sort_by_key(|s| s.3);
        split
    });
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let matches = |template: &[&str]| {
        let mut segments = path.split('/');
        template.iter().all(|t| {
            segments
                .next()
                .is_some_and(|s| *t == s || (t.starts_with('{') && t.ends_with('}')))
        }) && segments.next().is_none()
    };
    match all.iter().find(|(m, _, t, _)| m == method && matches(t)) {
        Some((_, path, _, _)) => path,
        None if path.starts_with("/log/") => "/log/*",
        None => "unmatched",
    }
}

/// The route of `routes` that `method` and the matched path pattern name
/// (HEAD is answered by the GET route, and so checked as it).
pub fn find<'a>(routes: &'a [Route], method: &Method, matched: &str) -> Option<&'a Route> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    routes
        .iter()
        .find(|r| r.method == method && r.path == matched)
}
