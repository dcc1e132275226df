//! c2sp.org/tlog-tiles: tile coordinates and paths, hash tiles and entry bundles.
//!
//! Tiles have height 8: a full tile holds 256 hashes (8,192 bytes). The tile
//! at level L, index N holds MTH(D[(N·256 + i)·256^L .. (N·256 + i + 1)·256^L])
//! for i in 0..W. Paths are `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`,
//! N written in 3-digit groups (`x001/x234/067`). Unlike Go's sumdb paths,
//! C2SP paths carry no tile height.

use crate::hash::{HASH_SIZE, Hash};
use crate::{Error, Result};
use std::fmt;

/// Tile height in tree levels.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile, entries in a full bundle.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Largest entry an entry bundle can carry (uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Which kind of tile: hashes at a level, or the entries themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileLevel {
    /// A hash tile at level 0..=63.
    Hashes(u8),
    /// An entry bundle (parallel to level-0 hash tiles).
    Entries,
}

/// The coordinates of one tile or entry bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub level: TileLevel,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes (or entries): 1..=256; 256 is a full tile.
    pub width: u16,
}

impl TileId {
    pub fn hashes(level: u8, index: u64, width: u16) -> TileId {
        TileId {
            level: TileLevel::Hashes(level),
            index,
            width,
        }
    }

    pub fn entries(index: u64, width: u16) -> TileId {
        TileId {
            level: TileLevel::Entries,
            index,
            width,
        }
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The same tile at full width.
    pub fn full(&self) -> TileId {
        TileId {
            width: TILE_WIDTH as u16,
            ..*self
        }
    }

    /// The C2SP path of this tile, relative to the log prefix.
    pub fn path(&self) -> String {
        let level = match self.level {
            TileLevel::Hashes(l) => l.to_string(),
            TileLevel::Entries => "entries".to_string(),
        };
        let mut path = format!("tile/{level}/{}", encode_index(self.index));
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// Parses a C2SP tile path, accepting only its canonical form.
    pub fn parse_path(path: &str) -> Result<TileId> {
        let bad = |reason: &str| Error::malformed("tile path", format!("{path:?}: {reason}"));
        if path.len() > 128 {
            return Err(bad("too long"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("does not start with tile/"))?;
        let (level_str, rest) = rest.split_once('/').ok_or_else(|| bad("no index"))?;
        let level = if level_str == "entries" {
            TileLevel::Entries
        } else {
            let l = parse_decimal(level_str).ok_or_else(|| bad("level is not a decimal number"))?;
            if l > 63 {
                return Err(bad("level is above 63"));
            }
            TileLevel::Hashes(l as u8)
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((idx, w)) => {
                let w =
                    parse_decimal(w).ok_or_else(|| bad("partial width is not a decimal number"))?;
                if !(1..TILE_WIDTH).contains(&w) {
                    return Err(bad("partial width must be 1 to 255"));
                }
                (idx, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let mut index: u64 = 0;
        let groups: Vec<&str> = index_str.split('/').collect();
        for (i, group) in groups.iter().enumerate() {
            let last = i == groups.len() - 1;
            let digits = if last {
                *group
            } else {
                group
                    .strip_prefix('x')
                    .ok_or_else(|| bad("inner index groups must start with x"))?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("index groups must be three digits"));
            }
            let d: u64 = digits
                .parse()
                .map_err(|_| bad("index group is not a number"))?;
            index = index
                .checked_mul(1000)
                .and_then(|v| v.checked_add(d))
                .ok_or_else(|| bad("index overflows 64 bits"))?;
        }
        let id = TileId {
            level,
            index,
            width,
        };
        if id.path() != path {
            return Err(bad("not the canonical encoding"));
        }
        Ok(id)
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// `1234067` → `x001/x234/067`.
fn encode_index(mut n: u64) -> String {
    let mut s = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        s = format!("x{:03}/{s}", n % 1000);
    }
    s
}

/// A decimal ASCII number without leading zeroes (except "0" itself).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Number of hashes at tile level `level` for a tree of `size` leaves
/// (each covering 256^level leaves).
pub fn hashes_at_level(size: u64, level: u8) -> u64 {
    let shift = TILE_HEIGHT * u32::from(level);
    if shift >= 64 { 0 } else { size >> shift }
}

/// The tile at `level` holding hash number `n` of that level, for a tree of
/// `size` leaves (full, or partial at the right edge).
pub fn tile_for(level: TileLevel, n: u64, size: u64) -> TileId {
    let count = match level {
        TileLevel::Hashes(l) => hashes_at_level(size, l),
        TileLevel::Entries => size,
    };
    let index = n / TILE_WIDTH;
    let width = (count - index * TILE_WIDTH).min(TILE_WIDTH) as u16;
    TileId {
        level,
        index,
        width,
    }
}

/// The hash tiles whose contents differ between a tree of `old_size` and one
/// of `new_size` leaves: every tile that must be written after an append.
/// (The entry bundles to write are the level-0 tiles' twins.)
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<TileId> {
    let mut tiles = Vec::new();
    for level in 0u8..64 {
        let (a, b) = (
            hashes_at_level(old_size, level),
            hashes_at_level(new_size, level),
        );
        if a == b {
            break;
        }
        for index in a / TILE_WIDTH..=(b - 1) / TILE_WIDTH {
            let width = (b - index * TILE_WIDTH).min(TILE_WIDTH) as u16;
            tiles.push(TileId::hashes(level, index, width));
        }
    }
    tiles
}

/// Every tile that a tree of `size` leaves is published as: full tiles and
/// the partial tile of each level.
pub fn tiles_for_size(size: u64) -> Vec<TileId> {
    new_tiles(0, size)
}

/// Parses a hash tile's bytes, which must hold exactly `width` hashes.
pub fn parse_hash_tile(id: &TileId, data: &[u8]) -> Result<Vec<Hash>> {
    let want = usize::from(id.width) * HASH_SIZE;
    if data.len() != want {
        return Err(Error::malformed(
            "hash tile",
            format!("{id}: {} bytes, want {want}", data.len()),
        ));
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .map(|c| Hash(c.try_into().expect("chunk of 32")))
        .collect())
}

/// Appends one entry to an entry bundle (uint16 big-endian length prefix).
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<()> {
    let len = u16::try_from(entry.len()).map_err(|_| {
        Error::InvalidArgument(format!(
            "entry of {} bytes exceeds the {MAX_ENTRY_SIZE}-byte limit of entry bundles",
            entry.len()
        ))
    })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Splits an entry bundle into exactly `width` entries; trailing or missing
/// bytes are an error.
pub fn parse_entry_bundle<'a>(id: &TileId, data: &'a [u8]) -> Result<Vec<&'a [u8]>> {
    let mut entries = Vec::with_capacity(usize::from(id.width));
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(Error::malformed(
                "entry bundle",
                format!("{id}: truncated length prefix"),
            ));
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() < 2 + len {
            return Err(Error::malformed(
                "entry bundle",
                format!(
                    "{id}: entry {} is truncated ({} of {len} bytes)",
                    entries.len(),
                    rest.len() - 2
                ),
            ));
        }
        entries.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    if entries.len() != usize::from(id.width) {
        return Err(Error::malformed(
            "entry bundle",
            format!("{id}: {} entries, want {}", entries.len(), id.width),
        ));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_c2sp_text() {
        // "index 1234067 will be encoded as x001/x234/067"
        assert_eq!(
            TileId::hashes(0, 1234067, 256).path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(
            TileId::hashes(3, 1234067, 1).path(),
            "tile/3/x001/x234/067.p/1"
        );
        assert_eq!(TileId::entries(5, 256).path(), "tile/entries/005");
        assert_eq!(
            TileId::entries(1000, 17).path(),
            "tile/entries/x001/000.p/17"
        );
        for id in [
            TileId::hashes(0, 1234067, 256),
            TileId::hashes(63, u64::MAX, 255),
            TileId::entries(0, 1),
            TileId::entries(999, 256),
        ] {
            assert_eq!(TileId::parse_path(&id.path()).unwrap(), id);
        }
    }

    #[test]
    fn non_canonical_paths_are_rejected_with_a_reason() {
        for bad in [
            "tile/00/000",
            "tile/64/000",
            "tile/0/x000/001",
            "tile/0/1",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/07",
            "tile/8/0/000",
            "tile/data/000",
            "tiles/0/000",
            "tile/0/x1/000",
            "tile/0/x99999999999/000",
        ] {
            let err = TileId::parse_path(bad).unwrap_err().to_string();
            assert!(err.starts_with("malformed tile path"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
        // level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of
        // width 17, and one partial level 2 tile of width 1."
        let tiles = tiles_for_size(70_000);
        let count = |level: u8, full: bool| {
            tiles
                .iter()
                .filter(|t| t.level == TileLevel::Hashes(level) && t.is_full() == full)
                .count()
        };
        assert_eq!(count(0, true), 273);
        assert_eq!(count(1, true), 1);
        assert_eq!(count(2, true), 0);
        assert!(tiles.contains(&TileId::hashes(0, 273, 112)));
        assert!(tiles.contains(&TileId::hashes(1, 1, 17)));
        assert!(tiles.contains(&TileId::hashes(2, 0, 1)));
        assert_eq!(tiles.len(), 277);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
        assert_eq!(
            tiles_for_size(256),
            vec![TileId::hashes(0, 0, 256), TileId::hashes(1, 0, 1)]
        );
    }

    #[test]
    fn new_tiles_cover_exactly_what_changed() {
        assert_eq!(new_tiles(10, 10), vec![]);
        assert_eq!(new_tiles(10, 11), vec![TileId::hashes(0, 0, 11)]);
        assert_eq!(
            new_tiles(250, 600),
            vec![
                TileId::hashes(0, 0, 256),
                TileId::hashes(0, 1, 256),
                TileId::hashes(0, 2, 88),
                TileId::hashes(1, 0, 2),
            ]
        );
    }

    #[test]
    fn entry_bundles_round_trip_and_reject_damage() {
        let id = TileId::entries(0, 3);
        let mut b = Vec::new();
        for e in [&b"a"[..], b"", b"ccc"] {
            push_bundle_entry(&mut b, e).unwrap();
        }
        assert_eq!(
            parse_entry_bundle(&id, &b).unwrap(),
            vec![&b"a"[..], b"", b"ccc"]
        );
        assert!(
            parse_entry_bundle(&id, &b[..b.len() - 1])
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(
            parse_entry_bundle(&TileId::entries(0, 4), &b)
                .unwrap_err()
                .to_string()
                .contains("want 4")
        );
        let mut extra = b.clone();
        extra.push(0);
        assert!(parse_entry_bundle(&id, &extra).is_err());
        assert!(push_bundle_entry(&mut b, &vec![0; 65_536]).is_err());
        push_bundle_entry(&mut b, &vec![0; 65_535]).unwrap();
    }
}
