//! The sequencer: the single writer of the log (architecture page, "Orders,
//! sales and the write path").
//!
//! Changes arrive on a queue. The sequencer takes them in batches (group
//! commit), builds each one's entry from the current state, checks it with
//! [`Ledger::apply`] in the order it assigns leaf indices, and then makes the
//! batch durable, in this order:
//!
//! 0. the seeds of the draws it freezes are committed (only the database
//!    holds them until the draw reveals them, so they must survive a batch
//!    that is published but not committed; a seed stored for a freeze that
//!    was never published is used again, never replaced);
//! 1. the entries and their projections are written in one PostgreSQL
//!    transaction (not yet committed);
//! 2. the entry bundles and tiles are written and synced to the publication
//!    store ([`Appender::append`]);
//! 3. a checkpoint covering them is signed and published by compare-and-swap
//!    against the checkpoint this sequencer last published, and recorded in
//!    the transaction;
//! 4. the transaction commits;
//! 5. only then is each change acknowledged, with its inclusion proof.
//!
//! Crash reasoning: before 3, nothing was published and nothing but seeds
//! committed: the batch is lost, unacknowledged. Between 3 and 4, the published log is
//! ahead of the database: at the next start (or at once, if the commit
//! failed), [`recover`] rolls the database forward from the published log —
//! the same code that restores a database from an older backup. So every
//! acknowledged change is published exactly once, and the log signs only
//! consistent extensions of what it published (the appender resumes from
//! the published tiles, and its root must equal the published root).
//!
//! One sequencer per database: it holds a PostgreSQL advisory lock.

use super::health::{BatchStats, Health, HealthSnapshot};
use super::witnessing::{Cosigner, Witnessing};
use super::{Store, project, project_batch};
use crate::clock::Clock;
use crate::draw::{new_seed, seed_commitment};
use crate::entry::*;
use crate::ids::{DrawId, PackageId, RaffleId, RsuId, SaleId, StaffId};
use crate::ledger::{Ledger, Status};
use crate::{Error, Money, Refusal, Result, Timestamp};
use publications::faults::{Call, Fault, Plan};
use publications::{PublicationStore, Tiles};
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tokio::sync::{mpsc, oneshot};
use transparency::Hash;
use transparency::key::NoteSigner;
use transparency::note::Note;
use transparency::proof::inclusion_proof;
use transparency::store::{Appender, TileHashSource, read_entry};

/// Most changes sequenced in one batch.
pub const MAX_BATCH: usize = 4096;

/// A batch slower than this is reported on standard error.
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(250);

/// The shortest time between the starts of two batches (group commit): a
/// change waits at most this long for the previous batch's slot.
pub const BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(15);
/// Advisory lock key held by the one sequencer of a database ("raffle-sq").
const ADVISORY_LOCK: i64 = 0x7261_6666_6c65_5351;

/// A change submitted to the log.
#[derive(Clone, Debug)]
pub enum Change {
    SoftwareStarted {
        program: String,
        version: String,
        sha256: [u8; 32],
    },
    CreateRaffle {
        raffle: RaffleId,
        config: RaffleConfig,
        by: StaffId,
    },
    UpdateRaffle {
        raffle: RaffleId,
        config: RaffleConfig,
        by: StaffId,
    },
    OpenRaffle {
        raffle: RaffleId,
        by: StaffId,
        /// The SHA-256 of the payment account card sales are paid into.
        payment_account: Option<[u8; 32]>,
    },
    CloseRaffle {
        raffle: RaffleId,
        by: StaffId,
    },
    /// Written by the sequencer itself in the first batch at or after the end time.
    CloseAtEndTime {
        raffle: RaffleId,
    },
    /// Issue the tickets of a paid order (the sale takes the order's id).
    IssueSale {
        order: SaleId,
        raffle: RaffleId,
        package: PackageId,
        quantity: u32,
        stamped: Timestamp,
        validation: [u8; 32],
        channel: Channel,
        rsu: Option<RsuId>,
    },
    VoidSale {
        raffle: RaffleId,
        sale: SaleId,
        reason: VoidReason,
        refund: bool,
        requested_by: StaffId,
        approved_by: StaffId,
    },
    Reconcile {
        raffle: RaffleId,
        draw: DrawId,
        requested_by: StaffId,
        approved_by: StaffId,
    },
    FreezeDraw {
        raffle: RaffleId,
        draw: DrawId,
    },
    PerformDraw {
        raffle: RaffleId,
        draw: DrawId,
        contribution: Vec<u8>,
    },
    /// Perform a draw again, continuing its random stream, for a reason of
    /// the fixed list (GLI-31 2.6.4), requested and approved by two people.
    Redraw {
        raffle: RaffleId,
        draw: DrawId,
        reason: RedrawReason,
        requested_by: StaffId,
        approved_by: StaffId,
    },
    /// Anchor the significant events kept in the database.
    DigestEvents {
        digest: EventsDigest,
    },
    /// Enrol and enable a sales unit (GLI-31 6.1.3), by two people.
    EnrolRsu {
        rsu: RsuId,
        key: [u8; 32],
        requested_by: StaffId,
        approved_by: StaffId,
    },
    /// Enable a disabled sales unit again, by two people.
    EnableRsu {
        rsu: RsuId,
        requested_by: StaffId,
        approved_by: StaffId,
    },
    /// Disable a sales unit (GLI-31 5.4.2); `by` none when raffled does.
    DisableRsu {
        rsu: RsuId,
        reason: DisableReason,
        by: Option<StaffId>,
    },
    /// Allocate the raffle's next `count` numbers to a sales unit.
    AllocateRsu {
        raffle: RaffleId,
        rsu: RsuId,
        count: u64,
        by: StaffId,
    },
    /// Log a sales unit's chain head as it presented it at a contact.
    RsuSeen {
        rsu: RsuId,
        seq: u64,
        hash: [u8; 32],
    },
    /// A sales unit's signed seal for a draw's cutoff.
    /// A unit's reprint of one of its sales (GLI-31 2.4).
    ReprintRsu {
        reprint: RsuReprinted,
    },
    SealRsu {
        seal: RsuSealed,
    },
    /// Return a sales unit's unsold numbers once it sealed for the last draw.
    ReleaseRsu {
        raffle: RaffleId,
        rsu: RsuId,
    },
    /// Declare a sales unit unreconcilable for a draw, by two people.
    RsuUnreconcilable {
        raffle: RaffleId,
        draw: DrawId,
        rsu: RsuId,
        reason: UnreconcilableReason,
        requested_by: StaffId,
        approved_by: StaffId,
    },
    /// A sales unit's sale record, received at `received`: logged as a
    /// sale, or as `rsu.rejected` with the reason the rules give.
    RsuRecord {
        record: Box<RsuRecord>,
        received: Timestamp,
        /// Whether an operator list the server gave the device names the
        /// record's operator and was valid at its device time (the server
        /// alone knows the lists: they carry PIN hashes, never logged).
        operator_listed: bool,
    },
    /// Pay a draw's prize to the bearer of its winning ticket (the caller
    /// has checked the validation number against the sale's commitment).
    PayClaim {
        raffle: RaffleId,
        draw: DrawId,
        sale: SaleId,
        validation_number: String,
        /// The winner's paperwork is completed (needed over the raffle's threshold).
        paperwork: bool,
        by: StaffId,
        /// The approver of a supervised claim (required once the sale's
        /// validation number has been published).
        supervised_by: Option<StaffId>,
    },
}

/// A sequenced change: its entry, where it is, and the proof of it.
#[derive(Clone, Debug)]
pub struct Sequenced {
    pub index: u64,
    pub entry: Entry,
    pub bytes: Vec<u8>,
    pub checkpoint: Note,
    pub proof: Vec<Hash>,
}

impl Sequenced {
    /// The receipt: a c2sp.org/tlog-proof file whose extra is the entry.
    pub fn proof_file(&self) -> transparency::proof_file::ProofFile {
        transparency::proof_file::ProofFile {
            extra: Some(self.bytes.clone()),
            index: self.index,
            proof: self.proof.clone(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

type Reply = oneshot::Sender<Result<Sequenced>>;

/// Configuration of the sequencer.
pub struct SequencerConfig {
    pub origin: String,
    pub signer: NoteSigner,
    /// Where the log is published (a local directory, later S3).
    pub publications: Arc<dyn PublicationStore>,
    /// Witnesses every checkpoint is offered to before it is published
    /// (close and draw checkpoints wait for them: see [`super::witnessing`]).
    pub witnesses: Vec<Arc<dyn Cosigner>>,
    /// The time entries are stamped with ([`crate::clock::SystemClock`]
    /// but in tests).
    pub clock: Arc<dyn Clock>,
    /// Faults a test injects into the database commit of a batch (the
    /// publication store's own calls are wrapped in
    /// [`publications::faults::Faulty`]); `None` in production.
    pub faults: Option<Arc<Plan>>,
}

/// A handle on the running sequencer.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<(Change, Reply)>,
    ledger: Arc<RwLock<Ledger>>,
    latest: Arc<RwLock<Option<Note>>>,
    health: Arc<Health>,
}

/// The sequencer's durable-state view, rebuilt by [`recover`].
struct State {
    appender: Appender<Tiles>,
    published: Option<Vec<u8>>,
    seeds: HashMap<(RaffleId, DrawId), [u8; 32]>,
}

impl Sequencer {
    /// Takes the advisory lock, recovers (rolling the database forward from
    /// the published log if needed) and starts sequencing.
    pub async fn start(store: Store, config: SequencerConfig) -> Result<Sequencer> {
        if config.signer.name() != config.origin {
            return Err(Error::invalid(
                "signing key",
                format!(
                    "its name {:?} is not the log origin {:?}",
                    config.signer.name(),
                    config.origin
                ),
            ));
        }
        let mut lock_conn = store.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ADVISORY_LOCK)
            .fetch_one(&mut lock_conn)
            .await?;
        if !locked {
            return Err(Error::Unavailable(
                "another raffled is already sequencing this database".into(),
            ));
        }
        config
            .publications
            .write_vkey(&config.signer.verifier().vkey())
            .map_err(|e| Error::Storage(e.to_string()))?;
        let ledger = Arc::new(RwLock::new(Ledger::for_log(&config.origin)));
        let latest = Arc::new(RwLock::new(None));
        let config = Arc::new(config);
        let state = recover(&store, &config, &ledger, &latest).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let health = Arc::new(Health::default());
        let task = Task {
            store,
            config,
            ledger: ledger.clone(),
            latest: latest.clone(),
            state: Some(state),
            witnessing: Witnessing::default(),
            health: health.clone(),
            _lock: lock_conn,
        };
        tokio::spawn(task.run(rx));
        Ok(Sequencer {
            tx,
            ledger,
            latest,
            health,
        })
    }

    /// Submits a change and waits until it is sequenced (or refused).
    pub async fn submit(&self, change: Change) -> Result<Sequenced> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((change, reply))
            .await
            .map_err(|_| Error::Unavailable("the sequencer has stopped".into()))?;
        wait.await
            .map_err(|_| Error::Unavailable("the sequencer dropped the change".into()))?
    }

    /// Submits changes in this order (one device's records must reach the
    /// log in chain order) and waits for every one.
    pub async fn submit_all(&self, changes: Vec<Change>) -> Vec<Result<Sequenced>> {
        let mut waits = Vec::with_capacity(changes.len());
        for change in changes {
            let (reply, wait) = oneshot::channel();
            if self.tx.send((change, reply)).await.is_err() {
                break;
            }
            waits.push(wait);
        }
        let mut results = Vec::with_capacity(waits.len());
        for wait in waits {
            results.push(
                wait.await
                    .map_err(|_| Error::Unavailable("the sequencer dropped the change".into()))
                    .and_then(|r| r),
            );
        }
        results
    }

    /// The ledger as of the last sequenced batch.
    pub fn ledger(&self) -> RwLockReadGuard<'_, Ledger> {
        self.ledger.read().expect("ledger lock")
    }

    /// The latest published checkpoint.
    pub fn latest_checkpoint(&self) -> Option<Note> {
        self.latest.read().expect("checkpoint lock").clone()
    }

    /// Its batches and failures so far, and the changes waiting.
    pub fn health(&self) -> HealthSnapshot {
        let mut h = self.health.snapshot();
        h.queue_depth = self.tx.max_capacity() - self.tx.capacity();
        h
    }

    /// Whether the sequencer's task is still running (it holds the
    /// single-writer lock while it does).
    pub fn running(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// Changes that may wait for the sequencer; a submission beyond waits for room.
pub const QUEUE: usize = 65_536;

struct Task {
    store: Store,
    config: Arc<SequencerConfig>,
    ledger: Arc<RwLock<Ledger>>,
    latest: Arc<RwLock<Option<Note>>>,
    /// `None` while recovering from a failed batch.
    state: Option<State>,
    witnessing: Witnessing,
    health: Arc<Health>,
    _lock: sqlx::PgConnection,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<(Change, Reply)>) {
        let mut last_batch: Option<tokio::time::Instant> = None;
        loop {
            // Wake at least every second: raffles close at their end time
            // even when nobody is buying.
            let first =
                match tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv()).await {
                    Ok(Some(first)) => Some(first),
                    Ok(None) => return,
                    Err(_) => None,
                };
            let mut batch: Vec<(Change, Reply)> = first.into_iter().collect();
            // Under load, batches start at most every BATCH_INTERVAL: each
            // batch writes a few tile files, fsyncs and signs whatever its
            // size, so fewer, larger batches leave more time for buyers.
            if let Some(previous) = last_batch
                && batch.len() == 1
                && rx.len() + 1 < MAX_BATCH
            {
                let due = previous + BATCH_INTERVAL;
                if due > tokio::time::Instant::now() {
                    tokio::time::sleep_until(due).await;
                }
            }
            last_batch = Some(tokio::time::Instant::now());
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            if self.state.is_none() {
                match recover(&self.store, &self.config, &self.ledger, &self.latest).await {
                    Ok(state) => self.state = Some(state),
                    Err(e) => {
                        tracing::error!(error = %e, "recovering the sequencer failed");
                        self.health.failed(Timestamp::now(), &e.to_string());
                        for (_, reply) in batch {
                            let _ = reply.send(Err(Error::Unavailable(format!("recovering: {e}"))));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            if let Err(e) = self.sequence(batch).await {
                tracing::error!(error = %e, "sequencing failed, recovering");
                self.health.failed(Timestamp::now(), &e.to_string());
                // The in-memory ledger may hold the failed batch: rebuild it
                // from durable state now, not at the next batch.
                self.state = recover(&self.store, &self.config, &self.ledger, &self.latest)
                    .await
                    .ok();
            }
        }
    }

    /// Builds, checks and persists one batch. On error every accepted change
    /// has been answered with the error and the state must be recovered.
    async fn sequence(&mut self, batch: Vec<(Change, Reply)>) -> Result<()> {
        // GLI-31 2.3.2: a validation number never repeats within a raffle.
        // The commitments already sold are looked up once per batch; a
        // repeat (of a sold one, or of one earlier in this batch) refuses
        // only its own change.
        let proposed: Vec<(RaffleId, [u8; 32])> = batch
            .iter()
            .filter_map(|(c, _)| match c {
                Change::IssueSale {
                    raffle, validation, ..
                } => Some((raffle.clone(), *validation)),
                Change::RsuRecord { record, .. } => {
                    Some((record.raffle.clone(), record.validation.0))
                }
                _ => None,
            })
            .collect();
        let mut taken = match self.store.sold_validations(&proposed).await {
            Ok(taken) => taken,
            Err(e) => {
                tracing::error!(error = %e, "reading sold validation numbers failed");
                self.health.failed(Timestamp::now(), &e.to_string());
                for (_, reply) in batch {
                    let _ = reply.send(Err(Error::Unavailable(format!("not sequenced: {e}"))));
                }
                return Ok(());
            }
        };
        let state = self.state.as_mut().expect("recovered");
        let mut accepted: Vec<(u64, Entry, Vec<u8>, Option<Reply>)> = Vec::new();
        let mut new_seeds: Vec<(RaffleId, DrawId, [u8; 32])> = Vec::new();
        // Refusals are answered once the batch is durable: a refusal may
        // rest on a change accepted earlier in the same batch (a retried
        // sale "already exists"), which its caller then reads back.
        let mut refusals: Vec<(Reply, Error)> = Vec::new();
        {
            let mut ledger = self.ledger.write().expect("ledger lock");
            let now = self.config.clock.now();
            let time = ledger.last_time().map_or(now, |last| last.max(now));
            // Raffles whose end time has come close first (GLI-31 2.6.2).
            let due: Vec<RaffleId> = ledger
                .raffles()
                .filter(|r| r.status == Status::Open && r.config.sales_end <= time)
                .map(|r| r.id.clone())
                .collect();
            let closes = due
                .into_iter()
                .map(|raffle| (Change::CloseAtEndTime { raffle }, None));
            let changes = batch
                .into_iter()
                .map(|(change, reply)| (change, Some(reply)));
            // Build each entry from the state its predecessors left, then
            // check it: the log order is the order the rules were enforced.
            for (change, reply) in closes.chain(changes) {
                // (A retried sale is refused as existing, by the ledger.)
                if let Change::IssueSale {
                    order,
                    raffle,
                    validation,
                    ..
                } = &change
                    && ledger.raffle(raffle).and_then(|r| r.sale(order)).is_none()
                    && !taken.insert((raffle.clone(), *validation))
                {
                    if let Some(reply) = reply {
                        refusals.push((reply, Error::ValidationNumberTaken));
                    }
                    continue;
                }
                // A refused change drops only its own new seed (an accepted
                // freeze of the same draw earlier in the batch keeps its).
                let seeds_before = new_seeds.len();
                let built = match &change {
                    Change::RsuRecord {
                        record,
                        received,
                        operator_listed,
                    } => rsu_record(&ledger, record, *received, *operator_listed, &mut taken),
                    _ => build(&ledger, &state.seeds, &change, &mut new_seeds),
                };
                let result = built.and_then(|body| {
                    let entry = Entry::new(time, body);
                    let bytes = entry.to_bytes()?;
                    let index = ledger.size();
                    ledger.apply(&entry)?;
                    Ok((index, entry, bytes))
                });
                match result {
                    Ok((index, entry, bytes)) => accepted.push((index, entry, bytes, reply)),
                    Err(e) => {
                        new_seeds.truncate(seeds_before);
                        if let Some(reply) = reply {
                            refusals.push((reply, e));
                        }
                    }
                }
            }
        }
        if accepted.is_empty() {
            for (reply, e) in refusals {
                let _ = reply.send(Err(e));
            }
            return Ok(());
        }
        // One span per durable batch: its events (the batch's timings, a
        // slow batch, a failure) carry its size.
        let span = tracing::debug_span!(
            "batch",
            entries = accepted.len(),
            log_size = state.appender.size()
        );
        let persisted = {
            use tracing::Instrument as _;
            self.health.writing(Timestamp::now());
            let persisted = self.persist(&accepted, &new_seeds).instrument(span).await;
            self.health.written();
            persisted
        };
        let failed = persisted.as_ref().err().map(|e| e.to_string());
        for (reply, e) in refusals {
            let _ = reply.send(Err(match &failed {
                // The batch it was judged against is lost: retry, rather
                // than a refusal that may no longer hold.
                Some(why) => Error::Unavailable(format!("not sequenced: {why}")),
                None => e,
            }));
        }
        match persisted {
            Ok((checkpoint, new_size)) => {
                let state = self.state.as_mut().expect("recovered");
                let storage = state.appender.storage();
                let src = TileHashSource::new(storage, new_size);
                for (index, entry, bytes, reply) in accepted {
                    let Some(reply) = reply else { continue };
                    let proof = inclusion_proof(&src, index, new_size)
                        .map_err(|e| Error::Storage(e.to_string()));
                    let _ = reply.send(proof.map(|proof| Sequenced {
                        index,
                        entry,
                        bytes,
                        checkpoint: checkpoint.clone(),
                        proof,
                    }));
                }
                for (raffle, draw, seed) in new_seeds {
                    state.seeds.insert((raffle, draw), seed);
                }
                Ok(())
            }
            Err(e) => {
                for (_, _, _, reply) in accepted {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(Error::Unavailable(format!("not sequenced: {e}"))));
                    }
                }
                Err(e)
            }
        }
    }

    async fn persist(
        &mut self,
        accepted: &[(u64, Entry, Vec<u8>, Option<Reply>)],
        seeds: &[(RaffleId, DrawId, [u8; 32])],
    ) -> Result<(Note, u64)> {
        let started = std::time::Instant::now();
        // The database rows and the tiles are written at the same time, the
        // rows (uncommitted) by a task of their own while this one writes
        // and fsyncs the tiles: a batch takes the longer of the two, not
        // their sum. Nothing is committed before the checkpoint is published.
        let owned: Vec<(u64, Entry, Vec<u8>)> = accepted
            .iter()
            .map(|(i, e, b, _)| (*i, e.clone(), b.clone()))
            .collect();
        // A freeze's seed is committed before the freeze can be published:
        // a batch published without its commit is rolled forward from the
        // log, and the seed, secret, is in no published file. A seed row
        // whose freeze never gets published is kept and used again by the
        // next freeze of that draw (`build`), so it is never replaced.
        if !seeds.is_empty() {
            let mut tx = self.store.pool.begin().await?;
            for (raffle, draw, seed) in seeds {
                sqlx::query(
                    "INSERT INTO draw_seeds (raffle_id, draw_id, seed) VALUES ($1, $2, $3) \
                     ON CONFLICT (raffle_id, draw_id) DO NOTHING",
                )
                .bind(super::uuid(raffle)?)
                .bind(draw)
                .bind(&seed[..])
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        let pool = self.store.pool.clone();
        let database = tokio::spawn(async move {
            let mut tx = pool.begin().await?;
            let rows: Vec<(u64, &Entry, &[u8])> = owned
                .iter()
                .map(|(i, e, b)| (*i, e, b.as_slice()))
                .collect();
            project_batch(&mut tx, &rows).await?;
            Ok::<_, Error>((tx, started.elapsed()))
        });
        let state = self.state.as_mut().expect("recovered");
        let entries: Vec<&[u8]> = accepted.iter().map(|(_, _, b, _)| b.as_slice()).collect();
        let config = self.config.clone();
        let signed = tokio::task::block_in_place(|| -> Result<(Note, u64, Hash)> {
            state
                .appender
                .append(&entries)
                .map_err(|e| Error::Storage(format!("publishing tiles: {e}")))?;
            let checkpoint = state.appender.checkpoint(&config.origin);
            let note = checkpoint
                .sign(&config.signer)
                .map_err(|e| Error::Storage(e.to_string()))?;
            Ok((note, checkpoint.size, checkpoint.root))
        });
        // Both are awaited whatever happened, so that no transaction is left
        // behind; a failure of either fails the batch.
        let projected = database
            .await
            .map_err(|e| Error::Storage(format!("the database writer failed: {e}")))?;
        let (note, size, root) = signed?;
        let (mut tx, projected) = projected?;
        // Witnesses cosign before anything is published; a close or a draw
        // is not published without them.
        let critical = accepted.iter().any(|(_, e, _, _)| {
            matches!(
                e.body,
                Body::RaffleClosed(_) | Body::DrawFrozen(_) | Body::DrawPerformed(_)
            )
        });
        let note = self
            .witnessing
            .cosign(
                &config.witnesses,
                state.appender.storage(),
                note,
                size,
                critical,
            )
            .await;
        self.health.witnesses(
            self.witnessing.cosigned,
            self.witnessing.failed,
            self.witnessing.sizes(),
        );
        let note = note?;
        sqlx::query("INSERT INTO checkpoints (size, root, note) VALUES ($1, $2, $3)")
            .bind(size as i64)
            .bind(&root.0[..])
            .bind(note.to_bytes())
            .execute(&mut *tx)
            .await?;
        let bytes = note.to_bytes();
        let expected = state.published.clone();
        tokio::task::block_in_place(|| {
            config
                .publications
                .swap_checkpoint(expected.as_deref(), &bytes)
        })
        .map_err(|e| Error::Storage(format!("publishing the checkpoint: {e}")))?;
        let published = started.elapsed();
        state.published = Some(bytes);
        *self.latest.write().expect("checkpoint lock") = Some(note.clone());
        // Published: from here a failed commit is repaired by rolling the
        // database forward from the published log.
        match self
            .config
            .faults
            .as_ref()
            .and_then(|p| p.take(Call::Commit))
        {
            None => tx.commit().await?,
            Some(Fault::Before) => {
                return Err(Error::Storage("injected fault: the commit failed".into()));
            }
            Some(Fault::After) => {
                tx.commit().await?;
                return Err(Error::Storage(
                    "injected fault: the commit's answer was lost".into(),
                ));
            }
            Some(Fault::Slow(d)) => {
                tokio::time::sleep(d).await;
                tx.commit().await?;
            }
        }
        let committed = started.elapsed();
        self.health.batch(BatchStats {
            entries: accepted.len(),
            database: projected,
            published,
            committed,
            log_size: size,
            at: Timestamp::now(),
        });
        // A slow batch holds every buyer in it: say where the time went.
        let (entries, database_ms, published_ms, committed_ms) = (
            accepted.len(),
            projected.as_millis() as u64,
            published.as_millis() as u64,
            committed.as_millis() as u64,
        );
        if committed > SLOW_BATCH {
            tracing::warn!(
                entries,
                database_ms,
                published_ms,
                committed_ms,
                log_size = size,
                "slow batch"
            );
        } else {
            tracing::debug!(
                entries,
                database_ms,
                published_ms,
                committed_ms,
                log_size = size,
                "batch"
            );
        }
        Ok((note, size))
    }
}

/// A device's record as the rules judge it ([`Ledger::rsu_verdict`]): a
/// sale, or a rejection with its reason. A record refused outside the
/// chain is logged once; a record already in the chain is refused
/// (the caller skips those it knows). Two reasons rest on what the server
/// alone knows: a validation commitment already sold (judged against
/// every sold commitment) and an operator not on the device's lists.
fn rsu_record(
    ledger: &Ledger,
    record: &RsuRecord,
    received: Timestamp,
    operator_listed: bool,
    taken: &mut std::collections::HashSet<(RaffleId, [u8; 32])>,
) -> Result<Body> {
    let mut verdict = ledger.rsu_verdict(record, received)?;
    if verdict.is_some_and(|r| !r.chained()) && ledger.rsu_already_refused(record) {
        return Err(Error::Refused(Refusal::RsuRecordAlreadyRefused {
            seq: record.seq.0,
        }));
    }
    // GLI-31 3.2.2: sold by an operator the server let sign in on it.
    if verdict.is_none() && !operator_listed {
        verdict = Some(RejectReason::Operator);
    }
    // GLI-31 2.3.2: a validation number never repeats within a raffle.
    if verdict.is_none() && !taken.insert((record.raffle.clone(), record.validation.0)) {
        verdict = Some(RejectReason::ValidationTaken);
    }
    Ok(match verdict {
        Some(reason) => Body::RsuRejected(Box::new(RsuRejected {
            record: record.clone(),
            received,
            reason,
        })),
        None => Body::Sale(Sale {
            raffle: record.raffle.clone(),
            sale: crate::rsu::sale_id(&record.rsu, record.seq.0),
            package: record.package.clone(),
            quantity: record.quantity,
            numbers: record.numbers,
            price: record.price,
            channel: Channel::Rsu,
            rsu: Some(record.rsu.clone()),
            stamped: record.device_time,
            validation: record.validation,
            device: Some(DeviceRecord {
                seq: record.seq,
                prev: record.prev,
                payment: record.payment,
                operator: record.operator.clone(),
                signature: record.signature.clone(),
                received,
            }),
        }),
    })
}

/// Builds the entry body of a change from the current state.
fn build(
    ledger: &Ledger,
    seeds: &HashMap<(RaffleId, DrawId), [u8; 32]>,
    change: &Change,
    new_seeds: &mut Vec<(RaffleId, DrawId, [u8; 32])>,
) -> Result<Body> {
    let raffle_state = |id: &str| {
        ledger.raffle(id).ok_or_else(|| {
            Error::Refused(Refusal::NoRaffle {
                raffle: id.to_string(),
            })
        })
    };
    Ok(match change.clone() {
        Change::SoftwareStarted {
            program,
            version,
            sha256,
        } => Body::SoftwareStarted(SoftwareStarted {
            program,
            version,
            sha256: Digest32(sha256),
        }),
        Change::CreateRaffle { raffle, config, by } => {
            Body::RaffleCreated(RaffleCreated { raffle, config, by })
        }
        Change::UpdateRaffle { raffle, config, by } => {
            let old = raffle_state(&raffle)?.config.clone();
            Body::RaffleUpdated(Box::new(RaffleUpdated {
                raffle,
                old,
                new: config,
                by,
            }))
        }
        Change::OpenRaffle {
            raffle,
            by,
            payment_account,
        } => Body::RaffleOpened(RaffleOpened {
            raffle,
            by,
            payment_account: payment_account.map(crate::entry::Digest32),
        }),
        Change::CloseRaffle { raffle, by } => Body::RaffleClosed(RaffleClosed {
            raffle,
            reason: CloseReason::Operator,
            by: Some(by),
        }),
        Change::CloseAtEndTime { raffle } => Body::RaffleClosed(RaffleClosed {
            raffle,
            reason: CloseReason::EndTime,
            by: None,
        }),
        Change::IssueSale {
            order,
            raffle,
            package,
            quantity,
            stamped,
            validation,
            channel,
            rsu,
        } => {
            let r = raffle_state(&raffle)?;
            let p = r
                .config
                .packages
                .iter()
                .find(|p| p.id == package)
                .ok_or_else(|| {
                    Error::Refused(Refusal::NoPackage {
                        package: package.to_string(),
                    })
                })?;
            let count = u64::from(p.tickets) * u64::from(quantity);
            let price = p
                .price
                .minor
                .checked_mul(u64::from(quantity))
                .ok_or_else(|| Error::Overflow("price".into()))?;
            Body::Sale(Sale {
                raffle,
                sale: order,
                package,
                quantity,
                numbers: NumberRange {
                    first: U64(r.next_number),
                    count: U64(count),
                },
                price: Money::new(price, p.price.currency),
                channel,
                rsu,
                stamped,
                validation: Digest32(validation),
                device: None,
            })
        }
        Change::VoidSale {
            raffle,
            sale,
            reason,
            refund,
            requested_by,
            approved_by,
        } => Body::SaleVoided(SaleVoided {
            raffle,
            sale,
            reason,
            refund,
            requested_by,
            approved_by,
        }),
        Change::Reconcile {
            raffle,
            draw,
            requested_by,
            approved_by,
        } => {
            let f = raffle_state(&raffle)?.reconciliation_figures(&draw)?;
            Body::ReconciliationAcknowledged(ReconciliationAcknowledged {
                raffle,
                draw,
                sales: U64(f.sales),
                gross: f.gross,
                voids: U64(f.voids),
                voided: f.voided,
                refunded: f.refunded,
                requested_by,
                approved_by,
            })
        }
        Change::FreezeDraw { raffle, draw } => {
            let r = raffle_state(&raffle)?;
            let (n, hash) = r.eligible_digest(&draw)?;
            let prize = r.draw_prize(&draw)?;
            // A seed stored for a freeze of this draw that was never
            // published is used again, never replaced: whoever reads the
            // database and can stop a batch from publishing cannot re-roll
            // the draw until its winner suits them.
            let seed = match seeds.get(&(raffle.clone(), draw.clone())) {
                Some(stored) => *stored,
                None => new_seed()?,
            };
            new_seeds.push((raffle.clone(), draw.clone(), seed));
            Body::DrawFrozen(DrawFrozen {
                raffle,
                draw,
                n: U64(n),
                eligible_sha256: hash,
                seed_sha256: Digest32(seed_commitment(&seed)),
                prize,
            })
        }
        Change::PerformDraw {
            raffle,
            draw,
            contribution,
        } => {
            let r = raffle_state(&raffle)?;
            if r.draws.get(&draw).and_then(|d| d.frozen.as_ref()).is_none() {
                return Err(Error::Refused(Refusal::DrawNotFrozen {
                    draw: draw.to_string(),
                }));
            }
            let seed = seeds
                .get(&(raffle.clone(), draw.clone()))
                .ok_or_else(|| Error::Storage(format!("the seed of draw {draw} is missing")))?;
            Body::DrawPerformed(r.performance(&draw, seed, &contribution, None)?)
        }
        Change::Redraw {
            raffle,
            draw,
            reason,
            requested_by,
            approved_by,
        } => {
            let r = raffle_state(&raffle)?;
            let performed = r
                .draws
                .get(&draw)
                .and_then(|d| d.performed.as_ref())
                .ok_or_else(|| {
                    Error::Refused(Refusal::RedrawBeforePerformed {
                        draw: draw.to_string(),
                    })
                })?;
            let redraw = Redraw {
                reason,
                requested_by,
                approved_by,
            };
            Body::DrawPerformed(r.performance(
                &draw,
                &performed.seed,
                &performed.contribution,
                Some(redraw),
            )?)
        }
        Change::DigestEvents { digest } => Body::EventsDigest(digest),
        Change::EnrolRsu {
            rsu,
            key,
            requested_by,
            approved_by,
        } => Body::RsuEnrolled(RsuEnrolled {
            rsu,
            key: Digest32(key),
            requested_by,
            approved_by,
        }),
        Change::EnableRsu {
            rsu,
            requested_by,
            approved_by,
        } => Body::RsuEnabled(RsuEnabled {
            rsu,
            requested_by,
            approved_by,
        }),
        Change::DisableRsu { rsu, reason, by } => {
            Body::RsuDisabled(RsuDisabled { rsu, reason, by })
        }
        Change::AllocateRsu {
            raffle,
            rsu,
            count,
            by,
        } => Body::RsuAllocated(RsuAllocated {
            numbers: NumberRange {
                first: U64(raffle_state(&raffle)?.next_number),
                count: U64(count),
            },
            raffle,
            rsu,
            by,
        }),
        Change::RsuSeen { rsu, seq, hash } => Body::RsuSeen(RsuSeen {
            rsu,
            seq: U64(seq),
            hash: Digest32(hash),
        }),
        Change::SealRsu { seal } => Body::RsuSealed(seal),
        Change::ReprintRsu { reprint } => Body::RsuReprinted(reprint),
        Change::ReleaseRsu { raffle, rsu } => {
            let unsold = ledger
                .device(&rsu)
                .and_then(|d| d.raffles.get(&raffle))
                .map(|dr| dr.allocated - dr.sold_numbers)
                .ok_or_else(|| {
                    Error::Refused(Refusal::RsuNotAllocated {
                        rsu: rsu.to_string(),
                    })
                })?;
            Body::RsuReleased(RsuReleased {
                raffle,
                rsu,
                count: U64(unsold),
            })
        }
        Change::RsuUnreconcilable {
            raffle,
            draw,
            rsu,
            reason,
            requested_by,
            approved_by,
        } => {
            let head = ledger.device(&rsu).map(|d| d.head.seq).ok_or_else(|| {
                Error::Refused(Refusal::RsuUnknown {
                    rsu: rsu.to_string(),
                })
            })?;
            Body::RsuUnreconcilable(RsuUnreconcilable {
                raffle,
                draw,
                rsu,
                uploaded: U64(head),
                reason,
                requested_by,
                approved_by,
            })
        }
        // Judged with the sold validation numbers at hand: `rsu_record`.
        Change::RsuRecord {
            record,
            received,
            operator_listed,
        } => {
            return rsu_record(
                ledger,
                &record,
                received,
                operator_listed,
                &mut Default::default(),
            );
        }
        Change::PayClaim {
            raffle,
            draw,
            sale,
            validation_number,
            paperwork,
            by,
            supervised_by,
        } => {
            let r = raffle_state(&raffle)?;
            let state = r.draws.get(&draw).ok_or_else(|| {
                Error::Refused(Refusal::NoDraw {
                    draw: draw.to_string(),
                })
            })?;
            let winner = state.winner.as_ref().ok_or_else(|| {
                Error::Refused(Refusal::NoWinnerYet {
                    draw: draw.to_string(),
                })
            })?;
            let prize = state.frozen.as_ref().map(|f| f.prize).ok_or_else(|| {
                Error::Refused(Refusal::DrawNotFrozen {
                    draw: draw.to_string(),
                })
            })?;
            Body::ClaimPaid(ClaimPaid {
                raffle,
                draw,
                sale,
                number: U64(winner.number),
                validation_number,
                prize,
                paperwork,
                by,
                supervised_by,
            })
        }
    })
}

/// Rebuilds the ledger from the database, rolls the database forward from
/// the published log when it is behind (a crash after publishing, or a
/// restored backup), and reopens the log's appender at the published size.
async fn recover(
    store: &Store,
    config: &SequencerConfig,
    ledger: &RwLock<Ledger>,
    latest: &RwLock<Option<Note>>,
) -> Result<State> {
    let mut fresh = Ledger::for_log(&config.origin);
    store
        .replay_entries(|idx, entry| {
            fresh.apply(entry).map_err(|e| {
                Error::Storage(format!(
                    "log entry {idx} in the database breaks the rules: {e}"
                ))
            })
        })
        .await?;
    let db_size = fresh.size();
    let published = config
        .publications
        .checkpoint()
        .map_err(|e| Error::Storage(e.to_string()))?;
    let verifier = config.signer.verifier();
    let (published_size, published_root, published_note) = match &published {
        None => (0, transparency::hash::EMPTY_ROOT, None),
        Some(bytes) => {
            let signed = transparency::checkpoint::SignedCheckpoint::open(bytes, &verifier, &[])
                .map_err(|e| {
                    Error::Storage(format!(
                        "the published checkpoint does not verify with our key: {e}"
                    ))
                })?;
            (
                signed.checkpoint.size,
                signed.checkpoint.root,
                Some(signed.note),
            )
        }
    };
    if let Some((db_checkpoint, _)) = store.latest_checkpoint().await?
        && db_checkpoint > published_size
    {
        return Err(Error::Storage(format!(
            "the database recorded a checkpoint of size {db_checkpoint} but the published one has size {published_size}: \
             the publication store was rolled back; refusing to sign until it is restored"
        )));
    }
    if published_size < db_size {
        return Err(Error::Storage(format!(
            "the database holds {db_size} entries but the published log only {published_size}: refusing to sign"
        )));
    }
    let storage = Tiles(config.publications.clone());
    if published_size > db_size {
        // Roll forward: the published log is the source of truth.
        let mut tx = store.pool.begin().await?;
        for idx in db_size..published_size {
            let bytes = read_entry(&storage, idx, published_size)
                .map_err(|e| Error::Storage(format!("reading published entry {idx}: {e}")))?;
            let entry = Entry::parse(&bytes)
                .map_err(|e| Error::Storage(format!("published entry {idx}: {e}")))?;
            fresh.apply(&entry).map_err(|e| {
                Error::Storage(format!("published entry {idx} breaks the rules: {e}"))
            })?;
            project(&mut tx, idx, &entry, &bytes).await?;
        }
        let note = published_note.as_ref().expect("a published checkpoint");
        sqlx::query("INSERT INTO checkpoints (size, root, note) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING")
            .bind(published_size as i64)
            .bind(&published_root.0[..])
            .bind(note.to_bytes())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(
            from = db_size,
            to = published_size,
            "rolled the database forward from the published log"
        );
    }
    let appender = Appender::open(storage, published_size)
        .map_err(|e| Error::Storage(format!("reopening the log: {e}")))?;
    if appender.root() != published_root {
        return Err(Error::Storage(
            "the published tiles do not match the published checkpoint's root".into(),
        ));
    }
    // Every frozen draw's seed; a lost seed (freeze published, seed row lost
    // with the database) makes that draw unperformable, which the auditor sees.
    let mut seeds = HashMap::new();
    for (raffle, draw, seed) in store.draw_seeds().await? {
        seeds.insert((raffle, draw), seed);
    }
    *ledger.write().expect("ledger lock") = fresh;
    *latest.write().expect("checkpoint lock") = published_note;
    Ok(State {
        appender,
        published,
        seeds,
    })
}
