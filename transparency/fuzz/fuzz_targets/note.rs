#![no_main]
//! Signed notes and keys: parsing, re-encoding and verification never panic,
//! and a note that parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    transparency::fuzzing::note(data);
});
