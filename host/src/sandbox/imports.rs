//! The import allow-list: a component may import `sieve:model` and the WASI interfaces that a
//! language's standard library links even when unused, nothing else (no HTTP, nothing unknown).
//! `wasi:sockets` is among them because CPython's and others' runtimes import it whatever the
//! model does; it is linked to an implementation that denies every socket (`sockets`).

/// The package and version of the contract this host serves.
pub const API_PACKAGE: &str = "sieve:model";
/// Supported contract versions.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["0.1.0", "0.1.1", "0.1.2", "0.1.3"];

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

/// The socket interfaces, linked as always denied (see `sandbox::sockets`).
const DENIED_SOCKETS: &[&str] = &[
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];

/// How an allowed import is linked, for `inspect` and vetting.
pub fn how_linked(name: &str) -> &'static str {
    let (base, _) = split(name);
    match base {
        b if b.starts_with("sieve:model/") => "the model contract",
        "sieve:sql/source" => {
            "the SQL model the engine runs (its text and its task's contract); traps for any other run"
        }
        b if DENIED_SOCKETS.contains(&b) => "linked, denied: no socket can be opened, no name resolved",
        b if b.starts_with("wasi:clocks/") => "frozen at the run's start",
        b if b.starts_with("wasi:random/") => "seeded from the run (reproducible)",
        b if b.starts_with("wasi:filesystem/") => "no files: nothing is preopened",
        "wasi:cli/environment" => "empty: no variables, no arguments",
        "wasi:cli/stdin" => "empty",
        "wasi:cli/stdout" | "wasi:cli/stderr" => "captured into the run report, capped",
        "wasi:cli/exit" => "ends the run",
        b if b.starts_with("wasi:cli/terminal-") => "no terminal",
        _ => "streams and polls of the above",
    }
}

/// Whether any of `imports` is a socket interface (linked, denied).
pub fn imports_sockets<'a>(imports: impl IntoIterator<Item = &'a String>) -> bool {
    imports.into_iter().any(|name| DENIED_SOCKETS.contains(&split(name).0))
}

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
            return Err(format!("{name} is not part of {API_PACKAGE}"));
        }
        return match version {
            Some(v) if SUPPORTED_API_VERSIONS.contains(&v) => Ok(()),
            _ => Err(format!(
                "{name} needs an unsupported {API_PACKAGE} version (this host serves {})",
                SUPPORTED_API_VERSIONS.join(", ")
            )),
        };
    }
    if ALLOWED_WASI.contains(&base) || DENIED_SOCKETS.contains(&base) {
        return match version {
            Some(v) if v.starts_with("0.2.") => Ok(()),
            _ => Err(format!("{name}: only WASI 0.2 is linked (build for wasm32-wasip2 / WASI 0.2)")),
        };
    }
    if base == super::sql::SOURCE_INTERFACE {
        return match version {
            Some("0.1.0") => Ok(()),
            _ => Err(format!("{name}: this host serves sieve:sql 0.1.0")),
        };
    }
    if base.starts_with("wasi:http/") {
        return Err(format!("{name}: models get no HTTP"));
    }
    Err(format!("{name} is not a capability this host grants"))
}

/// Check every import of a component before anything is compiled: the error lists each refused
/// one (not only the first), then how the usual toolchains avoid them.
pub fn check_imports<'a>(names: impl IntoIterator<Item = &'a String>) -> Result<(), String> {
    let refused: Vec<String> = names.into_iter().filter_map(|n| check_import(n).err()).collect();
    if refused.is_empty() {
        return Ok(());
    }
    let http = refused.iter().any(|r| r.contains("wasi:http/"));
    let mut message = format!(
        "the component imports what this host does not link ({} refused): {}. Models may import only \
         {API_PACKAGE} and WASI 0.2 (locked down; sockets linked but denied)",
        refused.len(),
        refused.join("; ")
    );
    if http {
        message.push_str(
            ". HTTP comes from the toolchain, not the model: with componentize-js pass `-d http fetch-event`; \
             in Rust drop the HTTP client crate",
        );
    }
    Err(message)
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
        assert!(check_import("wasi:sockets/tcp@0.2.9").is_ok(), "sockets are linked, denied");
        assert!(check_import("wasi:sockets/tcp@0.3.0").is_err());
        assert!(check_import("wasi:http/outgoing-handler@0.2.0").is_err());
        assert!(check_import("sieve:model/host@9.0.0").is_err());
        assert!(check_import("wasi:io/streams@0.3.0").is_err());
    }

    #[test]
    fn every_refused_import_is_named_with_the_fix() {
        let names: Vec<String> = [
            "wasi:io/streams@0.2.6",
            "wasi:http/types@0.2.3",
            "wasi:http/outgoing-handler@0.2.3",
            "acme:spy/exfiltrate@1.0.0",
            "wasi:sockets/udp@0.2.9",
        ]
        .map(String::from)
        .to_vec();
        let e = check_imports(&names).expect_err("refused");
        for refused in
            ["wasi:http/types@0.2.3", "wasi:http/outgoing-handler@0.2.3", "acme:spy/exfiltrate@1.0.0"]
        {
            assert!(e.contains(refused), "{refused} is named: {e}");
        }
        assert!(e.contains("3 refused") && e.contains("-d http fetch-event"), "{e}");
        assert!(
            !e.contains("wasi:sockets/udp") && !e.contains("wasi:io/streams"),
            "allowed ones are not: {e}"
        );
    }
}
