//! Reading a whole published log in order, verifying it as it goes.
//!
//! Every entry bundle is hashed against its level-0 tile; every full tile
//! is hashed against the level above as soon as that level's tile fills;
//! at the end the partial tiles are checked and the root recomputed from
//! them must equal the signed root. Entries reach the caller in leaf order,
//! one bundle at a time, only after their bundle matched its tile.
//!
//! Memory is bounded: a reader thread fetches and hashes up to
//! [`PREFETCH`] bundles ahead, and each tree level keeps at most one tile's
//! worth (256) of hashes, so the walk's memory does not grow with the log.

use crate::source::Source;
use crate::{Error, Result};
use std::sync::mpsc;
use transparency::hash::{Hash, leaf_hash, perfect_subtree_hash};
use transparency::store::{read_entry_bundle_bytes, read_hash_tile, root_from_edges};
use transparency::tile::{TILE_WIDTH, TileId, hashes_at_level, parse_entry_bundle};

/// Bundles fetched ahead of the rule checks.
pub const PREFETCH: usize = 32;

/// One verified bundle: the leaf index of its first entry and its entries.
pub struct Bundle {
    pub first: u64,
    pub entries: Vec<Vec<u8>>,
}

/// Walks the log of `size` entries whose signed root is `root`, calling
/// `each` for every bundle in order. Fails on the first file that does not
/// verify, naming it; `each` may stop the walk by returning an error.
pub fn walk(
    source: &Source,
    size: u64,
    root: Hash,
    mut each: impl FnMut(Bundle) -> Result<()>,
) -> Result<()> {
    let bundles = size.div_ceil(TILE_WIDTH);
    // Readers k = 0..K each fetch and hash bundles k, k + K, k + 2K, ...
    // into a channel of their own; taking from the channels in turn gives
    // the bundles back in order. Several readers hide a remote log's
    // round trips; on a local disk they hash while the rules are checked.
    let readers = source.readers();
    let depth = PREFETCH.div_ceil(readers);
    std::thread::scope(|scope| {
        let mut channels = Vec::with_capacity(readers);
        for k in 0..readers {
            let (tx, rx) = mpsc::sync_channel::<Result<(Bundle, Vec<Hash>)>>(depth);
            channels.push(rx);
            scope.spawn(move || {
                for n in (k as u64..bundles).step_by(readers) {
                    let r = read_bundle(source, size, n);
                    let stop = r.is_err();
                    if tx.send(r).is_err() || stop {
                        return;
                    }
                }
            });
        }
        let mut in_order = (0..bundles).map(|n| {
            channels[(n % readers as u64) as usize]
                .recv()
                .map_err(|_| Error::Source(format!("reading entry bundle {n} stopped")))
                .and_then(|r| r)
        });
        let mut levels = Levels::default();
        let mut partial_leaves: Vec<Hash> = Vec::new();
        for received in &mut in_order {
            let (bundle, leaves) = received?;
            if leaves.len() as u64 == TILE_WIDTH {
                levels.push_full(source, 0, perfect_subtree_hash(&leaves))?;
            } else {
                partial_leaves = leaves;
            }
            each(bundle)?;
        }
        // The right edge: the partial tile at each level.
        let mut edges = vec![partial_leaves];
        for (l, pending) in levels.pending.iter().enumerate() {
            let level = l as u8 + 1;
            if !pending.is_empty() {
                let index = hashes_at_level(size, level) / TILE_WIDTH;
                let id = TileId::hashes(level, index, pending.len() as u16);
                let stored = read_hash_tile(source, &id)?;
                check_tile(&id, &stored, pending)?;
            }
            edges.push(pending.clone());
        }
        let computed = root_from_edges(&edges);
        if computed != root {
            return Err(Error::Log(transparency::Error::Verification(format!(
                "the root recomputed from the tiles ({computed}) is not the signed root ({root}) of size {size}"
            ))));
        }
        Ok(())
    })
}

/// Reads bundle `n` and its level-0 tile and checks every entry's hash.
fn read_bundle(source: &Source, size: u64, n: u64) -> Result<(Bundle, Vec<Hash>)> {
    let width = (size - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
    let (read_id, data) = read_entry_bundle_bytes(source, &TileId::entries(n, width))?;
    let entries = parse_entry_bundle(&read_id, &data)?;
    if entries.len() < usize::from(width) {
        return Err(Error::Log(transparency::Error::Verification(format!(
            "entry bundle {read_id} holds {} entries, the checkpoint needs {width}",
            entries.len()
        ))));
    }
    let tile = read_hash_tile(source, &TileId::hashes(0, n, width))?;
    for (i, (entry, stored)) in entries.iter().zip(&tile).enumerate() {
        if leaf_hash(entry) != *stored {
            return Err(Error::Log(transparency::Error::Verification(format!(
                "entry {} (in bundle {read_id}) does not hash to its level-0 tile hash",
                n * TILE_WIDTH + i as u64
            ))));
        }
    }
    let bundle = Bundle {
        first: n * TILE_WIDTH,
        entries: entries[..usize::from(width)]
            .iter()
            .map(|e| e.to_vec())
            .collect(),
    };
    Ok((bundle, tile))
}

/// The tiles above level 0 being rebuilt: at each level, the hashes of
/// full tiles below not yet grouped into a full tile, and how many full
/// tiles of that level were checked so far.
#[derive(Default)]
struct Levels {
    pending: Vec<Vec<Hash>>,
    checked: Vec<u64>,
}

impl Levels {
    /// Adds the hash of a full tile at `level` and checks the tile above
    /// whenever it has a full tile's worth.
    fn push_full(&mut self, source: &Source, level: usize, hash: Hash) -> Result<()> {
        if self.pending.len() <= level {
            self.pending.push(Vec::new());
            self.checked.push(0);
        }
        self.pending[level].push(hash);
        if self.pending[level].len() as u64 == TILE_WIDTH {
            let id = TileId::hashes(level as u8 + 1, self.checked[level], TILE_WIDTH as u16);
            let stored = read_hash_tile(source, &id)?;
            check_tile(&id, &stored, &self.pending[level])?;
            let up = perfect_subtree_hash(&self.pending[level]);
            self.pending[level].clear();
            self.checked[level] += 1;
            self.push_full(source, level + 1, up)?;
        }
        Ok(())
    }
}

fn check_tile(id: &TileId, stored: &[Hash], computed: &[Hash]) -> Result<()> {
    if stored != computed {
        let pos = stored
            .iter()
            .zip(computed)
            .position(|(a, b)| a != b)
            .unwrap_or(stored.len().min(computed.len()));
        return Err(Error::Log(transparency::Error::Verification(format!(
            "tile {id}: hash {pos} does not match the tiles below it"
        ))));
    }
    Ok(())
}
