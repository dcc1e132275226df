//! Verifying a whole published log from its files, the way an auditor does:
//! the checkpoint's signature; every entry bundle hashed and checked against
//! its level-0 tile; every full tile hashed and checked against the level
//! above; and the root recomputed from the tiles equal to the signed root.
//!
//! Memory is O(n / 256) hashes (the tile hashes one level up); the level-0
//! work, which is nearly all of it, is split across threads.

use crate::checkpoint::SignedCheckpoint;
use crate::hash::{Hash, leaf_hash, perfect_subtree_hash};
use crate::key::NoteVerifier;
use crate::store::{
    CHECKPOINT_PATH, TileStorage, read_entry_bundle_bytes, read_hash_tile, root_from_edges,
};
use crate::tile::{TILE_WIDTH, TileId, parse_entry_bundle};
use crate::{Error, Result};

/// What a successful check covered.
#[derive(Clone, Debug)]
pub struct FsckReport {
    pub checkpoint: SignedCheckpoint,
    /// Entries hashed and checked.
    pub entries: u64,
    /// Hash tiles read and checked.
    pub tiles: u64,
}

/// Verifies the log in `storage` against `log_key`, using `threads` threads.
pub fn verify_log<S: TileStorage + Sync + ?Sized>(
    storage: &S,
    log_key: &NoteVerifier,
    threads: usize,
) -> Result<FsckReport> {
    let note = storage
        .read(CHECKPOINT_PATH)?
        .ok_or_else(|| Error::Missing("checkpoint".into()))?;
    let checkpoint = SignedCheckpoint::open(&note, log_key, &[])?;
    let size = checkpoint.checkpoint.size;

    // Level 0, in parallel: each bundle's entries against its level-0 tile.
    let bundles = size.div_ceil(TILE_WIDTH);
    let threads = threads.clamp(1, 64) as u64;
    let per_thread = bundles.div_ceil(threads).max(1);
    let results: Vec<Result<(Vec<Hash>, Vec<Hash>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start, end) = (t * per_thread, ((t + 1) * per_thread).min(bundles));
                scope.spawn(move || check_level0(storage, size, start, end))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fsck thread panicked"))
            .collect()
    });
    // `up` holds the hashes of the next level: the MTH of every full tile below.
    let mut up: Vec<Hash> = Vec::new();
    let mut edges: Vec<Vec<Hash>> = vec![Vec::new()];
    for r in results {
        let (full, partial) = r?;
        up.extend(full);
        if !partial.is_empty() {
            edges[0] = partial;
        }
    }
    let mut tiles = bundles;
    let mut level = 0u8;
    while !up.is_empty() {
        level += 1;
        for (i, chunk) in up.chunks(TILE_WIDTH as usize).enumerate() {
            let id = TileId::hashes(level, i as u64, chunk.len() as u16);
            let stored = read_hash_tile(storage, &id)?;
            if stored != chunk {
                let pos = stored
                    .iter()
                    .zip(chunk)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(Error::Verification(format!(
                    "tile {id}: hash {pos} does not match the tiles below it"
                )));
            }
            tiles += 1;
        }
        let full = up.len() - up.len() % TILE_WIDTH as usize;
        edges.push(up[full..].to_vec());
        up = up[..full]
            .chunks_exact(TILE_WIDTH as usize)
            .map(perfect_subtree_hash)
            .collect();
    }
    let root = root_from_edges(&edges);
    if root != checkpoint.checkpoint.root {
        return Err(Error::Verification(format!(
            "the root recomputed from the tiles ({root}) is not the signed root ({}) of size {size}",
            checkpoint.checkpoint.root
        )));
    }
    Ok(FsckReport {
        checkpoint,
        entries: size,
        tiles,
    })
}

/// Checks bundles `start..end` against their level-0 tiles. Returns the
/// hash of each full tile, and the leaf hashes of the partial one.
fn check_level0<S: TileStorage + ?Sized>(
    storage: &S,
    size: u64,
    start: u64,
    end: u64,
) -> Result<(Vec<Hash>, Vec<Hash>)> {
    let mut full = Vec::with_capacity(end.saturating_sub(start) as usize);
    let mut partial = Vec::new();
    for n in start..end {
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
        let (read_id, data) = read_entry_bundle_bytes(storage, &TileId::entries(n, width))?;
        let bundle = parse_entry_bundle(&read_id, &data)?;
        let tile = read_hash_tile(storage, &TileId::hashes(0, n, width))?;
        for (i, (entry, stored)) in bundle
            .iter()
            .take(usize::from(width))
            .zip(&tile)
            .enumerate()
        {
            let h = leaf_hash(entry);
            if h != *stored {
                return Err(Error::Verification(format!(
                    "entry {} does not hash to its level-0 tile hash",
                    n * TILE_WIDTH + i as u64
                )));
            }
        }
        if u64::from(width) == TILE_WIDTH {
            full.push(perfect_subtree_hash(&tile));
        } else {
            partial = tile;
        }
    }
    Ok((full, partial))
}
