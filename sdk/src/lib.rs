//! Sieve SDK: write a community supervision model once, run it sandboxed in the Sieve host
//! (as a `wasm32-wasip2` component) or natively (unit tests, baselines).
//!
//! A model implements [`Model`]: [`Model::describe`] declares the tables and columns it reads
//! and its parameters; [`Model::run`] loads columns through the [`Context`] and emits [`Clue`]s.
//! [`export_model!`] registers it as the component's export.
//!
//! ```
//! use sieve_sdk::{export_model, ops, Clue, Context, Model, ModelError, ModelInfo, TableSpec};
//!
//! /// Flags plaintiffs with at least `min-cases` suits.
//! pub struct FrequentPlaintiffs;
//!
//! impl Model for FrequentPlaintiffs {
//!     fn describe() -> ModelInfo {
//!         ModelInfo::new("frequent-plaintiffs", "0.1.0")
//!             .summary("Plaintiffs who sue unusually often.")
//!             .task("private-lending-fraud", "case")
//!             .input(TableSpec::new("lending_cases").text(&["case_no", "plaintiff_id"]))
//!             .param_int("min-cases", 15, "Suits a plaintiff must have filed to be flagged.")
//!     }
//!
//!     fn run(ctx: &mut Context) -> Result<(), ModelError> {
//!         let min_cases: usize = ctx.param("min-cases")?;
//!         let cases = ctx.table("lending_cases")?.load(&["case_no", "plaintiff_id"])?;
//!         let (case_no, plaintiff) = (cases.text("case_no")?, cases.text("plaintiff_id")?);
//!         let by_plaintiff = ops::Index::build(&plaintiff);
//!         for (who, rows) in by_plaintiff.groups() {
//!             if rows.len() < min_cases {
//!                 continue;
//!             }
//!             for &row in rows {
//!                 let clue = Clue::new(case_no.str(row as usize), 0.8, "frequent-plaintiff",
//!                     format!("{who} filed {} suits", rows.len()))
//!                     .evidence("lending_cases", [row as usize]);
//!                 ctx.emit(clue);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_model!(FrequentPlaintiffs);
//!
//! // The same model, run natively on a CSV fixture:
//! let info = FrequentPlaintiffs::describe();
//! let data = sieve_sdk::native::Dataset::from_csv(&info, &[(
//!     "lending_cases",
//!     "case_no,plaintiff_id\nc1,p1\nc2,p1\nc3,p2\n",
//! )]).unwrap();
//! let out = sieve_sdk::native::run::<FrequentPlaintiffs>(&data, &[("min-cases", "2")]).unwrap();
//! assert_eq!(out.clues.len(), 2);
//! ```

extern crate self as sieve_sdk;

pub mod context;
pub mod data;
pub mod model;
pub mod native;
pub mod ops;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod guest;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use context::{Context, Derived, Frame, Key, Prim, TableReader, TextCol};
pub use data::{Column, Text, Values};
pub use model::{
    AccessError, Clue, ColumnSpec, ColumnType, Evidence, FromParam, LogLevel, Model, ModelError, ModelInfo,
    ParamSpec, ParamType, ParamValue, Params, TableSpec,
};

/// Register a [`Model`] as the component's `sieve:model/model` export.
///
/// On `wasm32` this generates the export glue; on other targets it expands to nothing, so the
/// same crate builds natively for tests and benchmarks.
#[macro_export]
macro_rules! export_model {
    ($model:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct SieveExport;
            impl $crate::guest::wit::exports::sieve::model::model::Guest for SieveExport {
                fn describe() -> $crate::guest::wit::sieve::model::types::ModelInfo {
                    $crate::guest::describe::<$model>()
                }
                fn run(
                    params: ::std::vec::Vec<$crate::guest::wit::sieve::model::types::Param>,
                ) -> ::std::result::Result<(), $crate::guest::wit::sieve::model::types::ModelError> {
                    $crate::guest::run::<$model>(params)
                }
            }
    $crate::guest::wit::export!(SieveExport with_types_in $crate::guest::wit);
        };
    };
}
