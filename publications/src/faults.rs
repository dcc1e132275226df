//! Fault injection for tests, after Sunlight's table of backend failures:
//! a [`Plan`] names which call fails and how, and [`Faulty`] wraps a real
//! store so that its calls obey the plan. The sequencer consults the same
//! plan for its database commit ([`Call::Commit`]), so one table can walk
//! every durable step of a batch.
//!
//! A fault is one of: the call fails before it did anything
//! ([`Fault::Before`]); it does its work and then reports failure, as when
//! the acknowledgement of a write that succeeded is lost ([`Fault::After`]);
//! it waits, then does its work ([`Fault::Slow`]). Nothing here runs unless
//! a test builds a plan: production stores are never wrapped.

use crate::{Error, PublicationStore, Result};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A durable step of the write path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// [`PublicationStore::read`] (checkpoints, tiles for proofs and recovery).
    Read,
    /// [`PublicationStore::write_tiles`].
    WriteTiles,
    /// [`PublicationStore::swap_checkpoint`].
    SwapCheckpoint,
    /// [`PublicationStore::put`].
    Put,
    /// The sequencer's database commit of a batch.
    Commit,
}

/// How a call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails without doing anything.
    Before,
    /// Does its work, then reports failure.
    After,
    /// Waits this long, then does its work.
    Slow(Duration),
}

/// Which calls fail, how, and how many times.
#[derive(Debug, Default)]
pub struct Plan {
    armed: Mutex<Vec<(Call, Fault, u32)>>,
    fired: Mutex<Vec<(Call, Fault)>>,
}

impl Plan {
    pub fn new() -> Arc<Plan> {
        Arc::new(Plan::default())
    }

    /// The next `times` calls of `call` fail with `fault`.
    pub fn arm(&self, call: Call, fault: Fault, times: u32) {
        self.armed.lock().expect("plan").push((call, fault, times));
    }

    /// No more faults.
    pub fn disarm(&self) {
        self.armed.lock().expect("plan").clear();
    }

    /// The faults that fired, in order.
    pub fn fired(&self) -> Vec<(Call, Fault)> {
        self.fired.lock().expect("plan").clone()
    }

    /// The fault for this call of `call`, if one is armed (and counts it).
    pub fn take(&self, call: Call) -> Option<Fault> {
        let mut armed = self.armed.lock().expect("plan");
        let i = armed.iter().position(|(c, _, n)| *c == call && *n > 0)?;
        armed[i].2 -= 1;
        let fault = armed[i].1;
        self.fired.lock().expect("plan").push((call, fault));
        Some(fault)
    }

    /// Runs `work` (a blocking call) as the plan says.
    pub fn around<T>(&self, call: Call, work: impl FnOnce() -> Result<T>) -> Result<T> {
        match self.take(call) {
            None => work(),
            Some(Fault::Before) => Err(injected(call, "before")),
            Some(Fault::After) => {
                work()?;
                Err(injected(call, "after"))
            }
            Some(Fault::Slow(d)) => {
                std::thread::sleep(d);
                work()
            }
        }
    }
}

fn injected(call: Call, when: &str) -> Error {
    Error::Injected(format!("{call:?} failed {when} it persisted"))
}

/// A store whose calls obey a [`Plan`].
#[derive(Debug)]
pub struct Faulty {
    inner: Arc<dyn PublicationStore>,
    plan: Arc<Plan>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn PublicationStore>, plan: Arc<Plan>) -> Faulty {
        Faulty { inner, plan }
    }
}

impl PublicationStore for Faulty {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.plan.around(Call::Read, || self.inner.read(path))
    }

    fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        self.plan
            .around(Call::WriteTiles, || self.inner.write_tiles(files))
    }

    fn swap_checkpoint(&self, expected: Option<&[u8]>, new: &[u8]) -> Result<()> {
        self.plan.around(Call::SwapCheckpoint, || {
            self.inner.swap_checkpoint(expected, new)
        })
    }

    fn put(&self, path: &str, data: &[u8]) -> Result<()> {
        self.plan.around(Call::Put, || self.inner.put(path, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DirStore;

    #[test]
    fn an_armed_fault_fires_as_often_as_asked_and_after_means_it_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::new();
        let store = Faulty::new(
            Arc::new(DirStore::open(dir.path(), false).unwrap()),
            plan.clone(),
        );
        plan.arm(Call::SwapCheckpoint, Fault::Before, 1);
        assert!(matches!(
            store.swap_checkpoint(None, b"one"),
            Err(Error::Injected(_))
        ));
        assert_eq!(store.checkpoint().unwrap(), None, "before: nothing written");
        plan.arm(Call::SwapCheckpoint, Fault::After, 1);
        assert!(matches!(
            store.swap_checkpoint(None, b"one"),
            Err(Error::Injected(_))
        ));
        assert_eq!(
            store.checkpoint().unwrap().as_deref(),
            Some(&b"one"[..]),
            "after: written"
        );
        store.swap_checkpoint(Some(b"one"), b"two").unwrap();
        assert_eq!(
            plan.fired(),
            vec![
                (Call::SwapCheckpoint, Fault::Before),
                (Call::SwapCheckpoint, Fault::After)
            ]
        );
    }
}
