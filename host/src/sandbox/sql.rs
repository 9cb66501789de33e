//! `sieve:sql/source`: what the SQL engine component asks about the SQL model it runs. A run of
//! a SQL model is a run of the engine with a [`SqlSource`] attached to it
//! ([`super::Plugin::with_sql`]); the host answers with the model's published text and its
//! task's table contract. The interface is linked for every component, and answers only a run
//! that has a SQL model attached: for any other, calling it traps.

use wasmtime::component::Linker;

use super::state::RunState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/sql",
        world: "engine-imports",
        imports: { default: trappable },
    });
}

use bindings::sieve::sql::source::{self, ContractColumn, ContractTable};

/// The name the engine describes a model by when its query cannot be planned (the summary then
/// says why).
pub const PLAN_ERROR: &str = "sql-plan-error";

/// The package and interface the engine imports.
pub const SOURCE_INTERFACE: &str = "sieve:sql/source";

/// A SQL model as the engine gets it: its canonical text, and the contract of its task.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlSource {
    /// Header and query, as published.
    pub text: String,
    /// The task its header names.
    pub task: String,
    /// Each table of that task's contract, with its columns' names and type names.
    pub contract: Vec<(String, Vec<(String, String)>)>,
}

fn attached(state: &RunState) -> wasmtime::Result<&SqlSource> {
    state.sql.as_deref().ok_or_else(|| {
        wasmtime::Error::msg("sieve:sql/source answers only the SQL engine running a SQL model")
    })
}

impl source::Host for RunState {
    fn model_text(&mut self) -> wasmtime::Result<String> {
        Ok(attached(self)?.text.clone())
    }

    fn contract(&mut self, task: String) -> wasmtime::Result<Result<Vec<ContractTable>, String>> {
        let sql = attached(self)?;
        if task != sql.task {
            return Ok(Err(format!("task {task:?} is not the model's ({})", sql.task)));
        }
        Ok(Ok(sql
            .contract
            .iter()
            .map(|(name, columns)| ContractTable {
                name: name.clone(),
                columns: columns
                    .iter()
                    .map(|(name, kind)| ContractColumn { name: name.clone(), kind: kind.clone() })
                    .collect(),
            })
            .collect()))
    }
}

/// Link `sieve:sql/source`.
pub fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    source::add_to_linker::<RunState, wasmtime::component::HasSelf<RunState>>(linker, |state| state)
}
