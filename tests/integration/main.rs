//! Integration tests: the real `sieve` binary, real components compiled from `plugins/` and
//! `tests/guests/`, real generated data.

mod attacks;
#[macro_use]
mod registry;
mod cli;
mod common;
mod competitions;
mod datasets;
mod fixtures;
mod sandbox;
mod security;
