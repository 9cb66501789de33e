//! A hostile model for the sandbox tests: its `mode` parameter picks the misbehaviour.

use sieve_sdk::{Clue, Context, Key, LogLevel, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The hostile model.
pub struct Hostile;

// Unbounded on purpose: the sandbox must turn the stack overflow into a trap.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    // Not a tail call: every frame stays on the stack.
    std::hint::black_box(depth) + recurse(depth + 1) * 2
}

impl Model for Hostile {
    fn describe() -> ModelInfo {
        ModelInfo::new("hostile", "0.1.0")
            .summary("Misbehaves on purpose, as its `mode` parameter says.")
            .task("vehicle-insurance-fraud", "case")
            .input(TableSpec::new("judgments").text(&["case_no", "repair_shop"]))
            .param_text(
                "mode",
                "ok",
                "ok | loop | memory | recursion | emit-flood | log-flood | stdout-flood | panic | \
                 labels | undeclared-column | dictionary-scope | bad-evidence | model-error",
            )
    }

    fn run(ctx: &mut Context) -> Result<(), ModelError> {
        let mode: String = ctx.param("mode")?;
        match mode.as_str() {
            "ok" => {
                let cases = ctx.table("judgments")?.load(&["case_no"])?;
                let case_no = cases.text("case_no")?;
                for row in 0..cases.len().min(5) {
                    ctx.emit(Clue::new(case_no.str(row), 0.5, "ok", "benign").evidence("judgments", [row]));
                }
            }
            "loop" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recursion" => {
                std::hint::black_box(recurse(0));
            }
            "emit-flood" => loop {
                ctx.emit(Clue::new("flood", 0.5, "flood", "x".repeat(100)));
            },
            "log-flood" => loop {
                ctx.log(LogLevel::Info, &"y".repeat(1000));
            },
            "stdout-flood" => loop {
                println!("{}", "z".repeat(1000));
            },
            "panic" => panic!("hostile guest panicked on purpose"),
            "labels" => {
                ctx.table("labels")?.load(&["subject"])?;
            }
            "undeclared-column" => {
                ctx.table("judgments")?.load(&["plaintiff_id"])?;
            }
            "dictionary-scope" => {
                // `repair_shop` belongs to a key domain with many undeclared columns (plaintiffs,
                // owners, employers): its dictionary must hold this column's values and no other.
                let cases = ctx.table("judgments")?.load(&["repair_shop"])?;
                let shop = cases.text("repair_shop")?;
                let (mut dictionary, mut used) = (None, Vec::new());
                for row in 0..cases.len() {
                    match shop.key(row) {
                        Some(Key::Code(code, dict)) => {
                            let dict = *dictionary.get_or_insert(dict);
                            used.resize(dict.len(), false);
                            used[code as usize] = true;
                        }
                        Some(Key::Text(_)) => {
                            return Err(ModelError::Failed("repair_shop is not coded".into()));
                        }
                        None => {}
                    }
                }
                let unused = used.iter().filter(|u| !**u).count();
                if unused > 0 {
                    return Err(ModelError::Failed(format!(
                        "the dictionary holds {unused} values no declared row holds"
                    )));
                }
                ctx.log(LogLevel::Info, &format!("a dictionary of {} values, all of them used", used.len()));
            }
            "bad-evidence" => {
                ctx.emit(
                    Clue::new("c", 0.5, "bad", "row far past the end")
                        .evidence("judgments", [usize::MAX >> 1]),
                );
            }
            "model-error" => return Err(ModelError::BadData("refusing on purpose".into())),
            other => return Err(ModelError::BadParam(format!("unknown mode {other:?}"))),
        }
        Ok(())
    }
}

export_model!(Hostile);
