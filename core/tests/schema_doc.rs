//! `docs/entry-schema.md` must show, for every entry type, exactly the bytes
//! the code writes for that type's example, and they must parse back.

use raffle_core::entry::{Entry, TYPES, examples};

#[test]
fn the_schema_document_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/entry-schema.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let shown: Vec<&str> = doc.lines().filter(|l| l.starts_with("{\"v\":")).collect();
    let written: Vec<String> = examples()
        .iter()
        .map(|e| String::from_utf8(e.to_bytes().unwrap()).unwrap())
        .collect();
    assert_eq!(
        shown, written,
        "docs/entry-schema.md is out of date: run `cargo run -p raffle-core --example print-entry-examples`"
    );
    for (line, kind) in shown.iter().zip(TYPES) {
        assert!(
            doc.contains(&format!("### `{kind}`")),
            "no section for {kind}"
        );
        assert_eq!(Entry::parse(line.as_bytes()).unwrap().kind(), *kind);
    }
    assert_eq!(shown.len(), TYPES.len());
}
