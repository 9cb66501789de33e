//! Host bindings generated from `wit/` (`sieve:model@0.1.3`; wasmtime matches an older 0.1.x component's
//! imports and exports to these by semver).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "supervision-model",
    imports: { default: trappable },
    with: { "sieve:model/host.table": super::state::TableHandle },
});
