//! Integration tests: the real `sieve` binary, real components compiled from `plugins/` and
//! `tests/guests/`, real generated data.

mod api;
mod attacks;
mod blob_store;
mod browser;
mod cli;
mod common;
mod competitions;
mod datasets;
mod fixtures;
mod languages;
mod multi_host;
mod registry;
mod sandbox;
mod security;
mod sql_models;
mod web;
mod workers;
