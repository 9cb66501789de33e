//! Sieve host: runs community supervision models as sandboxed WebAssembly components.

pub mod api;
pub mod audit;
pub mod build_id;
pub mod bundled;
pub mod cli;
pub mod clues;
pub mod competition;
pub mod datasets;
pub mod digest;
pub mod generate;
pub mod registry;
pub mod runs;
pub mod sandbox;
pub mod scoring;
pub mod storage;
pub mod text;
pub mod web;
