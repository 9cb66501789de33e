//! The models that ship inside the `sieve` binary, compiled from `plugins/` by the build script,
//! and the same models linked natively (the baseline `sieve bench` compares against).

use sieve_sdk::native::{self, Dataset, NativeError, NativeOutput};
use sieve_sdk::{Model, ModelInfo, Params};

mod artifacts {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

pub use artifacts::{DEMO_ENTRIES, TEST_GUESTS};

/// Names of the bundled models.
pub fn names() -> impl Iterator<Item = &'static str> {
    artifacts::BUNDLED.iter().map(|(name, _)| *name)
}

/// The component bytes of bundled model `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    artifacts::BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// A bundled model built for the host: its description and a native run.
pub struct NativeModel {
    /// The model's `describe()`.
    pub describe: fn() -> ModelInfo,
    /// Run it natively on in-memory tables.
    pub run: fn(&ModelInfo, &Dataset, Params) -> Result<NativeOutput, NativeError>,
}

fn native_model<M: Model>() -> NativeModel {
    NativeModel { describe: M::describe, run: native::run_with::<M> }
}

/// The native build of bundled model `name` (each task's model is named after its task).
pub fn native(name: &str) -> Option<NativeModel> {
    Some(match name {
        "vehicle-insurance-fraud" => native_model::<vehicle_insurance_fraud::VehicleInsuranceFraud>(),
        "private-lending-fraud" => native_model::<private_lending_fraud::PrivateLendingFraud>(),
        "false-mediation-confirmation" => {
            native_model::<false_mediation_confirmation::FalseMediationConfirmation>()
        }
        "judicial-auction-violations" => {
            native_model::<judicial_auction_violations::JudicialAuctionViolations>()
        }
        "restricted-debtor-travel" => native_model::<restricted_debtor_travel::RestrictedDebtorTravel>(),
        "vehicle-enforcement" => native_model::<vehicle_enforcement::VehicleEnforcement>(),
        "copyright-harvesting" => native_model::<copyright_harvesting::CopyrightHarvesting>(),
        _ => return None,
    })
}
