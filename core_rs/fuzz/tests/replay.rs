//! Replays every committed input of `regressions/<target>/` (inputs that once crashed a
//! target, kept after the fix) and `corpus/<target>/` (inputs the fuzzer found
//! interesting) through the harnesses, without libFuzzer: `make fuzz-smoke`.

use std::fs;
use std::path::Path;

type Harness = fn(&[u8]);

const TARGETS: [(&str, Harness); 5] = [
    ("join_wire", zone_opt_core_fuzz::join_wire),
    ("sparse", zone_opt_core_fuzz::sparse),
    ("stable", zone_opt_core_fuzz::stable),
    ("candidates", zone_opt_core_fuzz::candidates),
    ("carbon", zone_opt_core_fuzz::carbon),
];

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut count = 0;
    for (name, harness) in TARGETS {
        let Ok(entries) = fs::read_dir(root.join(name)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            eprintln!("{name}: {}", path.display());
            harness(&data);
            count += 1;
        }
    }
    count
}

#[test]
fn regressions_replay_cleanly() {
    let n = replay("regressions");
    assert!(
        n > 0,
        "no regression inputs found under core_rs/fuzz/regressions"
    );
}

#[test]
fn corpus_replays_cleanly() {
    replay("corpus");
}

/// Each harness on a few fixed inputs (empty, short, long), so every target runs here
/// even with no corpus on disk.
#[test]
fn harnesses_take_any_bytes() {
    let long: Vec<u8> = (0..4096_u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (_, harness) in TARGETS {
        for data in [&[][..], &[0][..], &[0xFF; 64][..], &long[..]] {
            harness(data);
        }
    }
}
