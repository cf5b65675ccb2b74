//! Host-side bindings of the `acme:ca-handler/ca-handler` world, generated
//! from the project's WIT. WASI interfaces come from `wasmtime-wasi` and
//! `wasmtime-wasi-http`; `wasi:config/store` is implemented by this crate.

#![allow(
    missing_docs,
    reason = "the WIT documents every item; generated code does not carry all of it"
)]

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "acme:ca-handler/ca-handler",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
    require_store_data_send: true,
});

pub use exports::acme::ca_handler::handler::{
    Certificate, Enrollment, HandlerError, HttpFailure, Pending, PollResult, RevocationError,
    TransportCause, TransportFailure,
};

/// `wasi:config/store` under the package version `0.2.0-rc.1`, the one the
/// wasmtime CLI provides: the host links it beside Spin's draft, so that the
/// component built for `wasmtime serve` (cargo feature `wasmtime-serve`)
/// loads here too, and one file serves every host.
pub mod config_rc1 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "acme:ca-handler/est-ca-handler-wasmtime-serve",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
        require_store_data_send: true,
    });

    pub use wasi::config0_2_0_rc_1::store;
}
