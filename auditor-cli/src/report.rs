//! The verdict of `raffle-audit log`, for people (a short summary) and for
//! programs (`--json`). Both say what the verdict does not prove.

use crate::audit::Outcome;
use crate::rules::RaffleSummary;
use raffle_core::{Currency, Money};
use serde_json::{Value, json};

fn money(minor: u64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} minor units of {currency}"),
    }
}

/// What no audit of the log can prove, and why.
pub fn not_proven(o: &Outcome) -> Vec<String> {
    let mut out = vec![
        "that payments were real: the log records sales, not the payments behind them".to_string(),
        "that every sale made was logged: a sale for which no receipt was issued is not in the log; each buyer checks their own receipt with `raffle-audit ticket`".to_string(),
        "the wall-clock truth of timestamps: their order and the rules between them are checked, not the clock that made them".to_string(),
        "the content of significant events: the log holds only their digests (events.digest); the events stay with the operator".to_string(),
    ];
    for (raffle, draw) in o.audit.unwitnessed_draws() {
        out.push(format!(
            "the randomness of draw {draw:?} of raffle {raffle}: no policy witness contributed, so the operator, who chose the seed, could have known the winner in advance"
        ));
    }
    out
}

fn raffle_lines(r: &RaffleSummary) -> Vec<String> {
    let c = &r.currency;
    let mut lines = vec![
        format!(
            "raffle {} {:?} ({}{}), {}",
            r.id,
            r.name,
            r.organisation,
            r.licence
                .as_ref()
                .map(|l| format!(", licence {l}"))
                .unwrap_or_default(),
            r.status.as_str()
        ),
        format!(
            "  sales {}, draw numbers {}, voids {}; gross {}, voided {}, refunded {}, net {}",
            r.sales,
            r.numbers,
            r.voids,
            money(r.gross_minor, c),
            money(r.voided_minor, c),
            money(r.refunded_minor, c),
            money(r.net_minor, c)
        ),
    ];
    for (unit, u) in &r.rsu_sales {
        lines.push(format!(
            "  sales unit {unit}: sales {}, draw numbers {} of {} allocated{}; gross {}; reprints {}",
            u.sales,
            u.numbers,
            u.allocated,
            if u.released {
                ", the rest released"
            } else {
                ""
            },
            money(u.gross_minor, c),
            u.reprints
        ));
    }
    if !r.rsu_refused.is_empty() {
        lines.push(format!(
            "  device records refused: {} ({})",
            r.rsu_refused.values().sum::<u64>(),
            r.rsu_refused
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for d in &r.draws {
        let mut s = format!("  draw {} {:?}: ", d.id, d.name);
        match (d.eligible, &d.prize) {
            (Some(n), Some(p)) => s.push_str(&format!("{n} eligible numbers, prize {p}")),
            _ => s.push_str("not frozen"),
        }
        if let Some(w) = d.winner {
            s.push_str(&format!(", winning number {w}"));
            if d.redraws > 0 {
                s.push_str(&format!(" after {} redraw(s)", d.redraws));
            }
            s.push_str(if d.claimed {
                ", claimed"
            } else {
                ", unclaimed"
            });
            s.push_str(match d.witnessed {
                Some(true) => "; recomputed, witness contribution verified",
                _ => "; recomputed, no witness contribution verified",
            });
        }
        lines.push(s);
    }
    lines
}

/// The human summary.
pub fn text(o: &Outcome) -> String {
    let a = &o.audit;
    let cp = &o.checkpoint;
    let mut out = Vec::new();
    out.push(format!(
        "log {}: {} entries, checkpoint signed by the log key, root {}",
        cp.origin, cp.size, cp.root
    ));
    if !o.cosigners.is_empty() {
        out.push(format!("  cosigned by {}", o.cosigners.join(", ")));
    }
    out.push(match o.previous {
        Some(size) => {
            format!("  consistent with the last checkpoint this auditor verified (size {size})")
        }
        None => "  no earlier checkpoint to compare (first audit, or no --state)".to_string(),
    });
    for (program, version, sha) in &a.software {
        out.push(format!("  software {program} {version} (sha256 {sha})"));
    }
    out.push(format!(
        "  significant events anchored: {} in {} events.digest entries",
        a.events_anchored, a.event_digests
    ));
    let summaries = a.summaries();
    let (mut sales, mut voids, mut draws) = (0u64, 0u64, 0u64);
    for r in &summaries {
        out.push(String::new());
        out.extend(raffle_lines(r));
        sales += r.sales;
        voids += r.voids;
        draws += r.draws.iter().filter(|d| d.verified).count() as u64;
    }
    out.push(String::new());
    out.push(format!(
        "{} raffles, {sales} sales, {voids} voids, {draws} draws recomputed, in {:.2} s{}",
        summaries.len(),
        o.seconds,
        if o.seconds >= 0.5 {
            format!(" ({:.0} entries/s)", cp.size as f64 / o.seconds)
        } else {
            String::new()
        }
    ));
    if o.passed() {
        out.push(format!(
            "VERDICT: PASS: every rule held for all {} entries{}",
            cp.size,
            if o.advanced {
                "; the audit state moved to this checkpoint"
            } else {
                ""
            }
        ));
    } else {
        out.push(format!(
            "VERDICT: FAIL: {} violation(s){}",
            a.violation_count,
            if a.violation_count as usize > a.violations.len() {
                format!(", the first {} listed", a.violations.len())
            } else {
                String::new()
            }
        ));
        for v in &a.violations {
            out.push(format!("  {v}"));
        }
    }
    out.push(String::new());
    out.push("This verdict does not prove:".to_string());
    for n in not_proven(o) {
        out.push(format!("  - {n}"));
    }
    out.join("\n") + "\n"
}

/// The JSON report.
pub fn json(o: &Outcome) -> Value {
    let a = &o.audit;
    json!({
        "verdict": if o.passed() { "pass" } else { "fail" },
        "checkpoint": {
            "origin": o.checkpoint.origin,
            "size": o.checkpoint.size,
            "root": o.checkpoint.root.to_base64(),
            "cosigned_by": o.cosigners,
        },
        "previous_size": o.previous,
        "state_advanced": o.advanced,
        "entries": a.entries,
        "seconds": o.seconds,
        "software": a.software.iter().map(|(p, v, s)| json!({"program": p, "version": v, "sha256": s})).collect::<Vec<_>>(),
        "events": {"digests": a.event_digests, "anchored": a.events_anchored},
        "raffles": a.summaries(),
        "violation_count": a.violation_count,
        "violations": a.violations,
        "not_proven": not_proven(o),
    })
}
