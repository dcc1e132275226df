//! The card section of a draw's reconciliation screen: the raffle's card
//! sales, voids and refunds against Stripe's books, per day and in total,
//! the payouts that carried its money, and every difference by order
//! (GLI-31 2.6.3); and the action that fetches Stripe's books again.

use super::{Console, PageIds, done};
use crate::AppState;
use crate::app::stripe::reconcile::{self, Amount, CardReconciliation, Day};
use crate::i18n::Lang;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::ids::{DrawId, RaffleId};
use raffle_core::{Currency, Money, Timestamp};

/// A signed amount in the page's language.
fn amount(lang: Lang, a: Amount, currency: Currency) -> String {
    let m = lang.money(Money::new(a.0.unsigned_abs(), currency));
    if a.0 < 0 { format!("−{m}") } else { m }
}

/// The section, for a draw cut off at `cutoff`.
pub fn section(
    c: &Console,
    card: &CardReconciliation,
    cutoff: Timestamp,
    zone: &str,
    fetch_path: &str,
) -> Markup {
    let lang = c.lang;
    let cur = card.currency;
    let money = |a: Amount| amount(lang, a, cur);
    let row = |d: &Day, head: String| {
        html! {
            tr {
                th scope="row" { (head) }
                td { (lang.count(d.sales)) } td { (money(d.sold)) }
                td { (lang.count(d.refunds)) } td { (money(d.refunded)) }
                td { (money(d.charged)) } td { (money(d.stripe_refunded)) }
                td { (money(d.disputed)) } td { (money(d.fees)) } td { (money(d.net)) }
            }
        }
    };
    let running = card
        .latest_fetch
        .as_ref()
        .is_some_and(|f| f.finished.is_none());
    let failed = card
        .latest_fetch
        .as_ref()
        .and_then(|f| f.error.as_deref().filter(|_| f.finished.is_some()));
    html! {
        h2 #card { (lang.t("console.card.title")) }
        @match &card.fetched {
            Some(f) => p #card-fetched { (lang.f("console.card.fetched", &[("time", &lang.time(f.started, zone))])) },
            None => p #card-fetched { (lang.t("console.card.never")) },
        }
        @if running { p.note role="status" { (lang.t("console.card.running")) } }
        @if let Some(e) = failed { p.error role="alert" { (lang.f("console.card.failed", &[("error", e)])) } }
        @if c.may(crate::routes::roles::FINANCE) {
            form method="post" action=(c.href(fetch_path)) {
                (c.csrf_field())
                button type="submit" { (lang.t("console.card.fetch")) }
            }
        }
        div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
            table #card-days {
                thead { tr {
                    th scope="col" { (lang.t("console.card.day")) }
                    th scope="col" { (lang.t("console.card.our_sales")) }
                    th scope="col" { (lang.t("console.card.sold")) }
                    th scope="col" { (lang.t("console.card.our_refunds")) }
                    th scope="col" { (lang.t("console.card.refunded")) }
                    th scope="col" { (lang.t("console.card.charged")) }
                    th scope="col" { (lang.t("console.card.stripe_refunded")) }
                    th scope="col" { (lang.t("console.card.disputed")) }
                    th scope="col" { (lang.t("console.card.fees")) }
                    th scope="col" { (lang.t("console.card.net")) }
                } }
                tbody {
                    @for d in &card.days { (row(d, d.date.clone().unwrap_or_default())) }
                }
                tfoot { (row(&card.total, lang.t("console.card.total").to_string())) }
            }
        }
        h3 { (lang.t("console.card.payouts")) }
        @if !card.payouts.is_empty() {
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table #card-payouts {
                    thead { tr {
                        th scope="col" { (lang.t("console.card.payout")) }
                        th scope="col" { (lang.t("console.card.arrival")) }
                        th scope="col" { (lang.t("console.card.status")) }
                        th scope="col" { (lang.t("console.card.amount")) }
                        th scope="col" { (lang.t("console.card.share")) }
                    } }
                    tbody {
                        @for p in &card.payouts {
                            tr {
                                td { code { (p.payout.id) } }
                                td { (lang.time(p.payout.arrival, zone)) }
                                td { (p.payout.status) }
                                td { (money(Amount(p.payout.amount))) }
                                td { (money(p.share)) }
                            }
                        }
                    }
                }
            }
        }
        p { (lang.f("console.card.not_paid_out", &[("amount", &money(card.not_paid_out))])) }
        h3 { (lang.t("console.card.differences")) }
        @if card.differences.is_empty() {
            p #card-differences role="status" { (lang.t("console.card.none")) }
        } @else {
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table #card-differences {
                    thead { tr {
                        th scope="col" { (lang.t("console.card.kind")) }
                        th scope="col" { (lang.t("console.card.order")) }
                        th scope="col" { (lang.t("console.card.intent")) }
                        th scope="col" { (lang.t("console.card.ours")) }
                        th scope="col" { (lang.t("console.card.stripe")) }
                        th scope="col" { (lang.t("console.card.reversal")) }
                        th scope="col" { (lang.t("console.card.state")) }
                    } }
                    tbody {
                        @for d in &card.differences {
                            tr {
                                td { (lang.t(kind_key(d.kind))) }
                                td { @if let Some(o) = &d.order { code { (o) } } }
                                td { @if let Some(pi) = &d.payment_intent { code { (pi) } } }
                                td { (money(d.ours)) }
                                td { (money(d.stripe)) }
                                td { @if let Some(r) = &d.reversal { (r) } }
                                td {
                                    @if d.explained() { (lang.t("console.card.state.explained")) }
                                    @else if !d.bears_on(cutoff) { (lang.t("console.card.state.later")) }
                                    @else { strong { (lang.t("console.card.state.open")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn kind_key(k: reconcile::DifferenceKind) -> &'static str {
    use reconcile::DifferenceKind as K;
    match k {
        K::NoOrder => "console.card.kind.no_order",
        K::NotCaptured => "console.card.kind.not_captured",
        K::ChargedWithoutSale => "console.card.kind.charged_without_sale",
        K::RefundedOutside => "console.card.kind.refunded_outside",
        K::RefundMissing => "console.card.kind.refund_missing",
        K::Disputed => "console.card.kind.disputed",
        K::Currency => "console.card.kind.currency",
        K::Amount => "console.card.kind.amount",
    }
}

/// `POST .../draws/{draw_id}/reconciliation/fetch`: fetches Stripe's books
/// again (finance), then back to the reconciliation.
pub async fn fetch(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
) -> Response {
    let path = format!("/console/raffles/{id}/draws/{draw}/reconciliation");
    match reconcile::start_fetch(&state).await {
        Ok(_) => done(c.lang, &path, "fetching"),
        Err(e) => c.refused_page(e, &path),
    }
}
