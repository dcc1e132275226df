//! The workspace's programs (`raffled`, `raffle-audit`), for the end-to-end
//! tests in the top-level `tests/` that run them as processes together.
//!
//! Cargo hands a test the path of its own package's binaries only
//! (`CARGO_BIN_EXE_*`), so [`program`] finds the others beside the test
//! executable (`<target>/<profile>/deps/…` → `<target>/<profile>/…`).
//! Before the first use in a test process it asks cargo to bring the
//! workspace's test build up to date (`cargo test --no-run --workspace
//! --all-targets`): the very build `cargo nextest run --workspace
//! --all-targets` makes, so it is a no-op (about a second) after it, and
//! never leaves a stale binary to test, nor rebuilds one with other
//! features.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The path of workspace program `name`, built and current.
pub fn program(name: &str) -> PathBuf {
    let dir = profile_dir();
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build(&dir));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing after the build: is {name} a program of this workspace?",
        path.display()
    );
    path
}

/// `<target>/<profile>`: the directory above the test executable's `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the deps directory");
    deps.parent().expect("the profile directory").to_path_buf()
}

fn build(profile_dir: &std::path::Path) {
    let target = profile_dir.parent().expect("the target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Exactly the build `cargo nextest run --workspace --all-targets`
    // makes (`cargo test --no-run`, into `debug/`): the same units, so a
    // no-op after it. Anything else builds a second copy of every test
    // binary (gigabytes, minutes, and a `raffled` replaced while another
    // test runs it): `cargo build --tests`, `cargo build --all-targets`
    // (benches in the bench profile), and even `cargo test --profile
    // test`, whose dependencies differ (measured: 5 to 6 minutes).
    //
    // It runs without what the test harness put into this process's
    // environment (cargo's `CARGO_PKG_*` and `CARGO_MANIFEST_*` for the
    // test, nextest's `NEXTEST_*` and `LD_LIBRARY_PATH`): with them, the
    // same command rebuilt every unit (measured: 4 min 40 s), as without
    // them it is a no-op (0.6 s).
    let mut command = std::process::Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let Some(n) = name.to_str() else { continue };
        if n == "LD_LIBRARY_PATH"
            || n == "OUT_DIR"
            || n.starts_with("NEXTEST")
            || n.starts_with("CARGO_PKG_")
            || n.starts_with("CARGO_MANIFEST_")
            || n.starts_with("CARGO_BIN_")
            || n == "CARGO_CRATE_NAME"
            || n == "CARGO_PRIMARY_PACKAGE"
            || n == "CARGO_TARGET_TMPDIR"
        {
            command.env_remove(&name);
        }
    }
    command.args([
        "test",
        "--no-run",
        "--quiet",
        "--workspace",
        "--all-targets",
    ]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    let status = command
        .arg("--target-dir")
        .arg(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build");
    assert!(
        status.success(),
        "cargo test --no-run --workspace --all-targets failed"
    );
}
