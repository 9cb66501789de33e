//! The `sieve` binary.

fn main() {
    std::process::exit(sieve_host::cli::main());
}
