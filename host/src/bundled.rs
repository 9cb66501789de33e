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

/// The bundled SQL models: each task's rule written in SQL (`plugins/sql/`), by file name.
pub const SQL_MODELS: [(&str, &str); 7] = [
    ("vehicle-insurance-fraud.sql", include_str!("../../plugins/sql/vehicle-insurance-fraud.sql")),
    ("private-lending-fraud.sql", include_str!("../../plugins/sql/private-lending-fraud.sql")),
    ("false-mediation-confirmation.sql", include_str!("../../plugins/sql/false-mediation-confirmation.sql")),
    ("judicial-auction-violations.sql", include_str!("../../plugins/sql/judicial-auction-violations.sql")),
    ("restricted-debtor-travel.sql", include_str!("../../plugins/sql/restricted-debtor-travel.sql")),
    ("vehicle-enforcement.sql", include_str!("../../plugins/sql/vehicle-enforcement.sql")),
    ("copyright-harvesting.sql", include_str!("../../plugins/sql/copyright-harvesting.sql")),
];

/// The text of bundled SQL model `name` (`<task>.sql`).
pub fn sql_model(name: &str) -> Option<&'static str> {
    SQL_MODELS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
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
