//! Bounded compilation. A component is scanned before it is loaded (its size, what it imports
//! and exports, and the shape of every function: count, locals, body size), and before anything
//! is compiled its functions' nesting (which Cranelift's cost grows with faster than linearly) is
//! checked too; then it is compiled in a worker process with a timeout and a memory cap, so a
//! hostile component costs at most the limits, never the host.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wasmparser::{Operator, Parser, Payload};

/// How far a component may go before compiling is refused; each refusal names its limit.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileLimits {
    /// Size of the component file.
    pub max_component_bytes: usize,
    /// Functions with bodies, over all core modules.
    pub max_functions: usize,
    /// Size of one function body.
    pub max_function_bytes: usize,
    /// Locals of one function.
    pub max_locals: u64,
    /// Nesting of blocks, loops and ifs in one function.
    pub max_nesting: usize,
    /// Wall time the compiler worker may take.
    pub timeout: Duration,
    /// Address space the compiler worker may use.
    pub memory_bytes: u64,
}

impl Default for CompileLimits {
    /// Room for a whole language runtime (CPython or SpiderMonkey components are 12-18 MiB, an
    /// embedded SQL engine about 60 MB); a bundled model is under 1 MiB and nests under 100 deep.
    fn default() -> Self {
        CompileLimits {
            max_component_bytes: 128 << 20,
            max_functions: 500_000,
            max_function_bytes: 8 << 20,
            max_locals: 50_000,
            // Compile time grows with the square of nesting (5,000 nested `if`s: 1.2 s for 25 KB).
            max_nesting: 2_000,
            timeout: Duration::from_secs(120),
            memory_bytes: 4 << 30,
        }
    }
}

/// What a scan found at the component's top level.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Names the component imports.
    pub imports: Vec<String>,
    /// Names it exports.
    pub exports: Vec<String>,
    /// Functions with bodies, over all core modules.
    pub functions: usize,
}

/// Scan `bytes` without compiling: top-level imports and exports, and every function's count,
/// size and locals against `limits`. Reads each body's header only, not its instructions (the
/// nesting is checked before compiling, which a load from the code cache does not need).
pub fn scan(bytes: &[u8], limits: &CompileLimits) -> Result<Shape, String> {
    if bytes.len() > limits.max_component_bytes {
        return Err(format!(
            "the component is {} bytes; the host compiles at most {} (the component size limit)",
            bytes.len(),
            limits.max_component_bytes
        ));
    }
    let mut shape = Shape::default();
    // Each module or component starts with a `Version` payload and ends with `End`: depth 1 is
    // the component itself, whose imports and exports are the ones that matter.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| e.to_string())? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    shape.imports.push(import.map_err(|e| e.to_string())?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    shape.exports.push(export.map_err(|e| e.to_string())?.name.name.to_string());
                }
            }
            Payload::CodeSectionEntry(body) => {
                shape.functions += 1;
                if shape.functions > limits.max_functions {
                    return Err(format!(
                        "the component has over {} functions (the function count limit)",
                        limits.max_functions
                    ));
                }
                let size = body.range().len();
                if size > limits.max_function_bytes {
                    return Err(format!(
                        "function {} is {size} bytes; at most {} are compiled (the function size limit)",
                        shape.functions - 1,
                        limits.max_function_bytes
                    ));
                }
                let mut locals = 0u64;
                for group in body.get_locals_reader().map_err(|e| e.to_string())? {
                    locals += u64::from(group.map_err(|e| e.to_string())?.0);
                }
                if locals > limits.max_locals {
                    return Err(format!(
                        "function {} declares {locals} locals; at most {} are compiled (the locals limit)",
                        shape.functions - 1,
                        limits.max_locals
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// The deepest nesting of blocks in any function of `bytes`, or the error naming the first
/// function nested deeper than `limits` allow. Visits every instruction.
pub fn check_nesting(bytes: &[u8], limits: &CompileLimits) -> Result<usize, String> {
    let (mut function, mut deepest) = (0usize, 0usize);
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CodeSectionEntry(body) = payload.map_err(|e| e.to_string())? {
            let nesting = nesting(&body).map_err(|e| e.to_string())?;
            if nesting > limits.max_nesting {
                return Err(format!(
                    "function {function} nests blocks {nesting} deep; at most {} are compiled (the nesting limit)",
                    limits.max_nesting
                ));
            }
            deepest = deepest.max(nesting);
            function += 1;
        }
    }
    Ok(deepest)
}

fn nesting(body: &wasmparser::FunctionBody<'_>) -> wasmparser::Result<usize> {
    let mut ops = body.get_operators_reader()?;
    let (mut depth, mut deepest) = (0usize, 0usize);
    while !ops.eof() {
        match ops.read()? {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. } => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Operator::End => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(deepest)
}

/// Where compilation happens.
#[derive(Debug, Clone)]
pub enum Compiler {
    /// In this process, unbounded in time and memory: for tests and embedders that trust the
    /// component (the scan's limits still apply).
    InProcess,
    /// In a child process running `program compile-worker`, killed at the timeout and capped in
    /// address space: what the CLI and the registry use.
    Worker {
        /// The `sieve` executable.
        program: PathBuf,
    },
}

/// The hidden subcommand that turns a component on stdin into a compiled artifact on stdout.
pub const WORKER_COMMAND: &str = "compile-worker";

/// Compile `bytes` (already [`scan`]ned) to an artifact for `engine` (whose configuration the
/// worker rebuilds with [`super::engine_config`]), once its nesting is within `limits`.
pub fn compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    compiler: &Compiler,
    limits: &CompileLimits,
) -> Result<Vec<u8>, String> {
    check_nesting(bytes, limits)?;
    match compiler {
        Compiler::InProcess => engine.precompile_component(bytes).map_err(|e| format!("{e:#}")),
        Compiler::Worker { program } => compile_in_worker(program, bytes, limits),
    }
}

fn compile_in_worker(program: &PathBuf, bytes: &[u8], limits: &CompileLimits) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(program);
    cmd.arg(WORKER_COMMAND).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cap_address_space(&mut cmd, limits.memory_bytes);
    let mut child =
        cmd.spawn().map_err(|e| format!("cannot start the compiler worker {}: {e}", program.display()))?;
    // Feed and drain on threads: a large component or artifact must not deadlock the pipes.
    let mut stdin = child.stdin.take().ok_or("the compiler worker has no stdin")?;
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = child.stdout.take().ok_or("the compiler worker has no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let mut stderr = child.stderr.take().ok_or("the compiler worker has no stderr")?;
    let err_reader = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        err
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if started.elapsed() > limits.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "compiling took longer than {} s (the compile time limit)",
                    limits.timeout.as_secs_f64()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let _ = feeder.join();
    let artifact = reader.join().map_err(|_| "the compiler worker's output was lost".to_string())?;
    let message = err_reader.join().unwrap_or_default();
    let message = crate::text::prefix(message.trim(), 512);
    match status.code() {
        Some(0) => {}
        // The worker's own refusal (an invalid component): its message says why.
        Some(1) => return Err(message),
        // Killed by a signal or aborted: under the address-space cap, that is an allocation failing.
        _ => {
            return Err(format!(
                "the compiler worker died ({status}): compiling may use at most {} MiB (the compile memory limit); {message}",
                limits.memory_bytes >> 20
            ));
        }
    }
    artifact.map_err(|e| format!("reading the compiler worker's output: {e}"))
}

/// Limit the child's address space. The worker's engine reserves no instance pool, so its
/// address space is the compiler's heap, code and thread stacks.
fn cap_address_space(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: between fork and exec the closure calls only setrlimit, which is async-signal-safe,
    // and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The worker's main: a component on stdin, the compiled artifact on stdout, errors on stderr.
pub fn worker_main() -> i32 {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("reading the component: {e}");
        return 2;
    }
    let engine = match wasmtime::Engine::new(&super::engine_config()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("configuring wasmtime: {e}");
            return 2;
        }
    };
    match engine.precompile_component(&bytes) {
        Ok(artifact) => match std::io::stdout().write_all(&artifact) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("writing the artifact: {e}");
                2
            }
        },
        Err(e) => {
            eprintln!("{e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(functions: &str) -> Vec<u8> {
        wat::parse_str(format!("(component (core module {functions}))")).expect("wat")
    }

    #[test]
    fn shapes_over_a_limit_are_refused_naming_it() {
        let nested = |depth: usize| {
            format!("(func (param i32) {} {})", "local.get 0 if ".repeat(depth), "end ".repeat(depth))
        };
        let limits = CompileLimits::default();
        let ok = scan(&component(&nested(100)), &limits).expect("100 deep is fine");
        assert_eq!(ok.functions, 1);
        assert_eq!(check_nesting(&component(&nested(100)), &limits), Ok(100));
        let too_deep = component(&format!("{} {}", nested(1), nested(limits.max_nesting + 1)));
        let e = check_nesting(&too_deep, &limits).expect_err("too deep");
        assert!(e.contains("function 1 nests blocks 2001 deep") && e.contains("the nesting limit"), "{e}");
        let engine = wasmtime::Engine::default();
        let e = compile(&engine, &too_deep, &Compiler::InProcess, &limits).expect_err("not compiled");
        assert!(e.contains("the nesting limit"), "{e}");

        let small = CompileLimits { max_component_bytes: 16, ..CompileLimits::default() };
        let e = scan(&component(&nested(1)), &small).expect_err("too big");
        assert!(e.contains("the component size limit"), "{e}");
        let few = CompileLimits { max_functions: 1, ..CompileLimits::default() };
        let e = scan(&component(&format!("{} {}", nested(1), nested(1))), &few).expect_err("too many");
        assert!(e.contains("the function count limit"), "{e}");
        let locals = format!("(func {})", "(local i64) ".repeat(11));
        let e = scan(&component(&locals), &CompileLimits { max_locals: 10, ..CompileLimits::default() })
            .expect_err("too many locals");
        assert!(e.contains("declares 11 locals"), "{e}");
    }

    #[test]
    fn only_the_components_own_imports_count() {
        let bytes = wat::parse_str(
            r#"(component
                 (import "wasi:cli/stdout@0.2.6" (instance))
                 (component (import "nested:only/inside" (instance))))"#,
        )
        .expect("wat");
        let shape = scan(&bytes, &CompileLimits::default()).expect("scan");
        assert_eq!(shape.imports, ["wasi:cli/stdout@0.2.6"]);
    }
}
