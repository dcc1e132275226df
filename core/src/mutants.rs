//! Planted bugs, for the test that shows the ledger–auditor agreement
//! property can fail (`auditor-cli/tests/agreement.rs`): each [`Mutant`]
//! names one wrong rule in the server's ledger or in the auditor, which
//! [`active`] switches on at the place it would be written.
//!
//! Guarantee: without the `mutants` feature (every build of `raffled` and
//! `raffle-audit` that is not a test of the auditor), [`active`] is the
//! constant `false` and no mutant can be planted. With it, a mutant is
//! planted for the calling thread only, and none is by default.

/// One wrong rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// The ledger counts voided sales among a draw's eligible numbers.
    LedgerEligibleKeepsVoids,
    /// The ledger's redraw forgets the numbers the draw drew before.
    LedgerRedrawRepeatsNumbers,
    /// The auditor counts voided sales among a draw's eligible numbers.
    AuditEligibleKeepsVoids,
    /// The auditor's redraw forgets the numbers the draw drew before.
    AuditRedrawRepeatsNumbers,
}

#[cfg(feature = "mutants")]
thread_local! {
    static PLANTED: std::cell::Cell<Option<Mutant>> = const { std::cell::Cell::new(None) };
}

/// Plants `mutant` (or none) for this thread.
#[cfg(feature = "mutants")]
pub fn plant(mutant: Option<Mutant>) {
    PLANTED.with(|p| p.set(mutant));
}

/// Whether `mutant` is planted on this thread.
#[cfg(feature = "mutants")]
pub fn active(mutant: Mutant) -> bool {
    PLANTED.with(|p| p.get() == Some(mutant))
}

/// Whether `mutant` is planted: never, in this build.
#[cfg(not(feature = "mutants"))]
#[inline(always)]
pub fn active(_mutant: Mutant) -> bool {
    false
}
