//! The auditor's own draw code reproduces every case of
//! `../shared/vectors/draw/draw-vectors.json` (GLI-31 4.3.1), as the
//! server's does: two implementations, one specification.

use raffle_audit::draw::{accepted, select};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    draws: Vec<DrawCase>,
    scaling: Vec<ScalingCase>,
}

#[derive(Deserialize)]
struct DrawCase {
    seed: String,
    contribution: String,
    n: String,
    raw: Vec<String>,
    index: String,
}

#[derive(Deserialize)]
struct ScalingCase {
    n: String,
    r: String,
    accepted: bool,
    index: Option<String>,
}

fn vectors() -> Vectors {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/draw/draw-vectors.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn every_draw_vector_is_reproduced() {
    let v = vectors();
    assert!(v.draws.len() >= 100, "{} draw vectors", v.draws.len());
    for case in &v.draws {
        let seed = hex::decode(&case.seed).unwrap();
        let contribution = hex::decode(&case.contribution).unwrap();
        let n: u64 = case.n.parse().unwrap();
        let sel = select(&seed, &contribution, 0, n);
        let want: Vec<u64> = case.raw.iter().map(|r| r.parse().unwrap()).collect();
        assert_eq!(sel.raw, want, "n={} seed={}", case.n, case.seed);
        assert_eq!(
            sel.index,
            case.index.parse::<u64>().unwrap(),
            "n={}",
            case.n
        );
    }
}

#[test]
fn every_scaling_vector_is_reproduced() {
    let v = vectors();
    assert!(!v.scaling.is_empty());
    for case in &v.scaling {
        let (n, r): (u64, u64) = (case.n.parse().unwrap(), case.r.parse().unwrap());
        assert_eq!(accepted(r, n), case.accepted, "n={n} r={r}");
        if let Some(index) = &case.index {
            assert_eq!(r % n, index.parse::<u64>().unwrap(), "n={n} r={r}");
        }
    }
}
