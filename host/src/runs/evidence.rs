//! A clue's evidence as the actual rows of the dataset it was found in, so a prosecutor verifies
//! it without leaving the page: each evidence table's rows, all its contract columns, read from
//! the stored (digest-checked) table with only the pages holding those rows decoded.

use serde::Serialize;
use sieve_sdk::TableSpec;

use super::store::StoredClue;
use crate::datasets::{contract, csv_io, parquet_io};
use crate::registry::{Actor, Registry, RegistryError, Result, off_runtime};

/// Evidence rows shown per table at most (a clue may name more; the rest stay listed by number).
pub const MAX_ROWS_SHOWN: usize = 50;

/// One table's evidence rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceTable {
    /// The table.
    pub table: String,
    /// Its columns, in contract order.
    pub columns: Vec<String>,
    /// `(row index, cells)`; a null cell is `None`.
    pub rows: Vec<(u64, Vec<Option<String>>)>,
    /// Rows the clue names beyond those shown.
    pub more: usize,
}

/// A clue with its evidence rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClueEvidence {
    /// The clue.
    pub clue: StoredClue,
    /// Its evidence, table by table.
    pub tables: Vec<EvidenceTable>,
}

impl Registry {
    /// Clue `seq` of run `id` with its evidence rows, for whoever may read the run's clues.
    /// Table names and row numbers come from the model: only the task's tables are read, and
    /// rows past a table's end are left out.
    pub async fn clue_evidence(&self, actor: &Actor, id: i64, seq: i64) -> Result<ClueEvidence> {
        let run = self.readable_run(actor, id).await?;
        let clue = self
            .run_clues(actor, id, super::store::ClueOrder::Seq, seq.max(1), 1)
            .await?
            .into_iter()
            .find(|c| c.seq == seq)
            .ok_or_else(|| RegistryError::NotFound { kind: "clue", id: format!("#{seq} of run {id}") })?;
        let dataset = self.dataset(&run.dataset, false).await?;
        let specs = contract::tables(&dataset.task).unwrap_or_default();
        // Which rows of which tables, as the clue names them.
        let mut wanted: Vec<(TableSpec, String, u64, Vec<usize>)> = Vec::new();
        for item in clue.evidence.as_array().map(Vec::as_slice).unwrap_or_default() {
            let (Some(table), Some(row)) = (item["table"].as_str(), item["row"].as_u64()) else { continue };
            let (Some(spec), Some(stored)) =
                (specs.iter().find(|s| s.name == table), dataset.tables.iter().find(|t| t.name == table))
            else {
                continue;
            };
            if row >= stored.rows as u64 {
                continue;
            }
            match wanted.iter_mut().find(|w| w.0.name == table) {
                Some(w) => w.3.push(row as usize),
                None => {
                    wanted.push((spec.clone(), stored.digest.clone(), stored.rows as u64, vec![row as usize]))
                }
            }
        }
        let registry = self.clone();
        let label = format!("{}@{}", dataset.name, dataset.version);
        let tables = off_runtime(move || -> Result<Vec<EvidenceTable>> {
            let mut tables = Vec::new();
            for (spec, digest, _, mut rows) in wanted {
                rows.sort_unstable();
                rows.dedup();
                let more = rows.len().saturating_sub(MAX_ROWS_SHOWN);
                rows.truncate(MAX_ROWS_SHOWN);
                let bytes = registry.blobs.get(&digest)?;
                let (columns, _) =
                    parquet_io::read_rows_from_bytes(bytes, &format!("{label}/{}", spec.name), &spec, &rows)
                        .map_err(|e| RegistryError::Invalid(e.to_string()))?;
                let cells = |i: usize| {
                    columns.iter().map(|c| c.is_valid(i).then(|| csv_io::cell(c, i))).collect::<Vec<_>>()
                };
                tables.push(EvidenceTable {
                    table: spec.name.clone(),
                    columns: spec.columns.iter().map(|c| c.name.clone()).collect(),
                    rows: rows.iter().enumerate().map(|(i, &row)| (row as u64, cells(i))).collect(),
                    more,
                });
            }
            Ok(tables)
        })
        .await??;
        Ok(ClueEvidence { clue, tables })
    }
}
