//! Replays the committed corpora (`fuzz/corpus/<target>/`) through the
//! targets' property checks, so that `cargo test` catches a regression
//! without a fuzzer. A missing or empty corpus fails the test.

use super::TARGETS;
use std::path::PathBuf;

/// Runs every file of `fuzz/corpus/<name>/` through target `name` and
/// returns how many there were.
fn replay(name: &str) -> usize {
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no target {name}"));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| target(&data));
        if let Err(panic) = outcome {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            panic!("{name}: {} fails: {why}", file.display());
        }
    }
    println!("fuzzing replay: {name}: {} inputs", files.len());
    files.len()
}

#[test]
fn every_target_has_a_corpus_test() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["pkcs7", "csr", "pem", "est_answer", "api", "config"]
    );
}

#[test]
fn replay_pkcs7() {
    replay("pkcs7");
}

#[test]
fn replay_csr() {
    replay("csr");
}

#[test]
fn replay_pem() {
    replay("pem");
}

#[test]
fn replay_est_answer() {
    replay("est_answer");
}

#[test]
fn replay_api() {
    replay("api");
}

#[test]
fn replay_config() {
    replay("config");
}
