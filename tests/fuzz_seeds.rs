//! Replays the committed fuzz seeds (`fuzz/seeds/TARGET/`) and every input
//! a fuzzer ever crashed on (`fuzz/regressions/TARGET/`) through the same
//! checks the `cargo fuzz` targets run: the properties and reference
//! implementations of `fuzz/properties/`, the fuzz crate's library,
//! included here as a module.

use std::path::Path;

#[path = "../fuzz/properties/mod.rs"]
mod properties;

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let mut count = 0;
    for (target, check) in properties::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            eprintln!("{target}: {}", file.display());
            check(&data);
            count += 1;
        }
    }
    count
}

#[test]
fn seeds_pass_every_check() {
    let count = replay("seeds");
    assert!(count >= properties::TARGETS.len(), "{count} seeds");
}

#[test]
fn past_crashes_stay_fixed() {
    replay("regressions");
}
