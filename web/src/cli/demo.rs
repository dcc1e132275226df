//! `raffled demo`: on first start, a demo organisation's open 50/50 raffle
//! with three packages, an early-bird and a main draw.

use crate::AppState;
use raffle_core::entry::*;
use raffle_core::store::sequencer::Change;
use raffle_core::{Currency, Money, Timestamp};

/// Creates and opens the demo raffle unless a raffle exists; returns its id.
pub async fn ensure_demo_raffle(state: &AppState) -> Result<String, String> {
    if let Some(r) = state.sequencer.ledger().raffles().next() {
        return Ok(r.id.clone());
    }
    let staff = raffle_core::ids::new_staff_id().map_err(|e| e.to_string())?;
    let now = Timestamp::now().as_micros();
    let day = 86_400_000_000i64;
    let at = |offset: i64| Timestamp::from_micros(now - now % 1_000_000 + offset);
    let cad = |m| Money::new(m, Currency::CAD);
    let config = RaffleConfig {
        name: "Demo Hospital 50/50".into(),
        organisation: "Demo Hospital Foundation".into(),
        licence: Some("DEMO-0001".into()),
        jurisdiction: "CA-ON".into(),
        time_zone: "America/Toronto".into(),
        buyers: BuyerRules {
            minimum_age: 18,
            regions: vec!["CA-ON".into()],
        },
        approvers: vec!["finance".into(), "administrator".into()],
        packages: vec![
            Package {
                id: "p1".into(),
                tickets: 1,
                price: cad(500),
            },
            Package {
                id: "p3".into(),
                tickets: 3,
                price: cad(1000),
            },
            Package {
                id: "p10".into(),
                tickets: 10,
                price: cad(2000),
            },
        ],
        max_tickets: None,
        first_number: U64(1),
        sales_start: at(-60_000_000),
        sales_end: at(30 * day),
        draws: vec![
            DrawConfig {
                id: "early-bird".into(),
                name: "Early bird".into(),
                cutoff: at(7 * day),
                draw_at: at(7 * day + 3_600_000_000),
                prize: Prize::Fixed {
                    amount: cad(50_000),
                },
            },
            DrawConfig {
                id: "main".into(),
                name: "Main draw".into(),
                cutoff: at(30 * day),
                draw_at: at(30 * day + 3_600_000_000),
                prize: Prize::Share {
                    share_bps: 5000,
                    cap: None,
                },
            },
        ],
        wins: WinRule::NumberOnce,
        early_bird: EarlyBirdDeduction::FromProceeds,
        claims: ClaimRules {
            window_days: 30,
            unclaimed: UnclaimedRule::Redraw,
            paperwork_over: Some(cad(1_000_000)),
        },
    };
    let raffle = raffle_core::ids::new_uuid();
    let submit = |c| state.sequencer.submit(c);
    submit(Change::CreateRaffle {
        raffle: raffle.clone(),
        config,
        by: staff.clone(),
    })
    .await
    .map_err(|e| e.to_string())?;
    submit(Change::OpenRaffle {
        raffle: raffle.clone(),
        by: staff,
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(raffle)
}

/// Creates the first administrator when no user exists; returns the
/// username, password and TOTP secret to print once.
pub async fn ensure_administrator(
    store: &raffle_core::store::Store,
) -> Result<Option<(String, String, String)>, String> {
    if store.user_count().await.map_err(|e| e.to_string())? > 0 {
        return Ok(None);
    }
    let (user, password) = crate::app::auth::new_user("admin", &["administrator".to_string()])
        .map_err(|e| e.message)?;
    store.create_user(&user).await.map_err(|e| e.to_string())?;
    Ok(Some((user.username, password, user.totp_secret)))
}
