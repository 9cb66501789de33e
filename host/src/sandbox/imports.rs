//! The import allow-list: a component may import `sieve:model` and the WASI interfaces that a
//! language's standard library links even when unused, nothing else (no sockets, no HTTP).

/// The package and version of the contract this host serves.
pub const API_PACKAGE: &str = "sieve:model";
/// Supported contract versions.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["0.1.0", "0.1.1"];

/// Whether a component built against `version` reads shared dictionaries (`table.dictionary-id`,
/// from 0.1.1): the host then serves all text columns of a run coded against one dictionary.
pub fn shares_dictionaries(version: &str) -> bool {
    version != "0.1.0"
}

/// WASI interfaces a guest may import; the host links them locked down (no preopens, env, args
/// or network; fixed clocks; seeded random; bounded stdio).
const ALLOWED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// Split `ns:pkg/iface@version` into (`ns:pkg/iface`, version).
fn split(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Check one import name; the error names it and says why it is refused.
pub fn check_import(name: &str) -> Result<(), String> {
    let (base, version) = split(name);
    if let Some(iface) = base.strip_prefix("sieve:model/") {
        if !matches!(iface, "types" | "host") {
            return Err(format!("import {name:?} is not part of {API_PACKAGE}"));
        }
        return match version {
            Some(v) if SUPPORTED_API_VERSIONS.contains(&v) => Ok(()),
            _ => Err(format!(
                "import {name:?} needs an unsupported {API_PACKAGE} version (this host serves {})",
                SUPPORTED_API_VERSIONS.join(", ")
            )),
        };
    }
    if ALLOWED_WASI.contains(&base) {
        return match version {
            Some(v) if v.starts_with("0.2.") => Ok(()),
            _ => Err(format!("import {name:?}: only WASI 0.2 is linked")),
        };
    }
    Err(format!(
        "import {name:?} is not allowed: models may import only {API_PACKAGE} and locked-down WASI (no sockets, HTTP or other capabilities)"
    ))
}

/// The `sieve:model` version a component was built against, from its import/export names.
pub fn api_version<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    names.into_iter().find_map(|n| {
        let (base, version) = split(n);
        base.starts_with("sieve:model/").then(|| version.unwrap_or("").to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_network_and_unknown_versions() {
        assert!(check_import("wasi:io/streams@0.2.6").is_ok());
        assert!(check_import("sieve:model/host@0.1.0").is_ok());
        let e = check_import("wasi:sockets/tcp@0.2.0").expect_err("sockets refused");
        assert!(e.contains("wasi:sockets/tcp@0.2.0"));
        assert!(check_import("wasi:http/outgoing-handler@0.2.0").is_err());
        assert!(check_import("sieve:model/host@9.0.0").is_err());
        assert!(check_import("wasi:io/streams@0.3.0").is_err());
    }
}
