//! The sales of an open raffle, held as compactly as the rules allow: the
//! auditor's memory is this, for the raffles still open.
//!
//! - [`SaleRec`]: 32 bytes per sale (its draw numbers are a range; its
//!   count and price follow from its package and quantity);
//! - [`SaleList`]: in chunks, so that growing never copies the list (no
//!   doubling peak at a million sales);
//! - [`Sales`]: the online sales in a [`SaleList`] and the RSU sales
//!   (schema version 4) beside it, 40 bytes each and 24 more in a B-tree
//!   by first number: a device fills its allocated range while online
//!   sales go on after it, so RSU sales arrive out of number order; the
//!   two are merged in number order when iterated;
//! - [`SaleIndex`]: sale id → position in 12 bytes per sale: a 64-bit
//!   fingerprint of the id under a key drawn at random for each run (so an
//!   operator cannot make ids collide on purpose) in a sorted array, with a
//!   hash map for the most recent sales. Two different ids with the same
//!   fingerprint (about 1 in 10^7 for a million sales) are told apart by
//!   reading the earlier sale back from the log, and the newer one is then
//!   indexed by its full id.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};

/// One sale.
#[derive(Clone, Copy, Debug)]
pub struct SaleRec {
    /// Its first draw number.
    pub first: u64,
    /// Its entry's time (when it was sequenced), in microseconds.
    pub sequenced: i64,
    /// Leaf index of its entry.
    pub leaf: u64,
    pub quantity: u32,
    /// Position of its package in the raffle's configuration.
    pub package: u16,
    pub voided: bool,
    pub refunded: bool,
}

const CHUNK: usize = 1 << 16;

/// Sales in the order they were sold (ascending draw numbers).
#[derive(Default)]
pub struct SaleList {
    chunks: Vec<Vec<SaleRec>>,
    len: usize,
}

impl SaleList {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, s: SaleRec) {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk").push(s);
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> &SaleRec {
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    pub fn get_mut(&mut self, i: usize) -> &mut SaleRec {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    pub fn iter(&self) -> impl Iterator<Item = &SaleRec> {
        self.chunks.iter().flatten()
    }

    /// The first position whose sale does not satisfy `below` (the sales
    /// must be partitioned by it, as they are by draw number).
    pub fn partition_point(&self, below: impl Fn(&SaleRec) -> bool) -> usize {
        let c = self
            .chunks
            .partition_point(|c| c.last().is_some_and(&below));
        match self.chunks.get(c) {
            Some(chunk) => c * CHUNK + chunk.partition_point(below),
            None => self.len,
        }
    }
}

/// Positions of RSU sales have this bit set (online sales' positions are
/// their places in the [`SaleList`]).
pub const RSU_POSITION: u32 = 1 << 31;

/// An RSU sale (schema version 4): its sale, and the device's time of it
/// (what counts for a draw's cutoff).
#[derive(Clone, Copy, Debug)]
pub struct RsuSaleRec {
    pub sale: SaleRec,
    /// The device time (`stamped`), in microseconds.
    pub device_time: i64,
}

/// A raffle's sales, online and RSU, each known by a position (a `u32`).
#[derive(Default)]
pub struct Sales {
    online: SaleList,
    /// RSU sales in the order they were logged.
    rsu: Vec<RsuSaleRec>,
    /// First draw number → index in `rsu`.
    rsu_by_first: BTreeMap<u64, u32>,
}

/// One sale as iterated: its position, record and device time (RSU only).
#[derive(Clone, Copy, Debug)]
pub struct Sold<'a> {
    pub pos: u32,
    pub sale: &'a SaleRec,
    pub device_time: Option<i64>,
}

impl Sold<'_> {
    /// Whether it counts for a draw cut off at `cutoff` (microseconds),
    /// frozen at leaf `frozen` if it is: an online sale when sequenced
    /// before the cutoff; an RSU sale when its device time is before the
    /// cutoff and it was sequenced before the freeze.
    pub fn counts_for(&self, cutoff: i64, frozen: Option<u64>) -> bool {
        match self.device_time {
            None => self.sale.sequenced < cutoff,
            Some(t) => t < cutoff && frozen.is_none_or(|f| self.sale.leaf < f),
        }
    }
}

impl Sales {
    /// The online sales, in number order.
    pub fn online(&self) -> &SaleList {
        &self.online
    }

    /// Every sale, online and RSU.
    pub fn len(&self) -> usize {
        self.online.len() + self.rsu.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position the next online sale takes.
    pub fn next_online(&self) -> u32 {
        self.online.len() as u32
    }

    /// Adds an online sale (numbers above every online sale's).
    pub fn push_online(&mut self, s: SaleRec) -> u32 {
        let pos = self.next_online();
        self.online.push(s);
        pos
    }

    /// The position the next RSU sale takes.
    pub fn next_rsu(&self) -> u32 {
        RSU_POSITION | self.rsu.len() as u32
    }

    /// Adds an RSU sale (its numbers are sold by no other sale).
    pub fn push_rsu(&mut self, s: RsuSaleRec) -> u32 {
        let pos = self.next_rsu();
        self.rsu_by_first.insert(s.sale.first, pos & !RSU_POSITION);
        self.rsu.push(s);
        pos
    }

    pub fn get(&self, pos: u32) -> &SaleRec {
        if pos & RSU_POSITION != 0 {
            &self.rsu[(pos & !RSU_POSITION) as usize].sale
        } else {
            self.online.get(pos as usize)
        }
    }

    pub fn get_mut(&mut self, pos: u32) -> &mut SaleRec {
        if pos & RSU_POSITION != 0 {
            &mut self.rsu[(pos & !RSU_POSITION) as usize].sale
        } else {
            self.online.get_mut(pos as usize)
        }
    }

    /// The sale at `pos`, as iterated.
    pub fn sold(&self, pos: u32) -> Sold<'_> {
        if pos & RSU_POSITION != 0 {
            let r = &self.rsu[(pos & !RSU_POSITION) as usize];
            Sold {
                pos,
                sale: &r.sale,
                device_time: Some(r.device_time),
            }
        } else {
            Sold {
                pos,
                sale: self.online.get(pos as usize),
                device_time: None,
            }
        }
    }

    /// Every sale in number order: the online ones and the RSU ones merged.
    pub fn in_number_order(&self) -> impl Iterator<Item = Sold<'_>> + '_ {
        let mut online = self
            .online
            .iter()
            .enumerate()
            .map(|(i, s)| Sold {
                pos: i as u32,
                sale: s,
                device_time: None,
            })
            .peekable();
        let mut rsu = self
            .rsu_by_first
            .values()
            .map(|&i| {
                let r = &self.rsu[i as usize];
                Sold {
                    pos: RSU_POSITION | i,
                    sale: &r.sale,
                    device_time: Some(r.device_time),
                }
            })
            .peekable();
        std::iter::from_fn(move || match (online.peek(), rsu.peek()) {
            (Some(a), Some(b)) if b.sale.first < a.sale.first => rsu.next(),
            (Some(_), _) => online.next(),
            (None, _) => rsu.next(),
        })
    }

    /// The sale holding draw number `number`; `count` gives a sale's
    /// number of draw numbers.
    pub fn holding(&self, number: u64, count: impl Fn(&SaleRec) -> u64) -> Option<u32> {
        let i = self
            .online
            .partition_point(|s| s.first + count(s) <= number);
        if i < self.online.len() && self.online.get(i).first <= number {
            return Some(i as u32);
        }
        let (_, &k) = self.rsu_by_first.range(..=number).next_back()?;
        let s = &self.rsu[k as usize].sale;
        (number < s.first + count(s)).then_some(RSU_POSITION | k)
    }
}

/// Most recent sales kept in the hash map before they join the sorted array.
const RECENT: usize = 1 << 16;

/// Sale id → position.
pub struct SaleIndex {
    key: RandomState,
    fingerprints: Vec<u64>,
    positions: Vec<u32>,
    recent: HashMap<u64, u32>,
    /// Ids whose fingerprint an earlier, different id already had.
    exact: HashMap<String, u32>,
}

impl Default for SaleIndex {
    fn default() -> Self {
        SaleIndex {
            key: RandomState::new(),
            fingerprints: Vec::new(),
            positions: Vec::new(),
            recent: HashMap::new(),
            exact: HashMap::new(),
        }
    }
}

/// Why a sale could not be indexed.
pub enum Duplicate {
    /// The same id was sold before, at this position.
    At(u32),
}

impl SaleIndex {
    fn fingerprint(&self, id: &str) -> u64 {
        self.key.hash_one(id)
    }

    fn by_fingerprint(&self, fp: u64) -> Option<u32> {
        if let Some(&p) = self.recent.get(&fp) {
            return Some(p);
        }
        self.fingerprints
            .binary_search(&fp)
            .ok()
            .map(|i| self.positions[i])
    }

    /// The position of sale `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.exact
            .get(id)
            .copied()
            .or_else(|| self.by_fingerprint(self.fingerprint(id)))
    }

    /// Indexes sale `id` at `position`. `id_at(p)` reads back the id of the
    /// sale at `p` (only when two fingerprints meet).
    pub fn insert(
        &mut self,
        id: &str,
        position: u32,
        id_at: impl Fn(u32) -> Option<String>,
    ) -> Result<(), Duplicate> {
        if let Some(&p) = self.exact.get(id) {
            return Err(Duplicate::At(p));
        }
        let fp = self.fingerprint(id);
        if let Some(p) = self.by_fingerprint(fp) {
            // The same id sold twice, or two ids with one fingerprint: the
            // log says which. An unreadable sale is taken as the same id,
            // the cautious answer (it is reported, not accepted).
            if id_at(p).is_none_or(|earlier| earlier == id) {
                return Err(Duplicate::At(p));
            }
            self.exact.insert(id.to_string(), position);
            return Ok(());
        }
        self.recent.insert(fp, position);
        if self.recent.len() >= RECENT {
            self.merge();
        }
        Ok(())
    }

    /// Moves the recent sales into the sorted array.
    fn merge(&mut self) {
        let mut recent: Vec<(u64, u32)> = self.recent.drain().collect();
        recent.sort_unstable();
        let n = self.fingerprints.len() + recent.len();
        let mut fps = Vec::with_capacity(n);
        let mut pos = Vec::with_capacity(n);
        let (mut i, mut j) = (0, 0);
        while i < self.fingerprints.len() || j < recent.len() {
            let take_old = j == recent.len()
                || (i < self.fingerprints.len() && self.fingerprints[i] < recent[j].0);
            if take_old {
                fps.push(self.fingerprints[i]);
                pos.push(self.positions[i]);
                i += 1;
            } else {
                fps.push(recent[j].0);
                pos.push(recent[j].1);
                j += 1;
            }
        }
        self.fingerprints = fps;
        self.positions = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(first: u64) -> SaleRec {
        SaleRec {
            first,
            sequenced: 0,
            leaf: 0,
            quantity: 1,
            package: 0,
            voided: false,
            refunded: false,
        }
    }

    #[test]
    fn the_list_finds_numbers_across_chunks() {
        let mut l = SaleList::default();
        for i in 0..(CHUNK as u64 * 2 + 10) {
            l.push(rec(i * 3));
        }
        for number in [
            0,
            2,
            3,
            3 * CHUNK as u64 - 1,
            3 * CHUNK as u64,
            6 * CHUNK as u64 + 29,
        ] {
            let i = l.partition_point(|s| s.first + 3 <= number);
            assert_eq!(l.get(i).first, number / 3 * 3, "{number}");
        }
        assert_eq!(l.partition_point(|s| s.first < u64::MAX), l.len());
        assert_eq!(l.iter().count(), l.len());
    }

    #[test]
    fn the_index_finds_every_sale_and_refuses_a_second_one() {
        let mut ix = SaleIndex::default();
        let ids: Vec<String> = (0..(RECENT as u32 * 2 + 7))
            .map(|i| format!("sale-{i}"))
            .collect();
        for (p, id) in ids.iter().enumerate() {
            assert!(
                ix.insert(id, p as u32, |q| Some(ids[q as usize].clone()))
                    .is_ok()
            );
        }
        for (p, id) in ids.iter().enumerate() {
            assert_eq!(ix.get(id), Some(p as u32), "{id}");
        }
        assert!(matches!(
            ix.insert(&ids[5], 99, |q| Some(ids[q as usize].clone())),
            Err(Duplicate::At(5))
        ));
        assert_eq!(ix.get("never sold"), None);
    }

    #[test]
    fn online_and_rsu_sales_merge_in_number_order() {
        let mut sales = Sales::default();
        // Online 1..3, numbers 4..103 allocated to a device, online 104...
        sales.push_online(rec(1));
        sales.push_online(rec(104));
        let a = sales.push_rsu(RsuSaleRec {
            sale: rec(10),
            device_time: 5,
        });
        let b = sales.push_rsu(RsuSaleRec {
            sale: rec(4),
            device_time: 3,
        });
        sales.push_online(rec(107));
        let order: Vec<u64> = sales.in_number_order().map(|s| s.sale.first).collect();
        assert_eq!(order, [1, 4, 10, 104, 107]);
        assert_eq!(sales.len(), 5);
        assert_eq!(sales.holding(5, |_| 3), Some(b));
        assert_eq!(sales.holding(12, |_| 3), Some(a));
        assert_eq!(sales.holding(13, |_| 3), None, "allocated, unsold");
        assert_eq!(sales.holding(105, |_| 3), Some(1));
        assert_eq!(sales.sold(a).device_time, Some(5));
        assert_eq!(sales.get(b).first, 4);
        sales.get_mut(a).voided = true;
        assert!(sales.get(a).voided);
        // An RSU sale counts by its device time and the freeze.
        let mut s = rec(4);
        s.leaf = 9;
        s.sequenced = 100;
        let sold = Sold {
            pos: b,
            sale: &s,
            device_time: Some(3),
        };
        assert!(sold.counts_for(4, None) && sold.counts_for(4, Some(10)));
        assert!(!sold.counts_for(3, None) && !sold.counts_for(4, Some(9)));
        let online = Sold {
            pos: 0,
            sale: &s,
            device_time: None,
        };
        assert!(!online.counts_for(100, None) && online.counts_for(101, Some(0)));
    }

    #[test]
    fn two_ids_with_one_fingerprint_are_told_apart() {
        let mut ix = SaleIndex::default();
        let fp = ix.fingerprint("a");
        // Force a meeting: pretend "b" arrives while "a"'s fingerprint is
        // indexed at a position whose sale reads back as "a".
        ix.recent.insert(fp, 0);
        ix.exact.clear();
        let b_fp = ix.fingerprint("b");
        ix.recent.insert(b_fp, 0);
        assert!(ix.insert("b", 1, |_| Some("a".into())).is_ok());
        assert_eq!(ix.get("b"), Some(1));
        assert!(matches!(
            ix.insert("b", 2, |_| Some("a".into())),
            Err(Duplicate::At(1))
        ));
    }
}
