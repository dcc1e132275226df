//! Raffle configurations for tests, each the schema's example raffle
//! ([`raffle_core::entry::example_config`]) on sale in a window the test
//! chooses, with no ticket limit.

use raffle_core::entry::{Prize, RaffleConfig, example_config};
use raffle_core::{Currency, Money, Timestamp};

/// On sale from `start` to `end`, one draw (`main`) cut off and drawn at
/// the end.
pub fn one_draw(start: Timestamp, end: Timestamp) -> RaffleConfig {
    let mut c = example_config();
    c.sales_start = start;
    c.sales_end = end;
    c.max_tickets = None;
    c.draws.remove(0);
    c.draws[0].cutoff = end;
    c.draws[0].draw_at = end;
    c
}

/// On sale from `start` to `end`, an early bird with a fixed prize of
/// 5.00 CAD cut off and drawn at `early`, and the main draw at the end.
pub fn two_draws(start: Timestamp, early: Timestamp, end: Timestamp) -> RaffleConfig {
    let mut c = example_config();
    c.sales_start = start;
    c.sales_end = end;
    c.max_tickets = None;
    c.draws[0].cutoff = early;
    c.draws[0].draw_at = early;
    c.draws[0].prize = Prize::Fixed {
        amount: Money::new(500, Currency::CAD),
    };
    c.draws[1].cutoff = end;
    c.draws[1].draw_at = end;
    c
}

/// `secs` seconds from now (whole microseconds).
pub fn in_secs(secs: i64) -> Timestamp {
    Timestamp::from_micros(Timestamp::now().as_micros() + secs * 1_000_000)
}
