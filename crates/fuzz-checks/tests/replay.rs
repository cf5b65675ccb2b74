//! Replays the committed corpora (`fuzz/corpus/<target>/`) through the
//! targets' property checks, so that `cargo test` catches a regression
//! without a fuzzer, for every fuzz target `fuzz/Cargo.toml` declares: a
//! target without a check here, a corpus, or a `fuzz_targets/` file that
//! calls its check fails the tests.

use est_fuzz_checks::{TARGETS, Target};
use std::path::{Path, PathBuf};

/// The cargo-fuzz crate.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// A `[[bin]]` target of `fuzz/Cargo.toml`.
struct Bin {
    name: String,
    path: PathBuf,
}

/// The `[[bin]]` targets of `fuzz/Cargo.toml`, as written there.
fn fuzz_bins() -> Vec<Bin> {
    let manifest = fuzz_dir().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", manifest.display()));
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", manifest.display()));
    let bins = table
        .get("bin")
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("{} has no [[bin]] targets", manifest.display()));
    bins.iter()
        .map(|bin| {
            let field = |key: &str| {
                bin.get(key)
                    .and_then(toml::Value::as_str)
                    .unwrap_or_else(|| panic!("a [[bin]] without a {key}: {bin:?}"))
            };
            Bin {
                name: field("name").to_owned(),
                path: fuzz_dir().join(field("path")),
            }
        })
        .collect()
}

/// The check of target `name`.
fn check(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The files of `fuzz/corpus/<name>/`, sorted; an error when there is no
/// such folder or it holds no file.
fn corpus(name: &str) -> Result<Vec<PathBuf>, String> {
    let dir = fuzz_dir().join("corpus").join(name);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| format!("the corpus {} cannot be read: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("the corpus {} is empty", dir.display()));
    }
    Ok(files)
}

/// What target `bin` lacks: a check, a corpus, a `fuzz_targets/` file
/// that calls the check.
fn missing(bin: &Bin) -> Vec<String> {
    let mut missing = Vec::new();
    if check(&bin.name).is_none() {
        missing.push(format!(
            "{}: no check in est_fuzz_checks::TARGETS",
            bin.name
        ));
    }
    if let Err(why) = corpus(&bin.name) {
        missing.push(format!("{}: {why}", bin.name));
    }
    let call = format!("est_fuzz_checks::{}(", bin.name);
    match std::fs::read_to_string(&bin.path) {
        Ok(source) if source.contains(&call) => {}
        Ok(_) => missing.push(format!(
            "{}: {} does not call {call}",
            bin.name,
            bin.path.display()
        )),
        Err(e) => missing.push(format!(
            "{}: {} cannot be read: {e}",
            bin.name,
            bin.path.display()
        )),
    }
    missing
}

#[test]
fn every_fuzz_target_has_a_check_a_corpus_and_a_caller() {
    let bins = fuzz_bins();
    let problems: Vec<String> = bins.iter().flat_map(missing).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for (name, _) in TARGETS {
        assert!(
            bins.iter().any(|bin| bin.name == *name),
            "check {name} is not a [[bin]] target of fuzz/Cargo.toml"
        );
    }
}

/// Runs every file of target `name`'s corpus through its check and
/// returns how many there were.
fn replay(name: &str) -> usize {
    let target = check(name).unwrap_or_else(|| panic!("no check for fuzz target {name}"));
    let files = corpus(name).unwrap_or_else(|why| panic!("{why}"));
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        if let Err(panic) = std::panic::catch_unwind(|| target(&data)) {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            panic!("{name}: {} fails: {why}", file.display());
        }
    }
    files.len()
}

#[test]
fn every_corpus_replays_through_its_check() {
    let bins = fuzz_bins();
    // One thread a target: the corpora are independent.
    std::thread::scope(|scope| {
        let replays: Vec<_> = bins
            .iter()
            .map(|bin| (bin, scope.spawn(|| replay(&bin.name))))
            .collect();
        for (bin, replay) in replays {
            match replay.join() {
                Ok(count) => println!("fuzzing replay: {}: {count} inputs", bin.name),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
}
