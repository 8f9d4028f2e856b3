//! The fuzz targets (`fuzz/src/lib.rs`) on stable Rust: every input of the committed corpus and
//! every regression (a crash the fuzzer once found) is answered without a panic, and so are
//! arbitrary bytes and random edits of the corpus (proptest). `scripts/fuzz.sh` runs the same
//! targets for minutes under libFuzzer.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_targets;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;

use fuzz_targets::TARGETS;

/// A kept input: where it is, and its bytes.
type KeptInput = (PathBuf, Vec<u8>);

/// The inputs kept for `target`, read once for all the tests.
fn kept_inputs(target: &str) -> &'static [KeptInput] {
    static KEPT: OnceLock<HashMap<&'static str, Vec<KeptInput>>> = OnceLock::new();
    KEPT.get_or_init(|| {
        TARGETS
            .iter()
            .map(|(name, _)| (*name, read_kept_inputs(name)))
            .collect()
    })
    .get(target)
    .map_or(&[], Vec::as_slice)
}

/// The inputs kept for `target`: its corpus and its regressions.
fn read_kept_inputs(target: &str) -> Vec<KeptInput> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    ["corpus", "regressions"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz.join(kind).join(target)).ok())
        .flat_map(|entries| entries.flatten().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect()
}

/// Whether `run` panics on `input`.
fn panics(run: fn(&[u8]), input: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| run(input))).is_err()
}

#[test]
fn every_kept_input_is_answered_without_a_panic() {
    let mut failures = Vec::new();
    for (name, run) in TARGETS {
        let inputs = kept_inputs(name);
        assert!(!inputs.is_empty(), "fuzz/corpus/{name} holds no input");
        for (path, bytes) in inputs {
            if panics(*run, bytes) {
                failures.push(path.display().to_string());
            }
        }
        println!("{name}: {} inputs", inputs.len());
    }
    assert!(failures.is_empty(), "panicked on {failures:?}");
}

/// Edits `seed` as a fuzzer would: each edit overwrites, inserts or removes a byte, or copies a
/// stretch of the input over another place.
fn mutate(seed: &[u8], edits: &[(u8, usize, usize, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(kind, at, other, value) in edits {
        let len = bytes.len();
        match kind % 4 {
            0 if len > 0 => bytes[at % len] = value,
            1 => bytes.insert(at % (len + 1), value),
            2 if len > 0 => {
                bytes.remove(at % len);
            }
            3 if len > 1 => {
                let (from, to) = (at % len, other % len);
                let run = (value as usize % 16).min(len - from).min(len - to);
                bytes.copy_within(from..from + run, to);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_answered_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for (name, run) in TARGETS {
            prop_assert!(!panics(*run, &bytes), "{name} panicked on {bytes:?}");
        }
    }

    #[test]
    fn edited_corpus_inputs_are_answered_without_a_panic(
        pick in any::<usize>(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), any::<u8>()), 1..12),
    ) {
        for (name, run) in TARGETS {
            let inputs = kept_inputs(name);
            let (path, seed) = &inputs[pick % inputs.len()];
            let edited = mutate(seed, &edits);
            prop_assert!(!panics(*run, &edited), "{name} panicked on {edited:?} (edited from {})", path.display());
        }
    }
}
