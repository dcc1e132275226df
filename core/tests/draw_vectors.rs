//! Every case of `../shared/vectors/draw/draw-vectors.json` (GLI-31 4.3.1).

use raffle_core::draw::{DrawRng, accepts, select};
use raffle_core::ids::parse_u64;
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
        let n = parse_u64(&case.n).unwrap();
        let mut rng = DrawRng::new(&seed, &contribution);
        let sel = select(&mut rng, n).unwrap();
        let want: Vec<u64> = case.raw.iter().map(|r| parse_u64(r).unwrap()).collect();
        assert_eq!(
            sel.raw, want,
            "n={} seed={} contribution={}",
            case.n, case.seed, case.contribution
        );
        assert_eq!(sel.index, parse_u64(&case.index).unwrap(), "n={}", case.n);
    }
}

#[test]
fn every_scaling_vector_is_reproduced() {
    let v = vectors();
    assert!(!v.scaling.is_empty());
    for case in &v.scaling {
        let (n, r) = (parse_u64(&case.n).unwrap(), parse_u64(&case.r).unwrap());
        assert_eq!(accepts(r, n), case.accepted, "n={n} r={r}");
        if let Some(index) = &case.index {
            assert_eq!(r % n, parse_u64(index).unwrap(), "n={n} r={r}");
        }
    }
}
