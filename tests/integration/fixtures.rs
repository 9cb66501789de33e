//! Hand-written datasets (`tests/fixtures/<task>/`, written from DOMAIN.md, not by the generator):
//! each task's bundled model, run through the real binary, flags exactly the expected subjects.

use std::path::Path;

use crate::common::{fresh_dir, run, stderr};

#[test]
fn bundled_models_flag_exactly_the_hand_written_clues() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).expect("fixtures") {
        let dir = entry.expect("entry").path();
        let task = dir.file_name().and_then(|n| n.to_str()).expect("task name").to_string();
        let out = fresh_dir(&format!("fixture-{task}")).join("clues.jsonl");
        let o = run(&[
            "run",
            &task,
            "--data",
            dir.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert!(o.status.success(), "{task}: {}", stderr(&o));
        let mut flagged: Vec<String> = std::fs::read_to_string(&out)
            .expect("clues")
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("clue")["subject"]
                    .as_str()
                    .expect("subject")
                    .to_string()
            })
            .collect();
        // A subject with several patterns has a clue for each.
        flagged.sort();
        flagged.dedup();
        let expected = std::fs::read_to_string(dir.join("expected.txt")).expect("expected.txt");
        assert_eq!(flagged, expected.lines().collect::<Vec<_>>(), "{task}");
        checked += 1;
    }
    assert!(checked >= 1, "no fixtures found in {}", root.display());
}
