//! The 50/50 prize (architecture page; GLI-31 2.2.1, 2.5.1):
//! prize = min(cap, floor(net × share_bps / 10,000)), where net = sales −
//! voids − refunds of the sales eligible for the draw, in minor units.

use crate::{Error, Money, Result};

/// Basis points: 5,000 is 50%.
pub const BPS_DENOMINATOR: u64 = 10_000;

/// The 50/50 prize for `net` sales at `share_bps`, capped at `cap` when set.
pub fn fifty_fifty_prize(net: Money, share_bps: u32, cap: Option<Money>) -> Result<Money> {
    if u64::from(share_bps) > BPS_DENOMINATOR {
        return Err(Error::invalid(
            "prize share",
            format!("{share_bps} basis points exceeds 10,000"),
        ));
    }
    let share =
        (u128::from(net.minor) * u128::from(share_bps) / u128::from(BPS_DENOMINATOR)) as u64;
    let prize = Money::new(share, net.currency);
    match cap {
        Some(cap) if cap.currency != net.currency => Err(Error::invalid(
            "prize cap",
            format!("cap in {} but sales in {}", cap.currency, net.currency),
        )),
        Some(cap) if cap.minor < prize.minor => Ok(cap),
        _ => Ok(prize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    #[test]
    fn prize_rounds_down_and_respects_the_cap() {
        let cad = |m| Money::new(m, Currency::CAD);
        assert_eq!(fifty_fifty_prize(cad(1001), 5000, None).unwrap(), cad(500));
        assert_eq!(fifty_fifty_prize(cad(999), 3333, None).unwrap(), cad(332));
        assert_eq!(
            fifty_fifty_prize(cad(u64::MAX), 10_000, None).unwrap(),
            cad(u64::MAX)
        );
        assert_eq!(
            fifty_fifty_prize(cad(1_000_000), 5000, Some(cad(100_000))).unwrap(),
            cad(100_000)
        );
        assert_eq!(
            fifty_fifty_prize(cad(1_000), 5000, Some(cad(100_000))).unwrap(),
            cad(500)
        );
        assert!(fifty_fifty_prize(cad(1), 10_001, None).is_err());
    }
}
