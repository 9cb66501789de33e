//! Host bindings generated from `wit/` (`sieve:model@0.1.2`; wasmtime matches a 0.1.0 or 0.1.1 component's
//! imports and exports to these by semver).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "supervision-model",
    imports: { default: trappable },
    with: { "sieve:model/host.table": super::state::TableHandle },
});
