//! A model that reaches for the network. Its component imports `wasi:sockets`, which the host
//! links as always denied: it loads, and each attempt fails with the error its language gives
//! for a refused permission. The run fails naming what each attempt got, so a test reads it.

use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

use sieve_sdk::{Context, Model, ModelError, ModelInfo, TableSpec, export_model};

/// The networked model.
pub struct Sockets;

impl Model for Sockets {
    fn describe() -> ModelInfo {
        ModelInfo::new("sockets", "0.1.0")
            .summary("Tries to phone home.")
            .task("vehicle-insurance-fraud", "case")
            .input(TableSpec::new("judgments").text(&["case_no"]))
    }

    fn run(_ctx: &mut Context) -> Result<(), ModelError> {
        let connect = TcpStream::connect("127.0.0.1:9").err().map(|e| e.kind());
        let lookup = "example.org:80".to_socket_addrs().err().map(|e| e.kind());
        let bind = UdpSocket::bind("0.0.0.0:0").err().map(|e| e.kind());
        Err(ModelError::Failed(format!("connect: {connect:?}; lookup: {lookup:?}; udp bind: {bind:?}")))
    }
}

export_model!(Sockets);
