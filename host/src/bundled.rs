//! The models that ship inside the `sieve` binary, compiled from `plugins/` by the build script.

mod artifacts {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

pub use artifacts::TEST_GUESTS;

/// Names of the bundled models.
pub fn names() -> impl Iterator<Item = &'static str> {
    artifacts::BUNDLED.iter().map(|(name, _)| *name)
}

/// The component bytes of bundled model `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    artifacts::BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}
