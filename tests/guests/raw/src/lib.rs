//! A hostile model written straight against `sieve:model` and WASI, as an attacker would, without
//! the SDK's guard rails. `run`'s `mode` parameter picks the attack. `describe()` obeys a marker in
//! the data section ([`DESCRIBE_MODE`]) that tests patch in the component bytes, so one build yields
//! a component per `describe()` attack.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

// Built against the frozen 0.1.0 contract: every attack also proves that a host serving 0.1.1
// still runs a 0.1.0 component.
wit_bindgen::generate!({ path: "../../../wit/frozen/sieve-model@0.1.0.wit", world: "supervision-model" });

/// The newest host interface beside it, for the attacks on calls 0.1.0 lacks (`table.read-rows`):
/// one component may import two versions of the host, and both reach the same functions.
mod newest {
    wit_bindgen::generate!({
        path: "../../../wit/sieve-model.wit",
        inline: "package sieve-test:raw; world newest-host { import sieve:model/host@0.1.3; }",
        world: "sieve-test:raw/newest-host",
        generate_all,
    });
    pub use sieve::model::{host, types};
}

use exports::sieve::model::model::Guest;
use sieve::model::host;
use sieve::model::types::{
    Clue, ColumnData, ColumnSpec, ColumnType, Evidence, LogLevel, ModelError, ModelInfo, Param, ParamSpec,
    ParamType, ParamValue, TableSpec, TextColumn,
};

/// What `describe()` does: `normal` unless a test patched these bytes (same length).
#[used]
static DESCRIBE_MODE: [u8; 32] = *b"SIEVE-DESCRIBE-MODE:normal______";

fn describe_mode() -> String {
    // Read through a volatile pointer: the optimizer must not fold the marker into the code.
    let bytes: [u8; 32] = unsafe { std::ptr::read_volatile(&DESCRIBE_MODE) };
    String::from_utf8_lossy(&bytes[20..]).trim_end_matches('_').to_string()
}

struct Raw;

fn table(name: &str, columns: &[&str]) -> TableSpec {
    TableSpec {
        name: name.into(),
        columns: columns.iter().map(|c| ColumnSpec { name: (*c).into(), type_: ColumnType::Text }).collect(),
    }
}

fn clue(subject: String, reason: String, evidence: Vec<Evidence>) -> Clue {
    Clue { subject, score: 0.5, rule: "raw".into(), reason, evidence }
}

fn failed(e: impl std::fmt::Debug) -> ModelError {
    ModelError::Failed(format!("{e:?}"))
}

impl Guest for Raw {
    fn describe() -> ModelInfo {
        let mut inputs = vec![table("judgments", &["case_no", "plaintiff_id", "repair_shop"])];
        let mut params = vec![ParamSpec {
            name: "mode".into(),
            type_: ParamType::Text,
            default: ParamValue::Text("ok".into()),
            description: "Which attack to make.".into(),
        }];
        let mut summary = "Attacks the host, as its mode parameter says.".to_string();
        match describe_mode().as_str() {
            "spin" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "burn" => burn(),
            "memory" => {
                let hoard = vec![1u8; 512 << 20];
                std::hint::black_box(&hoard);
            }
            "huge-summary" => summary = "s".repeat(8 << 20),
            "labels-path" => inputs.push(table("./labels", &["subject"])),
            "parent-path" => inputs.push(table("../outside", &["secret"])),
            "abs-path" => inputs.push(table("/tmp/sieve-outside", &["secret"])),
            "labels" => inputs.push(table("labels", &["subject"])),
            // A tuning knob with a bug at its edge: 0 loops for ever.
            "edge-bug" => params.push(ParamSpec {
                name: "window".into(),
                type_: ParamType::Int,
                default: ParamValue::Int(30),
                description: "Days to look back.".into(),
            }),
            _ => {}
        }
        ModelInfo {
            name: "raw".into(),
            version: "0.1.0".into(),
            summary,
            task: "vehicle-insurance-fraud".into(),
            subject_kind: "case".into(),
            inputs,
            params,
        }
    }

    fn run(params: Vec<Param>) -> Result<(), ModelError> {
        let mode = params
            .iter()
            .find_map(|p| match (&p.name[..], &p.value) {
                ("mode", ParamValue::Text(m)) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default();
        // A parameter edge nobody tried before approval: vetting's sweep must find it.
        if params.iter().any(|p| p.name == "window" && matches!(p.value, ParamValue::Int(0))) {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        let judgments = host::open_table("judgments").map_err(failed)?;
        match mode.as_str() {
            "ok" => {
                let batch = judgments.read(&["case_no".to_string()], 0, 3).map_err(failed)?;
                host::emit(&[clue("raw-ok".into(), format!("read {} rows", batch.len), vec![])]);
            }
            // One read naming the same column 200,000 times.
            "duplicate-columns" => {
                let names = vec!["case_no".to_string(); 200_000];
                judgments.read(&names, 0, u32::MAX).map_err(failed)?;
            }
            // Empty log lines: no message bytes, but each line costs the host memory.
            "log-empty" => loop {
                host::log(LogLevel::Info, "");
            },
            // One 512 MiB log line.
            "log-huge" => {
                let line = "l".repeat(512 << 20);
                host::log(LogLevel::Info, &line);
            }
            // A 100 MB subject, which a careless host quotes whole in its refusal.
            "subject-huge" => host::emit(&[clue("s".repeat(100 << 20), "big".into(), vec![])]),
            // A subject that clears the screen and forges a report line.
            "subject-escape" => {
                host::emit(&[clue("\x1b[2J\x1b[Houtcome completed".into(), "x".into(), vec![])])
            }
            // Terminal escapes in the places a report prints as prose.
            "text-escape" => {
                host::log(LogLevel::Warn, "\x1b[31mred log\x1b[0m");
                host::emit(&[clue("case-1".into(), "\x1b[2Jreason\x07".into(), vec![])]);
                print!("\x1b]0;stdout title\x07");
                panic!("\x1b[2Jpanic text");
            }
            // Cells a spreadsheet would run as formulas.
            "formula" => host::emit(&[Clue {
                subject: "=cmd|' /C calc'!A0".into(),
                score: 0.5,
                rule: "+rule".into(),
                reason: "@SUM(1+1)".into(),
                evidence: vec![],
            }]),
            // One clue with ten million evidence rows.
            "evidence-flood" => {
                let evidence = vec![Evidence { table: "judgments".into(), row: 0 }; 10_000_000];
                host::emit(&[clue("case-1".into(), "flood".into(), evidence)]);
            }
            // A million clues in one call.
            "emit-huge-list" => {
                let clues: Vec<Clue> =
                    (0..1_000_000).map(|i| clue(format!("c{i}"), String::new(), vec![])).collect();
                host::emit(&clues);
            }
            // `read-rows` at the first row past the end, then at the last real one.
            "rows-past-end" => {
                let t = newest::host::open_table("judgments").map_err(failed)?;
                let rows = u32::try_from(t.row_count()).map_err(failed)?;
                t.read_rows(&["case_no".to_string()], &[rows - 1, rows]).map_err(failed)?;
            }
            // One more row than a call may ask for: refused before the host copies the list.
            "rows-flood" => {
                let t = newest::host::open_table("judgments").map_err(failed)?;
                t.read_rows(&["case_no".to_string()], &vec![0; (1 << 20) + 1]).map_err(failed)?;
            }
            // A column the model never declared, asked for at one row.
            "rows-undeclared" => {
                let t = newest::host::open_table("judgments").map_err(failed)?;
                t.read_rows(&["assessor_org".to_string()], &[0]).map_err(failed)?;
            }
            // One row a million times: a 4 MiB request for an answer of many times that, which a
            // small host memory budget must refuse before it is built.
            "rows-repeat" => {
                let t = newest::host::open_table("judgments").map_err(failed)?;
                t.read_rows(&["case_no".to_string()], &vec![0; 1 << 20]).map_err(failed)?;
            }
            // A dictionary's size beside the text it sizes; then a plain and an undeclared column.
            "dictionary-size" => {
                let t = newest::host::open_table("judgments").map_err(failed)?;
                let size = t.dictionary_size("repair_shop").map_err(failed)?;
                let text = t.dictionary("repair_shop").map_err(failed)?;
                let entries = text.offsets.len() - 1;
                host::emit(&[clue("size".into(), format!("{size} of {entries}"), vec![])]);
                for column in ["case_no", "assessor_org"] {
                    let answer = format!("{:?}", t.dictionary_size(column));
                    host::emit(&[clue(column.into(), answer, vec![])]);
                }
            }
            // Rows picked out of order and repeated: each answer is text, and matches `read` there.
            "rows-ok" => {
                let t = newest::host::open_table("judgments").map_err(failed)?;
                let names = ["case_no".to_string(), "plaintiff_id".to_string()];
                let picked = t.read_rows(&names, &[4, 0, 4]).map_err(failed)?;
                let whole = judgments.read(&names[..1], 0, 5).map_err(failed)?;
                let dictionary = judgments.dictionary("case_no").ok();
                for (i, row) in [4usize, 0, 4].into_iter().enumerate() {
                    let case_no = newest_text(&picked[0].data, i);
                    let plaintiff = newest_text(&picked[1].data, i);
                    let same = case_no == old_text(&whole.columns[0].data, row, dictionary.as_ref());
                    host::emit(&[clue(
                        case_no,
                        format!("row {row} same {same} plaintiff {plaintiff}"),
                        vec![],
                    )]);
                }
            }
            // Host work in a loop: each call is cheap for the guest, not for the host.
            "read-loop" => loop {
                let names = ["case_no".to_string(), "plaintiff_id".to_string()];
                std::hint::black_box(judgments.read(&names, 0, 1024).map_err(failed)?);
            },
            // Burn as much fuel as `describe()` in mode `burn` does, then finish.
            "burn" => {
                burn();
                host::emit(&[clue("burnt".into(), "after burning".into(), vec![])]);
            }
            // The same loop without host calls, to compare time per unit of fuel.
            "spin" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            // Open tables until the host says no.
            "open-tables" => {
                let mut held = Vec::new();
                loop {
                    held.push(host::open_table("judgments").map_err(failed)?);
                }
            }
            // An hour's sleep, then a clue: clocks are frozen, so it must return at once.
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                host::emit(&[clue("slept".into(), "after an hour".into(), vec![])]);
            }
            // Wait on a pollable that never fires on a real clock.
            "poll-forever" => {
                let forever = wasip2::clocks::monotonic_clock::subscribe_duration(u64::MAX);
                forever.block();
                let also = wasip2::clocks::monotonic_clock::subscribe_instant(u64::MAX);
                wasip2::io::poll::poll(&[&also, &forever]);
                host::emit(&[clue("woke".into(), "after forever".into(), vec![])]);
            }
            // A million pollables in one poll.
            "poll-many" => {
                let p = wasip2::clocks::monotonic_clock::subscribe_duration(0);
                let list: Vec<&wasip2::io::poll::Pollable> = vec![&p; 1_000_000];
                wasip2::io::poll::poll(&list);
            }
            // One 256 MiB write to stdout, past its permit.
            "write-huge" => {
                let out = wasip2::cli::stdout::get_stdout();
                let _ = out.write(&vec![b'w'; 256 << 20]);
            }
            // A flood of ordinary prints.
            "stdout-flood" => loop {
                println!("{}", "z".repeat(1000));
            },
            // Ask for a gigabyte of random bytes.
            "random-huge" => {
                std::hint::black_box(wasip2::random::random::get_random_bytes(1 << 30));
            }
            // NaN through a relaxed-SIMD truncation: 0x80000000 on x86, 0 on ARM, unless deterministic.
            "relaxed-nan" => {
                let bits = relaxed_trunc_nan();
                host::log(LogLevel::Info, &format!("relaxed-trunc(NaN) = {bits:#x}"));
            }
            other => return Err(ModelError::BadParam(format!("unknown mode {other:?}"))),
        }
        Ok(())
    }
}

/// Value `i` of a 0.1.3 column, which `read-rows` must hand over as text.
fn newest_text(data: &newest::types::ColumnData, i: usize) -> String {
    match data {
        newest::types::ColumnData::Text(t) => {
            t.bytes[t.offsets[i] as usize..t.offsets[i + 1] as usize].to_string()
        }
        _ => "not decoded".into(),
    }
}

/// Value `i` of a 0.1.0 column, plain or coded against `dictionary`.
fn old_text(data: &ColumnData, i: usize, dictionary: Option<&TextColumn>) -> String {
    let at = |t: &TextColumn, i: usize| t.bytes[t.offsets[i] as usize..t.offsets[i + 1] as usize].to_string();
    match (data, dictionary) {
        (ColumnData::Text(t), _) => at(t, i),
        (ColumnData::Dictionary(codes), Some(d)) => at(d, codes[i] as usize),
        _ => "unreadable".into(),
    }
}

/// A fixed amount of work: a few hundred million units of fuel, well inside describe()'s budget.
fn burn() {
    let mut x = 0u64;
    for _ in 0..40_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
    }
}

#[target_feature(enable = "simd128,relaxed-simd")]
fn relaxed_trunc_nan() -> u32 {
    use std::arch::wasm32::*;
    let nan = f32x4_splat(std::hint::black_box(f32::NAN));
    u32x4_extract_lane::<0>(i32x4_relaxed_trunc_f32x4(nan))
}

export!(Raw);
