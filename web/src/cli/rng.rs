//! `raffled rng collect`: bulk output of the draw's own generator for a
//! testing laboratory (GLI-31 4.2.1, 4.2.2 and GLI's RNG submission
//! instructions). Each run, and every `--reseed-every` values, takes a fresh
//! 32-byte seed from the OS CSPRNG, exactly as a draw does; the values are
//! produced by [`raffle_core::draw`], the code the server's draws use.
//!
//! - `--raw --bytes N`: N bytes of raw output r_i (8 bytes each, big-endian), binary.
//! - `--range N --count C`: C scaled draws in 0..N (rejection sampling), one per line.

use clap::Args;
use raffle_core::draw::{DrawRng, new_seed, select};
use std::io::Write;

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Raw generator output, as binary.
    #[arg(long, requires = "bytes", conflicts_with_all = ["range", "count"])]
    pub raw: bool,
    /// How many raw bytes to write.
    #[arg(long)]
    pub bytes: Option<u64>,
    /// Scale to 0..N (every value equally likely).
    #[arg(long, requires = "count")]
    pub range: Option<u64>,
    /// How many scaled values to write.
    #[arg(long)]
    pub count: Option<u64>,
    /// Values per seed before reseeding from the OS CSPRNG (a draw uses one seed).
    #[arg(long, default_value_t = 1_000_000)]
    pub reseed_every: u64,
}

/// Writes the requested output.
pub fn collect(args: &CollectArgs, out: &mut impl Write) -> Result<(), String> {
    if args.reseed_every == 0 {
        return Err("--reseed-every must be positive".into());
    }
    let fresh = || -> Result<DrawRng, String> {
        Ok(DrawRng::new(&new_seed().map_err(|e| e.to_string())?, b""))
    };
    let mut rng = fresh()?;
    let mut used = 0u64;
    let mut next = |rng: &mut DrawRng| -> Result<(), String> {
        used += 1;
        if used > args.reseed_every {
            *rng = fresh()?;
            used = 1;
        }
        Ok(())
    };
    if args.raw {
        let bytes = args.bytes.unwrap_or(0);
        let mut out = std::io::BufWriter::new(out);
        let mut written = 0u64;
        while written < bytes {
            next(&mut rng)?;
            let v = rng.next_raw().to_be_bytes();
            let take = (bytes - written).min(8) as usize;
            out.write_all(&v[..take]).map_err(|e| e.to_string())?;
            written += take as u64;
        }
        out.flush().map_err(|e| e.to_string())?;
        return Ok(());
    }
    match (args.range, args.count) {
        (Some(range), Some(count)) => {
            if range == 0 {
                return Err("--range must be at least 1".into());
            }
            let mut out = std::io::BufWriter::new(out);
            for _ in 0..count {
                next(&mut rng)?;
                let sel = select(&mut rng, range).map_err(|e| e.to_string())?;
                writeln!(out, "{}", sel.index).map_err(|e| e.to_string())?;
            }
            out.flush().map_err(|e| e.to_string())
        }
        _ => Err("give either --raw --bytes N or --range N --count C".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: CollectArgs) -> Vec<u8> {
        let mut out = Vec::new();
        collect(&args, &mut out).unwrap();
        out
    }

    #[test]
    fn raw_output_has_the_requested_length_and_looks_random() {
        let out = run(CollectArgs {
            raw: true,
            bytes: Some(100_003),
            range: None,
            count: None,
            reseed_every: 1000,
        });
        assert_eq!(out.len(), 100_003);
        // Byte frequencies: a chi-square over 256 cells stays far below the
        // 99.9% bound (about 330) for a uniform source.
        let mut counts = [0f64; 256];
        for b in &out {
            counts[*b as usize] += 1.0;
        }
        let expected = out.len() as f64 / 256.0;
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 400.0, "chi-square {chi2}");
    }

    #[test]
    fn scaled_draws_cover_the_range_evenly() {
        let out = run(CollectArgs {
            raw: false,
            bytes: None,
            range: Some(7),
            count: Some(70_000),
            reseed_every: 10,
        });
        let values: Vec<u64> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(values.len(), 70_000);
        let mut counts = [0f64; 7];
        for v in values {
            assert!(v < 7);
            counts[v as usize] += 1.0;
        }
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - 10_000.0).powi(2) / 10_000.0)
            .sum();
        assert!(chi2 < 30.0, "chi-square {chi2} over 6 degrees of freedom");
    }

    #[test]
    fn bad_arguments_are_refused() {
        let mut out = Vec::new();
        assert!(
            collect(
                &CollectArgs {
                    raw: false,
                    bytes: None,
                    range: Some(0),
                    count: Some(1),
                    reseed_every: 1
                },
                &mut out
            )
            .is_err()
        );
        assert!(
            collect(
                &CollectArgs {
                    raw: false,
                    bytes: None,
                    range: None,
                    count: None,
                    reseed_every: 1
                },
                &mut out
            )
            .is_err()
        );
    }
}
