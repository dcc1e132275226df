//! Payment at the unit: cash, or a card on the unit's card terminal (a
//! port). The unit keeps only the terminal's reference id of a card
//! payment, never a card number; a sale is journaled only once its
//! payment was taken.

use raffle_core::Money;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// What the card terminal answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardOutcome {
    /// Paid: the terminal's reference for the payment.
    Approved {
        reference: String,
    },
    Declined {
        reason: String,
    },
    /// No answer in time: the unit asks the terminal to reverse whatever
    /// it may have taken, and makes no sale.
    TimedOut,
}

/// A card terminal attached to the unit.
pub trait CardTerminal: Send {
    /// Charges `amount`; `order` is the unit's own reference for it (its
    /// next sequence), so a retried charge is recognised as the same one.
    fn charge(&mut self, amount: Money, order: &str) -> CardOutcome;
    /// Reverses the charge for `order`, if the terminal took one.
    fn reverse(&mut self, order: &str);
}

/// A terminal simulator: answers each charge with the next scripted
/// outcome, or approves. It remembers what it charged and reversed, as a
/// real acquirer would, so tests can check that a timed-out charge was
/// reversed and an approved one is charged once.
#[derive(Clone, Default)]
pub struct SimulatedTerminal {
    inner: Arc<Mutex<Sim>>,
}

#[derive(Default)]
struct Sim {
    script: VecDeque<Scripted>,
    /// Orders charged (approved or timed out: a timeout may have charged),
    /// with their amounts in minor units.
    charged: Vec<(String, u64)>,
    reversed: Vec<String>,
    next_reference: u64,
}

/// An outcome to script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scripted {
    Approve,
    Decline,
    Timeout,
}

impl SimulatedTerminal {
    pub fn new() -> SimulatedTerminal {
        SimulatedTerminal::default()
    }

    /// The next charges' outcomes, in order.
    pub fn script(&self, outcomes: &[Scripted]) {
        self.inner
            .lock()
            .expect("terminal")
            .script
            .extend(outcomes.iter().copied());
    }

    /// Orders charged and not reversed, with their amounts.
    pub fn settled(&self) -> Vec<(String, u64)> {
        let s = self.inner.lock().expect("terminal");
        s.charged
            .iter()
            .filter(|(o, _)| !s.reversed.contains(o))
            .cloned()
            .collect()
    }
}

impl CardTerminal for SimulatedTerminal {
    fn charge(&mut self, amount: Money, order: &str) -> CardOutcome {
        let mut s = self.inner.lock().expect("terminal");
        match s.script.pop_front().unwrap_or(Scripted::Approve) {
            Scripted::Approve => {
                s.next_reference += 1;
                let reference = format!("sim_{:08}", s.next_reference);
                s.charged.push((order.to_string(), amount.minor));
                CardOutcome::Approved { reference }
            }
            Scripted::Decline => CardOutcome::Declined {
                reason: "declined by the issuer".into(),
            },
            Scripted::Timeout => {
                s.charged.push((order.to_string(), amount.minor));
                CardOutcome::TimedOut
            }
        }
    }

    fn reverse(&mut self, order: &str) {
        self.inner
            .lock()
            .expect("terminal")
            .reversed
            .push(order.to_string());
    }
}
