//! The `raffled` commands: `serve` (the server), `demo` (a demonstration
//! raffle on a fresh database) and `rng` (the draw generator's output for
//! a testing laboratory).

pub mod demo;
pub mod rng;
pub mod serve;
