//! The headless mode: one JSON command a line on standard input, one JSON
//! answer a line on standard output, for scripted use (tests, a venue's
//! own tooling). The commands are the operator's, with the same checks as
//! the screens; nothing here bypasses sign-in.
//!
//! Commands (`"cmd"`): `sign_in {staff, pin}`, `sign_out`,
//! `sell {raffle, package, quantity, cash | card: true}`, `sync`,
//! `reprint {seq, supervisor, pin}`, `void {seq, reason, supervisor, pin}`,
//! `cash {kind: float|drop, amount}`, `status`. Each answer is
//! `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.

use crate::i18n::Lang;
use crate::unit::{Tender, Unit};
use serde_json::{Value, json};
use std::io::{BufRead, Write};

/// The longest command line read.
const MAX_LINE: usize = 16 * 1024;

pub fn run(unit: &mut Unit, input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = if line.len() > MAX_LINE {
            json!({ "ok": false, "error": "the command is too long" })
        } else {
            match serde_json::from_str::<Value>(&line) {
                Ok(cmd) => match one(unit, &cmd) {
                    Ok(mut v) => {
                        v["ok"] = json!(true);
                        v
                    }
                    Err(e) => json!({ "ok": false, "error": e }),
                },
                Err(e) => json!({ "ok": false, "error": format!("the command is not JSON: {e}") }),
            }
        };
        writeln!(output, "{answer}")?;
        output.flush()?;
    }
    Ok(())
}

fn text<'a>(cmd: &'a Value, field: &str) -> Result<&'a str, String> {
    cmd[field]
        .as_str()
        .ok_or_else(|| format!("{field}: a string is required"))
}

fn number(cmd: &Value, field: &str) -> Result<u64, String> {
    cmd[field]
        .as_u64()
        .ok_or_else(|| format!("{field}: a whole number is required"))
}

fn one(unit: &mut Unit, cmd: &Value) -> Result<Value, String> {
    let err = |e: crate::Error| e.to_string();
    let lang = cmd["lang"]
        .as_str()
        .and_then(Lang::parse)
        .unwrap_or_default();
    match text(cmd, "cmd")? {
        "sign_in" => {
            unit.sign_in(text(cmd, "staff")?, text(cmd, "pin")?)
                .map_err(err)?;
            Ok(json!({}))
        }
        "sign_out" => {
            unit.sign_out().map_err(err)?;
            Ok(json!({}))
        }
        "sell" => {
            let raffle = text(cmd, "raffle")?
                .parse()
                .map_err(|e| format!("raffle: {e}"))?;
            let package = text(cmd, "package")?
                .parse()
                .map_err(|e| format!("package: {e}"))?;
            let quantity = u32::try_from(number(cmd, "quantity")?)
                .map_err(|_| "quantity: too large".to_string())?;
            let tender = if cmd["card"].as_bool() == Some(true) {
                Tender::Card
            } else {
                Tender::Cash(number(cmd, "cash")?)
            };
            let sale = unit
                .sell(&raffle, &package, quantity, tender, lang)
                .map_err(err)?;
            Ok(json!({
                "record": sale.record,
                "printed": sale.printed.err().map(|p| p.code()),
                "change": sale.change,
            }))
        }
        "sync" => {
            let s = unit.sync().map_err(err)?;
            Ok(json!({
                "uploaded": s.uploaded,
                "waiting": s.waiting,
                "refused": s.refused.iter().map(|(seq, r)| json!({ "seq": seq, "reason": r })).collect::<Vec<_>>(),
            }))
        }
        "reprint" => {
            let printed = unit
                .reprint(
                    number(cmd, "seq")?,
                    text(cmd, "supervisor")?,
                    text(cmd, "pin")?,
                    lang,
                )
                .map_err(err)?;
            Ok(json!({ "printed": printed.err().map(|p| p.code()) }))
        }
        "void" => {
            let reason = serde_json::from_value(cmd["reason"].clone())
                .map_err(|e| format!("reason: {e}"))?;
            unit.void(
                number(cmd, "seq")?,
                reason,
                text(cmd, "supervisor")?,
                text(cmd, "pin")?,
            )
            .map_err(err)?;
            Ok(json!({}))
        }
        "cash" => {
            unit.cash(text(cmd, "kind")?, number(cmd, "amount")?)
                .map_err(err)?;
            Ok(json!({}))
        }
        "status" => {
            let o = unit.overview().map_err(err)?;
            Ok(json!({
                "rsu": o.rsu,
                "software": o.software,
                "operator": o.session.as_ref().map(|s| s.operator.to_string()),
                "locked": o.session.as_ref().and_then(|s| s.locked.clone()),
                "stopped": o.stopped,
                "disabled": o.disabled,
                "online": o.online,
                "last_error": o.last_error,
                "waiting": o.waiting,
                "unprinted": o.unprinted.iter().map(|u| u.seq).collect::<Vec<_>>(),
                "refusals": o.refusals.iter().map(|(s, r)| json!({ "seq": s, "reason": r })).collect::<Vec<_>>(),
                "printer": o.printer.problems().iter().map(|p| p.code()).collect::<Vec<_>>(),
                "drawer": { "float": o.drawer.0, "sales": o.drawer.1, "drops": o.drawer.2 },
                "raffles": o.raffles.iter().map(|(id, d, left, sealed)| json!({
                    "raffle": id, "name": d.name, "left": left, "sealed": sealed,
                })).collect::<Vec<_>>(),
                "head": unit.journal().head().map_err(err)?.seq,
            }))
        }
        other => Err(format!("unknown command {other:?}")),
    }
}
