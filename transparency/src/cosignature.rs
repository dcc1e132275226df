//! c2sp.org/tlog-cosignature, Ed25519 type (`cosignature/v1`, key type 0x04):
//! a witness's timestamped signature over a checkpoint's note text.
//!
//! Signed message: `cosignature/v1\ntime <T>\n` followed by the checkpoint
//! text. Signature bytes: 8-byte big-endian timestamp || 64-byte Ed25519
//! signature. Verification is done by [`crate::Note::verify`] with the
//! cosigner's vkey (type 0x04), which returns the timestamp.

use crate::key::{ALG_COSIGNATURE_V1, NoteSigner};
use crate::note::{Note, SignatureLine};
use crate::{Error, Result};

/// The message a cosigner signs for `checkpoint_text` at `timestamp`.
pub fn signed_message(timestamp: u64, checkpoint_text: &str) -> Result<Vec<u8>> {
    if timestamp > i64::MAX as u64 {
        return Err(Error::Signature(
            "cosignature timestamp exceeds 2^63 - 1".into(),
        ));
    }
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(checkpoint_text.as_bytes());
    Ok(msg)
}

/// A cosignature line by `cosigner` over the note's text at `timestamp`
/// (POSIX seconds).
pub fn cosign(cosigner: &NoteSigner, note: &Note, timestamp: u64) -> Result<SignatureLine> {
    if cosigner.alg() != ALG_COSIGNATURE_V1 {
        return Err(Error::InvalidArgument(format!(
            "{} is not a cosignature/v1 key (type 0x04)",
            cosigner.name()
        )));
    }
    let msg = signed_message(timestamp, note.text())?;
    let mut signature = timestamp.to_be_bytes().to_vec();
    signature.extend_from_slice(&cosigner.sign_raw(&msg));
    Ok(SignatureLine {
        name: cosigner.name().to_string(),
        key_id: cosigner.key_id(),
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ALG_ED25519;

    #[test]
    fn cosignatures_verify_with_their_timestamp_and_only_for_their_text() {
        let log = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let witness = NoteSigner::generate("witness.example/w1", ALG_COSIGNATURE_V1).unwrap();
        let mut note =
            Note::new("example.org/log\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n")
                .unwrap();
        note.sign(&log).unwrap();
        let line = cosign(&witness, &note, 1_700_000_000).unwrap();
        assert_eq!(line.signature.len(), 72);
        note.add_signature(line.clone());
        let v = Note::parse(&note.to_bytes())
            .unwrap()
            .verify(&[log.verifier(), witness.verifier()])
            .unwrap();
        assert_eq!(v.signatures[1].timestamp, Some(1_700_000_000));
        // The key id commits to type 0x04: the same key as a plain signer has another id.
        let plain = NoteSigner::from_seed("witness.example/w1", ALG_ED25519, &[7; 32]).unwrap();
        let cosigner =
            NoteSigner::from_seed("witness.example/w1", ALG_COSIGNATURE_V1, &[7; 32]).unwrap();
        assert_ne!(plain.key_id(), cosigner.key_id());
        // A changed timestamp breaks the signature.
        let mut forged = line;
        forged.signature[7] ^= 1;
        let mut note2 = Note::new(note.text()).unwrap();
        note2.sign(&log).unwrap();
        note2.add_signature(forged);
        assert!(note2.verify(&[log.verifier(), witness.verifier()]).is_err());
        assert!(cosign(&log, &note, 1).is_err());
    }
}
