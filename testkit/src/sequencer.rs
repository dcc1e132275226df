//! A sequencer of its own for the core's tests: a fresh database, a
//! publication directory, a log key, a clock the test moves, and, for the
//! fault table, a [`Plan`] that the publication store and the database
//! commit obey.

use publications::faults::{Faulty, Plan};
use publications::{DirStore, PublicationStore};
use raffle_core::Timestamp;
use raffle_core::clock::ManualClock;
use raffle_core::store::Store;
use raffle_core::store::sequencer::{Sequencer, SequencerConfig};
use std::sync::Arc;
use transparency::key::{ALG_ED25519, NoteSigner};

/// The log origin of every scratch sequencer.
pub const ORIGIN: &str = "127.0.0.1:8080/log";

pub struct Harness {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub key: NoteSigner,
    /// The sequencer's clock: tests move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// Faults injected into the store's calls and the commit.
    pub plan: Arc<Plan>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// `secs` from now on the sequencer's clock, after first bringing that
    /// clock up to the machine's present (it never moves back). A time made
    /// this way is passed by moving the clock past it, however long the
    /// sequencer took to start on a busy machine; a time made from the
    /// machine's clock alone may already lie behind the test's clock.
    pub fn in_secs(&self, secs: i64) -> Timestamp {
        use raffle_core::clock::Clock as _;
        let now = self.clock.now().max(Timestamp::now());
        self.clock.set(now);
        Timestamp::from_micros(now.as_micros() + secs * 1_000_000)
    }

    pub fn new() -> Harness {
        let (url, _) = crate::db::fresh_database();
        Harness {
            url,
            dir: tempfile::tempdir().expect("a temporary directory"),
            key: NoteSigner::generate(ORIGIN, ALG_ED25519).expect("a log key"),
            clock: Arc::new(ManualClock::new(Timestamp::now())),
            plan: Plan::new(),
        }
    }

    /// The publication directory, unwrapped (what a reader sees).
    pub fn published(&self) -> DirStore {
        DirStore::open(self.dir.path(), false).expect("the publication directory")
    }

    /// Starts a sequencer (the previous one must have been dropped, and its
    /// advisory lock released, or this fails as "already sequencing").
    pub async fn start(&self) -> raffle_core::Result<(Store, Sequencer)> {
        let store = Store::connect(&self.url).await?;
        let publications: Arc<dyn PublicationStore> =
            Arc::new(Faulty::new(Arc::new(self.published()), self.plan.clone()));
        let seq = Sequencer::start(
            store.clone(),
            SequencerConfig {
                origin: ORIGIN.into(),
                signer: self.key.clone(),
                publications,
                witnesses: Vec::new(),
                clock: self.clock.clone(),
                faults: Some(self.plan.clone()),
            },
        )
        .await?;
        Ok((store, seq))
    }

    /// Drops the test database (terminating the sequencer's connections).
    pub async fn finish(self) {
        let name = self.url.rsplit('/').next().expect("a database name");
        crate::db::drop_database(name).await;
    }
}
