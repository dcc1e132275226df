//! Writing a tiled log after each append, and reading it back to compute any
//! root or proof (c2sp.org/tlog-tiles).
//!
//! Durability contract: the [`Appender`] writes every new or grown entry
//! bundle and hash tile of a batch, then calls [`TileStorage::sync`]; only
//! after that may a checkpoint covering the batch be written
//! ([`Appender::publish_checkpoint`]), which is synced in turn. So a
//! published checkpoint never refers to tiles that are not durable.
//!
//! After a crash, tiles beyond the last checkpoint may exist; they are
//! rewritten (whole-file replace) when those positions are appended again,
//! so the log resumes from its last checkpoint with [`Appender::open`].
//!
//! The appender keeps only the right edge of the tree in memory (the partial
//! tile of each level and the partial entry bundle): O(log n) memory.

use crate::checkpoint::Checkpoint;
use crate::hash::{Hash, leaf_hash, node_hash, perfect_subtree_hash};
use crate::note::Note;
use crate::tile::{
    TILE_HEIGHT, TILE_WIDTH, TileId, TileLevel, hashes_at_level, parse_entry_bundle,
    parse_hash_tile, push_bundle_entry, tile_for,
};
use crate::tree::HashSource;
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Path of the checkpoint, relative to the log prefix.
pub const CHECKPOINT_PATH: &str = "checkpoint";

/// A place where the log's files live (a directory, an S3 bucket...).
///
/// Implementations guarantee: `write` replaces a file atomically (readers see
/// the old or the new content, never a mix); once `sync` returns, every
/// earlier `write` is durable. `read` of a file that does not exist is `Ok(None)`.
pub trait TileStorage {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;
    fn write(&self, path: &str, data: &[u8]) -> Result<()>;
    fn sync(&self) -> Result<()>;

    /// Writes several files, each with the guarantees of `write`; an
    /// implementation may write them concurrently. On error some may have
    /// been written.
    fn write_many(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        for (path, data) in files {
            self.write(path, data)?;
        }
        Ok(())
    }
}

/// A local directory: each write goes to a temporary file that is renamed
/// into place. With `fsync`, files are fsynced before the rename and their
/// directories on [`TileStorage::sync`].
#[derive(Debug)]
pub struct DirStorage {
    root: PathBuf,
    fsync: bool,
    made_dirs: Mutex<HashSet<PathBuf>>,
    dirty_dirs: Mutex<HashSet<PathBuf>>,
}

impl DirStorage {
    /// Opens (and creates) the directory.
    pub fn new(root: impl Into<PathBuf>, fsync: bool) -> Result<DirStorage> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        Ok(DirStorage {
            root,
            fsync,
            made_dirs: Mutex::new(HashSet::new()),
            dirty_dirs: Mutex::new(HashSet::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full_path(&self, path: &str) -> Result<PathBuf> {
        if path.is_empty()
            || path.starts_with('/')
            || path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::InvalidArgument(format!(
                "unsafe storage path {path:?}"
            )));
        }
        Ok(self.root.join(path))
    }

    fn make_parent(&self, file: &Path) -> Result<()> {
        let parent = file.parent().expect("a file below the root has a parent");
        let mut made = self.made_dirs.lock().expect("lock");
        if made.contains(parent) {
            return Ok(());
        }
        // Remember every directory that create_dir_all may create, so that its
        // own parent entry is fsynced too.
        let mut dir = parent;
        let mut dirty = self.dirty_dirs.lock().expect("lock");
        while dir != self.root && !dir.exists() {
            dirty.insert(dir.parent().expect("below root").to_path_buf());
            dir = dir.parent().expect("below root");
        }
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        made.insert(parent.to_path_buf());
        Ok(())
    }
}

impl TileStorage for DirStorage {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let full = self.full_path(path)?;
        match fs::read(&full) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(full, e)),
        }
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let full = self.full_path(path)?;
        self.make_parent(&full)?;
        let mut tmp = full.clone().into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut f = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
        if self.fsync {
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        drop(f);
        fs::rename(&tmp, &full).map_err(|e| Error::io(&full, e))?;
        if self.fsync {
            self.dirty_dirs
                .lock()
                .expect("lock")
                .insert(full.parent().expect("parent").to_path_buf());
        }
        Ok(())
    }

    /// Creating files dominates appends (inode allocation in the kernel),
    /// so a batch's files are written by two threads.
    fn write_many(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        if files.len() < 4 {
            for (path, data) in files {
                self.write(path, data)?;
            }
            return Ok(());
        }
        let (a, b) = files.split_at(files.len() / 2);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| a.iter().try_for_each(|(p, d)| self.write(p, d)));
            let mine = b.iter().try_for_each(|(p, d)| self.write(p, d));
            other.join().expect("writer thread panicked").and(mine)
        })
    }

    fn sync(&self) -> Result<()> {
        if !self.fsync {
            return Ok(());
        }
        let dirs: Vec<PathBuf> = self.dirty_dirs.lock().expect("lock").drain().collect();
        for dir in dirs {
            fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(&dir, e))?;
        }
        Ok(())
    }
}

/// Reads a hash tile for a tree that has it at `id.width`, falling back to
/// the full tile's prefix when the partial one was deleted (tlog-tiles allows it).
pub fn read_hash_tile<S: TileStorage + ?Sized>(storage: &S, id: &TileId) -> Result<Vec<Hash>> {
    match storage.read(&id.path())? {
        Some(data) => parse_hash_tile(id, &data),
        None if !id.is_full() => match storage.read(&id.full().path())? {
            Some(data) => Ok(parse_hash_tile(&id.full(), &data)?[..usize::from(id.width)].to_vec()),
            None => Err(Error::Missing(format!("tile {id}"))),
        },
        None => Err(Error::Missing(format!("tile {id}"))),
    }
}

/// Reads an entry bundle's raw bytes, with the same fallback as
/// [`read_hash_tile`]. Returns the tile actually read (the full one when the
/// partial one is gone) with its bytes; parse them with
/// [`crate::tile::parse_entry_bundle`] and keep the first `id.width` entries.
pub fn read_entry_bundle_bytes<S: TileStorage + ?Sized>(
    storage: &S,
    id: &TileId,
) -> Result<(TileId, Vec<u8>)> {
    if let Some(data) = storage.read(&id.path())? {
        return Ok((*id, data));
    }
    if !id.is_full()
        && let Some(data) = storage.read(&id.full().path())?
    {
        return Ok((id.full(), data));
    }
    Err(Error::Missing(format!("entry bundle {id}")))
}

/// Reads the entries of an entry bundle.
pub fn read_entry_bundle<S: TileStorage + ?Sized>(
    storage: &S,
    id: &TileId,
) -> Result<Vec<Vec<u8>>> {
    let (read_id, data) = read_entry_bundle_bytes(storage, id)?;
    let entries = parse_entry_bundle(&read_id, &data)?;
    Ok(entries[..usize::from(id.width)]
        .iter()
        .map(|e| e.to_vec())
        .collect())
}

/// Reads the entry at `index` of a tree of `size` leaves.
pub fn read_entry<S: TileStorage + ?Sized>(storage: &S, index: u64, size: u64) -> Result<Vec<u8>> {
    if index >= size {
        return Err(Error::InvalidArgument(format!(
            "entry {index} is beyond tree size {size}"
        )));
    }
    let id = tile_for(TileLevel::Entries, index, size);
    let mut entries = read_entry_bundle(storage, &id)?;
    Ok(entries.swap_remove((index % TILE_WIDTH) as usize))
}

/// The root of a tree whose right edge is `edges[l]` (the hashes of the
/// partial tile at each level l, each covering 256^l leaves).
pub fn root_from_edges(edges: &[Vec<Hash>]) -> Hash {
    let mut parts: Vec<Hash> = Vec::new();
    for edge in edges.iter().rev() {
        let mut start = 0;
        let mut remaining = edge.len();
        while remaining > 0 {
            let chunk = 1usize << (usize::BITS - 1 - remaining.leading_zeros());
            parts.push(perfect_subtree_hash(&edge[start..start + chunk]));
            start += chunk;
            remaining -= chunk;
        }
    }
    let Some(mut acc) = parts.pop() else {
        return crate::hash::EMPTY_ROOT;
    };
    while let Some(left) = parts.pop() {
        acc = node_hash(&left, &acc);
    }
    acc
}

/// The single writer of a tiled log.
pub struct Appender<S: TileStorage> {
    storage: S,
    size: u64,
    /// Hashes of the partial tile at each level (fewer than 256 each).
    edges: Vec<Vec<Hash>>,
    /// The encoded partial entry bundle (fewer than 256 entries).
    bundle: Vec<u8>,
    /// Set when a write failed part-way: the in-memory edge may be ahead of
    /// the storage, so the appender refuses further work and must be
    /// reopened from the last published checkpoint.
    failed: bool,
}

impl<S: TileStorage> Appender<S> {
    /// A new, empty log.
    pub fn create(storage: S) -> Appender<S> {
        Appender {
            storage,
            size: 0,
            edges: vec![Vec::new()],
            bundle: Vec::new(),
            failed: false,
        }
    }

    /// Resumes a log of `size` entries from its stored tiles. The caller
    /// should compare [`Appender::root`] with its last signed checkpoint.
    pub fn open(storage: S, size: u64) -> Result<Appender<S>> {
        let mut edges = vec![Vec::new()];
        let mut level = 0u8;
        while hashes_at_level(size, level) > 0 {
            let count = hashes_at_level(size, level);
            let width = count % TILE_WIDTH;
            let edge = if width == 0 {
                Vec::new()
            } else {
                read_hash_tile(
                    &storage,
                    &TileId::hashes(level, count / TILE_WIDTH, width as u16),
                )?
            };
            if usize::from(level) < edges.len() {
                edges[usize::from(level)] = edge;
            } else {
                edges.push(edge);
            }
            level += 1;
        }
        let mut bundle = Vec::new();
        if !size.is_multiple_of(TILE_WIDTH) {
            let id = TileId::entries(size / TILE_WIDTH, (size % TILE_WIDTH) as u16);
            for (i, entry) in read_entry_bundle(&storage, &id)?.iter().enumerate() {
                if leaf_hash(entry) != edges[0][i] {
                    return Err(Error::Verification(format!(
                        "entry {} in {id} does not match its level-0 tile",
                        size - size % TILE_WIDTH + i as u64
                    )));
                }
                push_bundle_entry(&mut bundle, entry)?;
            }
        }
        Ok(Appender {
            storage,
            size,
            edges,
            bundle,
            failed: false,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The root of the tree at its current size.
    pub fn root(&self) -> Hash {
        root_from_edges(&self.edges)
    }

    /// Appends a batch of entries (each at most 65,535 bytes), writes every
    /// tile and bundle it touches, and syncs the storage. Returns the index
    /// of the first entry. Nothing is appended if any entry is too large.
    pub fn append<E: AsRef<[u8]>>(&mut self, entries: &[E]) -> Result<u64> {
        if self.failed {
            return Err(Error::Inconsistent(
                "an earlier append failed; reopen the log from its last checkpoint".into(),
            ));
        }
        if let Some(e) = entries
            .iter()
            .find(|e| e.as_ref().len() > crate::tile::MAX_ENTRY_SIZE)
        {
            return Err(Error::InvalidArgument(format!(
                "entry of {} bytes exceeds the {}-byte limit",
                e.as_ref().len(),
                crate::tile::MAX_ENTRY_SIZE
            )));
        }
        self.failed = true;
        let first = self.size;
        let mut touched: Vec<u8> = vec![0]; // levels whose partial tile changed
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for entry in entries {
            push_bundle_entry(&mut self.bundle, entry.as_ref())?;
            let bundle_index = self.size / TILE_WIDTH;
            self.size += 1;
            self.edges[0].push(leaf_hash(entry.as_ref()));
            if self.edges[0].len() as u64 == TILE_WIDTH {
                let bundle = std::mem::take(&mut self.bundle);
                files.push((
                    TileId::entries(bundle_index, TILE_WIDTH as u16).path(),
                    bundle,
                ));
            }
            // Carry full tiles upwards.
            let mut level = 0usize;
            while self.edges[level].len() as u64 == TILE_WIDTH {
                let full = std::mem::take(&mut self.edges[level]);
                let index = hashes_at_level(self.size, level as u8) / TILE_WIDTH - 1;
                files.push((
                    TileId::hashes(level as u8, index, TILE_WIDTH as u16).path(),
                    tile_bytes(&full),
                ));
                let up = perfect_subtree_hash(&full);
                if self.edges.len() == level + 1 {
                    self.edges.push(Vec::new());
                }
                self.edges[level + 1].push(up);
                level += 1;
                if !touched.contains(&(level as u8)) {
                    touched.push(level as u8);
                }
            }
        }
        if !entries.is_empty() {
            // The partial tiles of this size.
            for &level in &touched {
                let edge = &self.edges[usize::from(level)];
                if !edge.is_empty() {
                    let index = hashes_at_level(self.size, level) / TILE_WIDTH;
                    let id = TileId::hashes(level, index, edge.len() as u16);
                    files.push((id.path(), tile_bytes(edge)));
                }
            }
            if !self.bundle.is_empty() {
                let id = TileId::entries(self.size / TILE_WIDTH, self.edges[0].len() as u16);
                files.push((id.path(), self.bundle.clone()));
            }
        }
        self.storage.write_many(&files)?;
        self.storage.sync()?;
        self.failed = false;
        Ok(first)
    }

    /// The (unsigned) checkpoint of the current tree.
    pub fn checkpoint(&self, origin: &str) -> Checkpoint {
        Checkpoint::new(origin, self.size, self.root())
    }

    /// Writes a signed checkpoint note, after the tiles it covers are
    /// durable, and syncs it.
    pub fn publish_checkpoint(&self, note: &Note) -> Result<()> {
        if self.failed {
            return Err(Error::Inconsistent(
                "an earlier append failed; nothing may be published".into(),
            ));
        }
        let cp = Checkpoint::parse_text(note.text())?;
        if cp.size != self.size || cp.root != self.root() {
            return Err(Error::Inconsistent(format!(
                "refusing to publish a checkpoint of size {} that is not the current tree (size {})",
                cp.size, self.size
            )));
        }
        self.storage.write(CHECKPOINT_PATH, &note.to_bytes())?;
        self.storage.sync()
    }
}

fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Hashes of a tree of `size` leaves, read from stored tiles on demand (and
/// cached), for computing roots and proofs. Tiles are untrusted input: check
/// [`crate::tree::root`] of this source against a signed checkpoint before
/// relying on anything else it yields.
pub struct TileHashSource<'a, S: TileStorage + ?Sized> {
    storage: &'a S,
    size: u64,
    /// Each tile read, with the binary tree above its hashes: `levels[k]`
    /// holds the subtrees of 2^k of its hashes (complete ones only), so a
    /// proof costs lookups, not re-hashing.
    cache: RefCell<HashMap<TileId, Vec<Vec<Hash>>>>,
}

impl<'a, S: TileStorage + ?Sized> TileHashSource<'a, S> {
    pub fn new(storage: &'a S, size: u64) -> Self {
        TileHashSource {
            storage,
            size,
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

impl<S: TileStorage + ?Sized> HashSource for TileHashSource<'_, S> {
    fn subtree(&self, height: u8, index: u64) -> Result<Hash> {
        let level = u32::from(height) / TILE_HEIGHT;
        let within = u32::from(height) % TILE_HEIGHT;
        let first = index
            .checked_shl(within)
            .filter(|f| f.checked_shr(within) == Some(index))
            .ok_or_else(|| Error::InvalidArgument(format!("subtree index {index} overflows")))?;
        let count = 1u64 << within;
        if level > 7 || first + count > hashes_at_level(self.size, level as u8) {
            return Err(Error::InvalidArgument(format!(
                "subtree of height {height} at {index} is not complete in a tree of size {}",
                self.size
            )));
        }
        let id = tile_for(TileLevel::Hashes(level as u8), first, self.size);
        let mut cache = self.cache.borrow_mut();
        let levels = match cache.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut levels = vec![read_hash_tile(self.storage, &id)?];
                while levels.last().is_some_and(|l| l.len() >= 2) {
                    let up: Vec<Hash> = levels
                        .last()
                        .expect("non-empty")
                        .chunks_exact(2)
                        .map(|p| node_hash(&p[0], &p[1]))
                        .collect();
                    levels.push(up);
                }
                e.insert(levels)
            }
        };
        let start = (first % TILE_WIDTH) as usize;
        debug_assert_eq!(count, 1 << within);
        levels
            .get(within as usize)
            .and_then(|l| l.get(start >> within))
            .copied()
            .ok_or_else(|| {
                Error::Missing(format!(
                    "subtree of height {height} at {index} in tile {id}"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
    use crate::tree::{MemoryTree, root};

    #[test]
    fn stored_tiles_yield_every_root_and_proof_of_the_memory_tree() {
        let dir = tempfile::tempdir().unwrap();
        let storage = DirStorage::new(dir.path(), false).unwrap();
        let mut appender = Appender::create(storage);
        let mut mem = MemoryTree::new();
        let mut sizes = vec![0u64];
        let mut n = 0u32;
        for batch in [1usize, 3, 250, 2, 256, 1000, 70, 511, 1] {
            let entries: Vec<Vec<u8>> = (0..batch)
                .map(|_| {
                    n += 1;
                    format!("entry {n}").into_bytes()
                })
                .collect();
            appender.append(&entries).unwrap();
            for e in &entries {
                mem.append(e);
            }
            assert_eq!(appender.root(), mem.root(), "size {}", mem.size());
            sizes.push(mem.size());
        }
        let storage = appender.storage();
        for &size in &sizes {
            let src = TileHashSource::new(storage, size);
            assert_eq!(
                root(&src, size).unwrap(),
                mem.root_at(size).unwrap(),
                "size {size}"
            );
            for index in [0, size / 3, size.saturating_sub(1)] {
                if index < size {
                    let p = inclusion_proof(&src, index, size).unwrap();
                    assert_eq!(p, inclusion_proof(&mem, index, size).unwrap());
                    let entry = read_entry(storage, index, size).unwrap();
                    verify_inclusion(
                        index,
                        size,
                        leaf_hash(&entry),
                        &p,
                        mem.root_at(size).unwrap(),
                    )
                    .unwrap();
                }
            }
            for &old in &sizes {
                if old > 0 && old <= size {
                    let p = consistency_proof(&src, old, size).unwrap();
                    verify_consistency(
                        old,
                        size,
                        &p,
                        mem.root_at(old).unwrap(),
                        mem.root_at(size).unwrap(),
                    )
                    .unwrap();
                }
            }
        }
        // Reopening at the final size resumes the same tree.
        let size = mem.size();
        let storage = DirStorage::new(dir.path(), false).unwrap();
        let mut reopened = Appender::open(storage, size).unwrap();
        assert_eq!(reopened.root(), mem.root());
        reopened.append(&[b"more"]).unwrap();
        mem.append(b"more");
        assert_eq!(reopened.root(), mem.root());
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let storage = DirStorage::new(dir.path(), false).unwrap();
        for p in ["../x", "/etc/passwd", "a//b", "a/./b", ""] {
            assert!(storage.write(p, b"x").is_err(), "{p}");
        }
    }
}
