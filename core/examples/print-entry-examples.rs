//! Prints one example entry of every type, one per line, as the schema
//! document shows them (`docs/entry-schema.md`).
fn main() {
    for e in raffle_core::entry::examples() {
        println!(
            "{}",
            String::from_utf8(e.to_bytes().expect("valid example")).expect("UTF-8")
        );
    }
}
