//! Every refusal the raffle rules make, as a typed value.
//!
//! A [`Refusal`] is what [`crate::Error::Refused`] carries: one variant per
//! rule that can refuse a change, with the parameters its message needs.
//! Each variant has, written once in the table below:
//!
//! - a **code** ([`Refusal::code`]), snake_case and stable: the codes are a
//!   public API contract of the JSON API, whose refusals answer
//!   `{"error": message, "code": code}`. A code is never renamed or reused
//!   for another rule; a new rule gets a new variant and a new code.
//! - the **GLI-31 section** the rule implements, where one fits
//!   ([`Refusal::gli`], e.g. `Some("2.2.3")`), else `None`.
//! - an **English text** with `{param}` marks ([`Refusal::template`]), which
//!   is its `Display` (and so, after `refused: `, the `Error`'s message).
//!   A `{param:?}` mark shows the parameter quoted (Rust's `Debug`).
//!
//! The console renders a refusal in the reader's language from the
//! catalogues (`web/i18n/*.txt`): the key is `refusal.<code>`, and its
//! `{param}` marks are filled in from [`Refusal::params`]. Both catalogues
//! hold one key per variant ([`Refusal::every`] walks them all).
//!
//! Parameters are `String`, `u64`, `i64` or `u32` only: identifiers, draw
//! names, statuses, times and amounts are passed already formatted (an
//! amount as [`crate::Money`]'s `Display`, `12.34 CAD`).

/// Defines [`Refusal`] from one table: per variant, its doc comment, its
/// fields, then `=> code, gli, text;`. Every field must appear in the text.
macro_rules! refusals {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident { $($field:ident : $ty:ty),* $(,)? } => $code:literal, $gli:expr, $text:literal;
    )*) => {
        /// A change the raffle rules refuse, and why (see the module doc).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Refusal {
            $(
                $(#[doc = $doc])*
                $name { $($field: $ty),* },
            )*
        }

        impl Refusal {
            /// The stable snake_case code of this refusal (JSON `code`,
            /// catalogue key `refusal.<code>`).
            pub fn code(&self) -> &'static str {
                match self {
                    $( Refusal::$name { .. } => $code, )*
                }
            }

            /// The catalogue key of this refusal's text: `refusal.<code>`.
            pub fn key(&self) -> &'static str {
                match self {
                    $( Refusal::$name { .. } => concat!("refusal.", $code), )*
                }
            }

            /// The GLI-31 section the refusing rule implements, if one fits.
            pub fn gli(&self) -> Option<&'static str> {
                match self {
                    $( Refusal::$name { .. } => $gli, )*
                }
            }

            /// The English text with its `{param}` (or `{param:?}`) marks,
            /// as `Display` fills them in.
            pub fn template(&self) -> &'static str {
                match self {
                    $( Refusal::$name { .. } => $text, )*
                }
            }

            /// The parameters by name, formatted (`Display`), to fill in a
            /// catalogue's `{param}` marks.
            pub fn params(&self) -> Vec<(&'static str, String)> {
                match self {
                    $(
                        Refusal::$name { $($field),* } => {
                            vec![$((stringify!($field), $field.to_string())),*]
                        }
                    )*
                }
            }

            /// One of each variant (parameters at their defaults), for
            /// tests that walk them all.
            pub fn every() -> Vec<Refusal> {
                vec![
                    $( Refusal::$name { $($field: Default::default()),* }, )*
                ]
            }
        }

        impl std::fmt::Display for Refusal {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $(
                        #[allow(unused_variables)]
                        Refusal::$name { $($field),* } => write!(f, $text),
                    )*
                }
            }
        }
    };
}

refusals! {
    // ---- Raffles, draws, sales, packages that do not exist ----

    /// The raffle has no draw of that id.
    RaffleHasNoDraw { raffle: String, draw: String }
        => "raffle_has_no_draw", None, "raffle {raffle} has no draw {draw:?}";
    /// No draw of that id (in the raffle named by the change).
    NoDraw { draw: String }
        => "no_draw", None, "no draw {draw}";
    /// No raffle of that id.
    NoRaffle { raffle: String }
        => "no_raffle", None, "no raffle {raffle}";
    /// No sale of that id in the raffle.
    NoSale { sale: String }
        => "no_sale", None, "no sale {sale}";
    /// The raffle has no package of that id.
    NoPackage { package: String }
        => "no_package", None, "no package {package:?}";

    // ---- The log ----

    /// Entry times never go backwards.
    EntryTimeBeforePrevious { time: String, previous: String }
        => "entry_time_before_previous", Some("5.3"),
        "entry time {time} is before the previous entry's {previous}";
    /// Schema versions never go down.
    EntryVersionWentDown { version: u64, previous: u64 }
        => "entry_version_went_down", None,
        "a version {version} entry after a version {previous} one";
    /// An `events.digest` overlaps events already anchored.
    EventsDigestOverlap { last: u64 }
        => "events_digest_overlap", Some("5.6.2"),
        "events.digest must start after event {last}, the last one anchored";

    // ---- Configuration and status ----

    /// A raffle of that id already exists.
    RaffleExists { raffle: String }
        => "raffle_exists", None, "raffle {raffle} already exists";
    /// The configuration is frozen once the raffle has opened.
    ConfigurationFrozen { raffle: String, status: String }
        => "configuration_frozen", Some("2.2.3"),
        "raffle {raffle} is {status}: its configuration is frozen (GLI-31 2.2.3)";
    /// An update's old configuration (recorded with the new one) is not the
    /// current one.
    StaleConfiguration {}
        => "stale_configuration", Some("5.2.4"),
        "the update's old configuration is not the current one";
    /// Only a draft can be opened.
    RaffleNotDraft { raffle: String, status: String }
        => "raffle_not_draft", None, "raffle {raffle} is {status}, not a draft";
    /// A raffle whose sales window has ended cannot be opened.
    SalesWindowEnded {}
        => "sales_window_ended", Some("2.2.2"), "the sales window has already ended";
    /// Only an open raffle can be closed.
    RaffleNotOpen { raffle: String, status: String }
        => "raffle_not_open", None, "raffle {raffle} is {status}, not open";
    /// A close at the end time, before the end time.
    EndTimeNotReached {}
        => "end_time_not_reached", Some("2.2.2"), "the end time has not been reached";

    // ---- Sales ----

    /// No sale in a raffle that is not open (a draft, or closed).
    RaffleNotOnSale { raffle: String, status: String }
        => "raffle_not_on_sale", Some("2.6.2"),
        "raffle {raffle} is {status}: no sales (GLI-31 2.6.2)";
    /// No sale outside the sales window.
    OutsideSalesWindow { stamped: String }
        => "outside_sales_window", Some("2.2.2"),
        "the order was stamped at {stamped} outside the sales window";
    /// A sale of that id already exists (a retried sale already sequenced).
    SaleExists { sale: String }
        => "sale_exists", None, "sale {sale} already exists";
    /// The sale's numbers or price are not its package's.
    PackageMismatch {}
        => "package_mismatch", None, "numbers or price do not match the package";
    /// Draw numbers are issued once, consecutively.
    NotNextNumber { next: u64, first: u64 }
        => "not_next_number", Some("3.2.1"), "the next draw number is {next}, not {first}";
    /// The raffle's ticket maximum leaves fewer tickets than the sale's.
    NotEnoughTickets { left: u64 }
        => "not_enough_tickets", None, "only {left} tickets are left";
    /// The online order's payment came too late to issue its ticket (the
    /// order is refunded).
    PaymentConfirmedTooLate {}
        => "payment_confirmed_too_late", None,
        "payment was confirmed more than 24 hours after the order";
    /// The order is in a state that cannot be issued (refunded, pending, ...).
    OrderNotIssuable { order: String, status: String }
        => "order_not_issuable", None, "order {order} is {status}";

    // ---- Voids ----

    /// A void needs two people.
    VoidNeedsSecondPerson {}
        => "void_needs_second_person", Some("5.2.4"),
        "a void needs an approver other than its requester (GLI-31 5.2.4)";
    /// The sale is already voided.
    SaleAlreadyVoided { sale: String }
        => "sale_already_voided", None, "sale {sale} is already voided";
    /// A reconciled draw's sales can no longer be voided.
    VoidAfterReconciliation { draw: String }
        => "void_after_reconciliation", Some("2.6.3"),
        "draw {draw} is reconciled: its sales can no longer be voided";

    // ---- Reconciliation ----

    /// A reconciliation acknowledgement needs two people.
    ReconciliationNeedsSecondPerson {}
        => "reconciliation_needs_second_person", Some("5.2.4"),
        "reconciliation needs an approver other than its requester (GLI-31 5.2.4)";
    /// A draw is reconciled only after its sales cutoff (and once open).
    CutoffNotPassed { draw: String }
        => "cutoff_not_passed", Some("2.6.1"), "draw {draw}'s cutoff has not passed";
    /// The draw is already reconciled.
    DrawAlreadyReconciled { draw: String }
        => "draw_already_reconciled", None, "draw {draw} is already reconciled";
    /// The acknowledged figures are not the ledger's.
    ReconciliationFiguresMismatch {}
        => "reconciliation_figures_mismatch", Some("2.6.1"),
        "the acknowledged figures do not match the ledger";

    // ---- Freezing and performing a draw ----

    /// A draw is frozen only after the reconciliation acknowledgement.
    DrawNotReconciled { draw: String }
        => "draw_not_reconciled", Some("2.6.3"),
        "draw {draw} is not reconciled (GLI-31 2.6.3)";
    /// The draw is already frozen.
    DrawAlreadyFrozen { draw: String }
        => "draw_already_frozen", None, "draw {draw} is already frozen";
    /// The frozen eligible set (count, hash) is not the ledger's.
    EligibleSetMismatch {}
        => "eligible_set_mismatch", Some("4.4.1"), "the frozen eligible set is not the ledger's";
    /// The draw has no eligible number to draw from.
    NoEligibleNumbers { draw: String }
        => "no_eligible_numbers", Some("4.4.1"), "draw {draw} has no eligible numbers";
    /// The frozen prize is not the one the rules compute now.
    PrizeMismatch { prize: String, stated: String }
        => "prize_mismatch", None, "the prize is {prize}, not {stated}";
    /// A draw is performed (or redrawn) only once frozen.
    DrawNotFrozen { draw: String }
        => "draw_not_frozen", Some("2.6.1"), "draw {draw} is not frozen";
    /// The performance names another entry than the draw's `draw.frozen`.
    FrozenEntryMismatch {}
        => "frozen_entry_mismatch", None, "the draw names another frozen entry";
    /// A first performance of a draw already performed (a drawn number is
    /// never discarded but through a redraw).
    DrawAlreadyPerformed { draw: String }
        => "draw_already_performed", Some("4.4.1"), "draw {draw} was already performed";
    /// The seed is not the one committed to at the freeze.
    SeedCommitmentMismatch {}
        => "seed_commitment_mismatch", Some("4.4.2"), "the seed does not match its commitment";
    /// The raw values or the index are not the generator's.
    DrawNotFromSeed {}
        => "draw_not_from_seed", Some("4.3.1"),
        "the raw values or the index do not follow from the seed";
    /// The winner is not the eligible number at the drawn index.
    WinnerNotDrawnNumber {}
        => "winner_not_drawn_number", Some("2.6.4"), "the winner is not the drawn index's number";
    /// The drawn index is past the end of the eligible numbers.
    DrawnIndexBeyondEligible {}
        => "drawn_index_beyond_eligible", Some("4.4.1"),
        "the drawn index is beyond the eligible numbers";
    /// With a witness configured, its contribution comes before the draw.
    WitnessContributionRequired {}
        => "witness_contribution_required", Some("4.4.2"),
        "a witness is configured: its contribution to this draw is required first";
    /// The witness's contribution to this draw is already recorded.
    ContributionAlreadySaved { draw: String }
        => "contribution_already_saved", None, "draw {draw} already has its contribution";

    // ---- Redraws ----

    /// A redraw comes after the draw's first performance.
    RedrawBeforePerformed { draw: String }
        => "redraw_before_performed", Some("2.6.4"),
        "draw {draw} cannot be redrawn before it is performed";
    /// No redraw once the prize is paid.
    RedrawAfterPaid { draw: String }
        => "redraw_after_paid", Some("2.6.4"), "draw {draw}'s prize was paid: no redraw";
    /// The raffle forfeits unclaimed prizes: no redraw for that reason.
    UnclaimedPrizesForfeited {}
        => "unclaimed_prizes_forfeited", None, "this raffle forfeits unclaimed prizes: no redraw";
    /// No redraw of an unclaimed prize while its claim window is open.
    ClaimWindowOpen { draw: String, deadline: String }
        => "claim_window_open", Some("2.7.1"),
        "the claim window of draw {draw} is still open, until {deadline}";
    /// A redraw continues the first performance's generator.
    RedrawSeedMismatch {}
        => "redraw_seed_mismatch", Some("4.4.1"),
        "a redraw continues the draw's own seed and contribution";
    /// A redraw needs two people.
    RedrawNeedsSecondPerson {}
        => "redraw_needs_second_person", Some("5.2.4"),
        "a redraw needs an approver other than its requester";
    /// Every eligible number of the draw has been drawn.
    NoEligibleNumbersLeft { draw: String }
        => "no_eligible_numbers_left", Some("4.4.1"), "draw {draw} has no eligible numbers left";

    // ---- Claims ----

    /// The draw has not been performed.
    NoWinnerYet { draw: String }
        => "no_winner_yet", None, "draw {draw} has no winner yet";
    /// The claim's sale or number is not the winner's.
    NotTheWinningTicket {}
        => "not_the_winning_ticket", Some("2.7.1"), "the claim is not for the winning ticket";
    /// The draw's prize is already paid.
    PrizeAlreadyPaid { draw: String }
        => "prize_already_paid", None, "draw {draw}'s prize was already paid";
    /// A supervised claim needs two people.
    SupervisedClaimNeedsSecondPerson {}
        => "supervised_claim_needs_second_person", Some("5.2.4"),
        "a supervised claim needs an approver other than the payer";
    /// A validation number an earlier claim published proves nothing: the
    /// prize is paid only through a supervised claim.
    ValidationNumberPublished { sale: String }
        => "validation_number_published", Some("2.7.1"),
        "sale {sale}'s validation number was published when an earlier prize was paid, so it proves nothing: pay this prize through a supervised claim (the winner's identity checked and a second person approving)";
    /// A supervised claim of a ticket whose validation number is still
    /// secret.
    ValidationNumberStillSecret {}
        => "validation_number_still_secret", Some("2.7.1"),
        "this ticket's validation number is still secret: pay the prize as an ordinary claim";
    /// The claim's validation number is not the one an earlier claim published.
    ValidationNumberMismatch {}
        => "validation_number_mismatch", Some("2.7.1"),
        "the validation number is not the one an earlier claim published";
    /// The sale's card payment is disputed (or the dispute was lost).
    SaleDisputed { sale: String }
        => "sale_disputed", Some("2.7.1"),
        "sale {sale}'s card payment is disputed: its prize is paid only once the dispute closes in the operator's favour";
    /// Card payments of the draw's sales were reversed and wait for finance.
    PaymentReversalsOpen { count: u64 }
        => "payment_reversals_open", Some("2.6.3"),
        "{count} reversed card payments of this draw's sales wait for finance to void or keep them";
    /// Card payments of the draw's sales are not captured yet.
    CardPaymentsUnsettled { count: u64 }
        => "card_payments_unsettled", Some("2.6.3"),
        "{count} card payments of this draw's sales are not settled yet (authorised but not captured, or reversed and waiting for finance)";
    /// The deployment takes no card payments (no `stripe` provider).
    CardPaymentsOff {}
        => "card_payments_off", None, "this deployment takes no card payments";
    /// A fetch of Stripe's books is running already.
    CardFetchRunning {}
        => "card_fetch_running", None,
        "Stripe's books are being fetched already: wait for that fetch to finish";
    /// Card payments of the draw's sales differ from Stripe's books, and
    /// the acknowledgement gives no written reason.
    CardDifferencesUnexplained { count: u64 }
        => "card_differences_unexplained", Some("2.6.3"),
        "{count} card payments bearing on this draw differ from Stripe's books: acknowledging needs a written reason";
    /// Stripe's books were not fetched since the draw's cutoff.
    CardBooksStale { cutoff: String }
        => "card_books_stale", Some("2.6.3"),
        "Stripe's books were not fetched since this draw's cutoff ({cutoff}): fetch them and check the differences first";
    /// The sale's card payment is not settled: its prize waits.
    SalePaymentUnsettled { sale: String }
        => "sale_payment_unsettled", Some("2.7.1"),
        "sale {sale}'s card payment is not settled (not captured, reversed or disputed): its prize is paid once it is";
    /// The reversal was decided already.
    ReversalDecided { status: String }
        => "reversal_decided", None, "this reversal is already {status}";
    /// The ticket has no win left to pay.
    NoUnclaimedPrize {}
        => "no_unclaimed_prize", Some("2.7.1"), "this ticket has no unclaimed prize";
    /// The paid amount is not the prize fixed at the freeze.
    PaidAmountNotFrozenPrize {}
        => "paid_amount_not_frozen_prize", None, "the paid amount is not the frozen prize";
    /// The claim window has closed.
    ClaimWindowClosed { draw: String }
        => "claim_window_closed", Some("2.7.1"), "the claim window of draw {draw} has closed";
    /// A prize over the jurisdiction's threshold needs the paperwork first.
    PaperworkRequired { threshold: String }
        => "paperwork_required", Some("2.7.1"),
        "prizes over {threshold} are paid only once the winner's paperwork is completed";

    // ---- Sales units (RSUs) ----

    /// No enrolled sales unit has that id.
    RsuUnknown { rsu: String }
        => "rsu_unknown", Some("6.1.3"), "no enrolled sales unit {rsu:?}";
    /// A sales unit of that id is enrolled already.
    RsuExists { rsu: String }
        => "rsu_exists", Some("5.4.1"), "sales unit {rsu:?} is enrolled already";
    /// Another sales unit has that key.
    RsuKeyInUse {}
        => "rsu_key_in_use", Some("6.1.2"), "another sales unit is enrolled with that key";
    /// Enrolling, enabling or declaring a unit unreconcilable needs two people.
    RsuNeedsSecondPerson {}
        => "rsu_needs_second_person", Some("5.2.4"),
        "this change to a sales unit needs a requester and a different approver";
    /// The unit is in that status already.
    RsuStatusUnchanged { rsu: String, status: String }
        => "rsu_status_unchanged", Some("5.4.2"), "sales unit {rsu:?} is {status} already";
    /// The unit is disabled.
    RsuDisabled { rsu: String }
        => "rsu_disabled", Some("5.4.2"), "sales unit {rsu:?} is disabled";
    /// The unit released its numbers of the raffle.
    RsuReleased { rsu: String }
        => "rsu_released", Some("2.6.2"),
        "sales unit {rsu:?} has released its numbers of this raffle and sells no more for it";
    /// The unit has no numbers of the raffle.
    RsuNotAllocated { rsu: String }
        => "rsu_not_allocated", Some("3.2.1"), "sales unit {rsu:?} has no numbers of this raffle";
    /// A head the unit presents contradicts its history.
    RsuHeadForked { rsu: String, seq: u64 }
        => "rsu_head_forked", Some("6.1.2"),
        "sales unit {rsu:?} presents a chain head at sequence {seq} that contradicts its history: a device fault";
    /// The unit's signature does not verify.
    RsuBadSignature { rsu: String }
        => "rsu_bad_signature", Some("6.1.2"), "the signature is not sales unit {rsu:?}'s";
    /// The unit sealed for the draw already.
    RsuAlreadySealed { rsu: String, draw: String }
        => "rsu_already_sealed", Some("2.6.2"), "sales unit {rsu:?} has sealed for draw {draw} already";
    /// A seal's device time is before the draw's cutoff.
    RsuSealBeforeCutoff { rsu: String, draw: String }
        => "rsu_seal_before_cutoff", Some("2.6.2"),
        "sales unit {rsu:?} cannot seal for draw {draw} before its cutoff";
    /// A seal contradicts the unit's sales in the log.
    RsuSealContradicted { rsu: String, draw: String }
        => "rsu_seal_contradicted", Some("2.6.2"),
        "sales unit {rsu:?}'s seal for draw {draw} contradicts the device times of its sales";
    /// A draw waits for a unit.
    RsuNotUploaded { rsu: String, draw: String }
        => "rsu_not_uploaded", Some("2.6.1"),
        "draw {draw} waits for sales unit {rsu:?}: it has not sealed for the cutoff and uploaded up to its seal, nor been declared unreconcilable";
    /// The release's count is not the unit's unsold numbers.
    RsuReleaseCountMismatch { count: u64 }
        => "rsu_release_count_mismatch", None, "the unit's unsold numbers are {count}";
    /// The unit is reconciled for the draw already.
    RsuAlreadyReconcilable { rsu: String, draw: String }
        => "rsu_already_reconcilable", Some("2.6.1"),
        "sales unit {rsu:?} has sealed and uploaded for draw {draw}, or was declared unreconcilable already";
    /// The declaration names another head than the unit's.
    RsuHeadMismatch { rsu: String, seq: u64 }
        => "rsu_head_mismatch", None, "sales unit {rsu:?}'s uploaded head is sequence {seq}";
    /// An RSU sale's id is not derived from its device and sequence.
    RsuSaleIdMismatch {}
        => "rsu_sale_id_mismatch", None, "an RSU sale's id is derived from its device and sequence";
    /// A record's receipt time is after its entry's time.
    RsuReceivedLater {}
        => "rsu_received_later", None, "a record cannot be received after it is sequenced";
    /// A record logged as a sale must be refused.
    RsuRecordRefused { reason: String }
        => "rsu_record_refused", Some("6.1.4"), "the device record is refused: {reason}";
    /// A rejection the rules do not support.
    RsuRejectionUnfounded { reason: String }
        => "rsu_rejection_unfounded", Some("6.1.4"),
        "the device record is not refused for {reason}";
    /// The record is in the unit's chain already.
    RsuRecordInChain { seq: u64 }
        => "rsu_record_in_chain", None, "the record at sequence {seq} is in the unit's chain already";
    /// A reprint the rules refuse.
    RsuReprintRefused { reason: String }
        => "rsu_reprint_refused", Some("2.4"), "the reprint is refused: {reason}";
    /// That refused record was logged already.
    RsuRecordAlreadyRefused { seq: u64 }
        => "rsu_record_already_refused", None, "the refused record at sequence {seq} is logged already";

    // ---- Approvals and people ----

    /// The requester of a change cannot approve it.
    ApproverIsRequester {}
        => "approver_is_requester", Some("5.2.4"),
        "the requester cannot approve their own request (GLI-31 5.2.4)";
    /// The request was already approved or rejected.
    ApprovalAlreadyDecided { status: String }
        => "approval_already_decided", None, "the request is already {status}";
    /// Another approver decided the request at the same time.
    ApprovalDecidedMeanwhile {}
        => "approval_decided_meanwhile", None, "the request was decided meanwhile";
    /// The change would leave no enabled administrator.
    LastAdministrator {}
        => "last_administrator", None,
        "at least one enabled user must keep the administrator role";
    /// A user of that name already exists.
    UserExists { username: String }
        => "user_exists", None, "a user named {username:?} already exists";
    /// An enrolment password is set once.
    PasswordAlreadySet {}
        => "password_already_set", None,
        "your password is set: confirm your authenticator with POST /api/v1/enrolment/totp (an administrator can reset the enrolment)";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique_snake_case() {
        let all = Refusal::every();
        let codes: BTreeSet<&str> = all.iter().map(Refusal::code).collect();
        assert_eq!(codes.len(), all.len(), "a code is used twice");
        for code in codes {
            let snake = !code.is_empty()
                && code.starts_with(|c: char| c.is_ascii_lowercase())
                && !code.ends_with('_')
                && !code.contains("__")
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            assert!(snake, "{code:?} is not snake_case");
        }
    }

    #[test]
    fn gli_sections_are_section_numbers() {
        for r in Refusal::every() {
            if let Some(s) = r.gli() {
                let ok = s.split('.').count() >= 2
                    && s.split('.')
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
                assert!(ok, "{}: {s:?} is not a GLI-31 section", r.code());
            }
        }
    }

    /// Every parameter appears in its text, and the text is the `Display`.
    #[test]
    fn every_parameter_is_in_its_text() {
        for r in Refusal::every() {
            let mut text = r.template().to_string();
            for (name, value) in r.params() {
                let plain = format!("{{{name}}}");
                let quoted = format!("{{{name}:?}}");
                assert!(
                    text.contains(&plain) || text.contains(&quoted),
                    "{}: {name} is not in {:?}",
                    r.code(),
                    r.template()
                );
                text = text
                    .replace(&plain, &value)
                    .replace(&quoted, &format!("{value:?}"));
            }
            assert!(!text.contains('{'), "{}: {text:?}", r.code());
            assert_eq!(text, r.to_string(), "{}", r.code());
        }
    }

    #[test]
    fn the_error_says_refused_and_the_text() {
        let e = crate::Error::Refused(Refusal::DrawNotFrozen {
            draw: "main".into(),
        });
        assert_eq!(e.to_string(), "refused: draw main is not frozen");
        let r = Refusal::RaffleHasNoDraw {
            raffle: "r".into(),
            draw: "x".into(),
        };
        assert_eq!(r.to_string(), "raffle r has no draw \"x\"");
        assert_eq!(
            r.params(),
            vec![("raffle", "r".to_string()), ("draw", "x".to_string())]
        );
        assert_eq!(r.code(), "raffle_has_no_draw");
        assert_eq!(
            Refusal::NotEnoughTickets { left: 2 }.params(),
            vec![("left", "2".to_string())]
        );
    }
}
