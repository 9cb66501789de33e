//! Host bindings generated from `wit/` (`sieve:model@0.1.0`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "supervision-model",
    imports: { default: trappable },
    with: { "sieve:model/host.table": super::state::TableHandle },
});
