//! Planted bugs, for the test that shows the ledger–auditor agreement
//! property can fail (`auditor-cli/tests/agreement.rs`): each [`Mutant`]
//! names one wrong rule in the server's ledger or in the auditor, which
//! [`active`] switches on at the place it would be written.
//!
//! Guarantee: without the `mutants` feature, [`active`] is the constant
//! `false` and no mutant can be planted: `cargo build -p web` and
//! `cargo build -p raffle-audit` (what is deployed) never have it. A build
//! that unifies the auditor's dev-dependency features (`cargo test` or
//! `cargo clippy --all-targets` of the workspace) compiles the hooks into
//! its binaries too, inert: a mutant is planted only by a call to [`plant`],
//! for the calling thread only, and only the agreement test makes one.

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
