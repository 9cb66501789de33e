//! A model that reaches for the network: its component imports `wasi:sockets`, which the host
//! must refuse before instantiation.

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
        std::net::TcpStream::connect("127.0.0.1:9").map_err(|e| ModelError::Failed(e.to_string()))?;
        Ok(())
    }
}

export_model!(Sockets);
