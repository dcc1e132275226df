//! `tlog-fsck <LOG DIR> --vkey <VKEY|FILE> [--threads N]`: verifies a tiled
//! log from its files (signature, every entry against the tiles, every tile
//! against the level above, the root against the signed checkpoint) and
//! prints the throughput. Exits 1 with one line on any failure.

use std::time::Instant;
use transparency::NoteVerifier;
use transparency::store::DirStorage;

fn main() {
    if let Err(e) = run() {
        eprintln!("tlog-fsck: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut vkey = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--vkey" => vkey = Some(args.next().ok_or("--vkey needs a value")?),
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|t| t.parse().ok())
                    .ok_or("--threads needs a number")?
            }
            "-h" | "--help" => {
                println!("usage: tlog-fsck <LOG DIR> --vkey <VKEY|FILE> [--threads N]");
                return Ok(());
            }
            _ if dir.is_none() && !a.starts_with('-') => dir = Some(a),
            _ => return Err(format!("unexpected argument {a:?} (see --help)")),
        }
    }
    let dir = dir.ok_or("missing the log directory (see --help)")?;
    let vkey = vkey.ok_or("missing --vkey")?;
    let vkey_text = if std::path::Path::new(&vkey).is_file() {
        std::fs::read_to_string(&vkey).map_err(|e| format!("{vkey}: {e}"))?
    } else {
        vkey
    };
    let key = NoteVerifier::from_vkey(&vkey_text).map_err(|e| e.to_string())?;
    if !std::path::Path::new(&dir).is_dir() {
        return Err(format!("{dir}: not a directory"));
    }
    let storage = DirStorage::new(&dir, false).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let report =
        transparency::fsck::verify_log(&storage, &key, threads).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "verified entries={} tiles={} seconds={secs:.3} entries_per_s={:.0} root={}",
        report.entries,
        report.tiles,
        report.entries as f64 / secs.max(1e-9),
        report.checkpoint.checkpoint.root
    );
    Ok(())
}
