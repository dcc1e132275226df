//! The layout shared by c2sp.org/tlog-proof files and c2sp.org/tlog-witness
//! requests: a few header lines, base64 hash lines, an empty line, then a
//! signed note (the checkpoint).

use crate::hash::Hash;
use crate::note::Note;
use crate::{Error, Result};

/// `head` (newline-terminated lines), one line per hash, an empty line, the note.
pub(crate) fn encode(mut head: String, hashes: &[Hash], note: &Note) -> Vec<u8> {
    for h in hashes {
        head.push_str(&h.to_base64());
        head.push('\n');
    }
    head.push('\n');
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&note.to_bytes());
    bytes
}

/// Splits at the first empty line into the head's lines and the note's
/// text, which the caller parses after the head (errors in reading order).
pub(crate) fn split<'a>(
    data: &'a [u8],
    what: &'static str,
) -> Result<(std::str::Split<'a, char>, &'a str)> {
    let text = std::str::from_utf8(data)
        .map_err(|e| Error::malformed(what, format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let (head, note) = text
        .split_once("\n\n")
        .ok_or_else(|| Error::malformed(what, "no empty line before the checkpoint"))?;
    Ok((head.split('\n'), note))
}

/// Parses the remaining head lines as at most `max` base64 hashes;
/// `label` names them in errors ("proof line 3: ...").
pub(crate) fn parse_hashes<'a>(
    lines: impl Iterator<Item = &'a str>,
    max: usize,
    what: &'static str,
    label: &str,
) -> Result<Vec<Hash>> {
    let mut hashes = Vec::new();
    for (i, line) in lines.enumerate() {
        if hashes.len() == max {
            return Err(Error::malformed(what, format!("more than {max} {label}s")));
        }
        hashes.push(
            Hash::from_base64(line)
                .map_err(|e| Error::malformed(what, format!("{label} {}: {e}", i + 1)))?,
        );
    }
    Ok(hashes)
}
