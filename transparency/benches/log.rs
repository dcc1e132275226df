//! Log benchmark: appends LOG_BENCH_ENTRIES (default 1,000,000) entries of
//! 300 bytes in batches of 1,000, each batch's tiles, entry bundles and a
//! signed checkpoint written to disk, once without and once with fsync; then
//! verifies the log from disk in a separate process (`tlog-fsck`).
//!
//!     cargo bench -p transparency --bench log
//!
//! Prints one line per measurement.

use std::process::Command;
use std::time::Instant;
use transparency::key::{ALG_ED25519, NoteSigner};
use transparency::store::{Appender, DirStorage};

const ENTRY_SIZE: usize = 300;
const BATCH: usize = 1_000;

fn append_log(dir: &std::path::Path, entries: usize, fsync: bool, key: &NoteSigner) -> f64 {
    let mut appender = Appender::create(DirStorage::new(dir, fsync).expect("log dir"));
    let mut batch: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![b'x'; ENTRY_SIZE]).collect();
    let start = Instant::now();
    let mut n = 0usize;
    while n < entries {
        let len = BATCH.min(entries - n);
        for (i, e) in batch.iter_mut().enumerate().take(len) {
            // Distinct entries: the index in the first bytes.
            e[..20].copy_from_slice(format!("{:020}", n + i).as_bytes());
        }
        appender.append(&batch[..len]).expect("append");
        let note = appender.checkpoint(key.name()).sign(key).expect("sign");
        appender.publish_checkpoint(&note).expect("publish");
        n += len;
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench. Test runners list (`--list`) or run bench
    // targets in test mode: there is nothing to test here, so say so and stop.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        if !args.iter().any(|a| a == "--list") {
            println!("the log benchmark runs only under `cargo bench -p transparency --bench log`");
        }
        return;
    }
    let entries: usize = std::env::var("LOG_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let key = NoteSigner::generate("bench.example/log", ALG_ED25519).expect("key");
    // A fresh directory per run, kept afterwards: deleting tens of thousands
    // of files just before a run makes ext4's inode allocator scan its
    // recently deleted inodes on every create, which would measure the
    // previous run's cleanup rather than this log.
    let parent = std::env::var("LOG_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tlog-bench")
        });
    std::fs::create_dir_all(&parent).expect("bench dir");
    let base = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&parent)
        .expect("temp dir")
        .keep();
    println!("logs in {} (remove them when done)", base.display());

    let nofsync = base.join("nofsync");
    let secs = append_log(&nofsync, entries, false, &key);
    println!(
        "append entries={entries} entry_bytes={ENTRY_SIZE} batch={BATCH} fsync=no seconds={secs:.3} entries_per_s={:.0}",
        entries as f64 / secs
    );

    let fsync_entries = std::env::var("LOG_BENCH_FSYNC_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(entries);
    let withfsync = base.join("fsync");
    let secs = append_log(&withfsync, fsync_entries, true, &key);
    println!(
        "append entries={fsync_entries} entry_bytes={ENTRY_SIZE} batch={BATCH} fsync=yes seconds={secs:.3} entries_per_s={:.0}",
        fsync_entries as f64 / secs
    );

    // Verification in a separate process, from a cold start of that process.
    let fsck = env!("CARGO_BIN_EXE_tlog-fsck");
    let out = Command::new(fsck)
        .arg(&nofsync)
        .arg("--vkey")
        .arg(key.verifier().vkey())
        .output()
        .expect("run tlog-fsck");
    assert!(
        out.status.success(),
        "tlog-fsck failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}
