//! The transparency page: the latest signed checkpoint, the log's public
//! key, the published files, how to audit with `raffle-audit`, and the
//! software's identity (GLI-31 5.8.1).

use super::{LangQuery, lang, layout};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

pub async fn page(
    State(state): State<AppState>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&q, &headers);
    let checkpoint = state.sequencer.latest_checkpoint();
    let size = checkpoint
        .as_ref()
        .and_then(|n| transparency::Checkpoint::parse_text(n.text()).ok())
        .map(|c| c.size);
    let log_url = super::log_url(&headers);
    let content = html! {
        h1 { (lang.t("transparency.title")) }
        p { (lang.t("transparency.intro")) }
        h2 { (lang.t("transparency.checkpoint")) }
        @match (&checkpoint, size) {
            (Some(note), Some(size)) => {
                p { (lang.f("transparency.size", &[("size", &lang.count(size))])) }
                pre { code { (String::from_utf8_lossy(&note.to_bytes())) } }
            }
            _ => { p { (lang.t("transparency.nothing")) } }
        }
        h2 { (lang.t("transparency.key")) }
        pre { code { (state.vkey) } }
        h2 { (lang.t("transparency.files")) }
        ul {
            li { a href="/log/checkpoint" { "/log/checkpoint" } }
            li { a href="/log/vkey" { "/log/vkey" } }
            li { code { "/log/tile/…" } }
        }
        h2 { (lang.t("transparency.audit")) }
        p { (lang.t("transparency.audit.log")) }
        pre { code { "raffle-audit log " (log_url) " --vkey '" (state.vkey) "'" } }
        p { (lang.t("transparency.audit.ticket")) }
        pre { code { "raffle-audit ticket receipt.tlog-proof --vkey '" (state.vkey) "' --source " (log_url) } }
        h2 { (lang.t("transparency.software")) }
        p { "raffled " (env!("CARGO_PKG_VERSION")) }
    };
    layout(
        lang,
        StatusCode::OK,
        lang.t("transparency.title"),
        "/transparency",
        content,
    )
}
