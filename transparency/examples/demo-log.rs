//! Builds a small demonstration log under `var/demo-log/` (or the directory
//! given as the first argument): a signing key (mode 0600), 1,000 entries in
//! batches with a signed checkpoint after each, and a receipt (`.tlog-proof`)
//! for one entry; then verifies all of it and prints how to check it again.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use transparency::key::{ALG_ED25519, NoteSigner};
use transparency::proof::inclusion_proof;
use transparency::proof_file::ProofFile;
use transparency::store::{Appender, DirStorage, TileHashSource, read_entry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "var/demo-log".into()),
    );
    let log_dir = dir.join("publications");
    if log_dir.exists() {
        std::fs::remove_dir_all(&log_dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let key = NoteSigner::generate("localhost/demo-log", ALG_ED25519)?;
    let key_path = dir.join("log.key");
    std::fs::write(&key_path, key.private_key_text() + "\n")?;
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;

    let mut appender = Appender::create(DirStorage::new(&log_dir, true)?);
    for batch in 0..10 {
        let entries: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "{{\"v\":1,\"type\":\"example\",\"n\":\"{}\"}}",
                    batch * 100 + i
                )
            })
            .collect();
        appender.append(&entries)?;
        let note = appender.checkpoint(key.name()).sign(&key)?;
        appender.publish_checkpoint(&note)?;
    }
    std::fs::write(log_dir.join("vkey"), key.verifier().vkey() + "\n")?;

    let size = appender.size();
    let index = 421;
    let src = TileHashSource::new(appender.storage(), size);
    let receipt = ProofFile {
        extra: Some(read_entry(appender.storage(), index, size)?),
        index,
        proof: inclusion_proof(&src, index, size)?,
        checkpoint: transparency::Note::parse(&std::fs::read(log_dir.join("checkpoint"))?)?,
    };
    let receipt_path = dir.join(format!("entry-{index}.tlog-proof"));
    std::fs::write(&receipt_path, receipt.to_bytes())?;
    let (entry, cp) = ProofFile::parse(&std::fs::read(&receipt_path)?)?
        .verify_extra_entry(&key.verifier(), &[])?;
    let report = transparency::fsck::verify_log(appender.storage(), &key.verifier(), 2)?;

    println!(
        "log:        {} ({} entries, root {})",
        log_dir.display(),
        report.entries,
        report.checkpoint.checkpoint.root
    );
    println!("vkey:       {}", key.verifier().vkey());
    println!(
        "receipt:    {} proves entry {index} {} under the checkpoint of size {}",
        receipt_path.display(),
        String::from_utf8_lossy(&entry),
        cp.checkpoint.size
    );
    println!(
        "check again: cargo run --release -p transparency --bin tlog-fsck -- {} --vkey {}",
        log_dir.display(),
        log_dir.join("vkey").display()
    );
    Ok(())
}
