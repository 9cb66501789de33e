//! The table contracts of DOMAIN.md: which tables and typed columns a dataset of each task holds.
//! Imports are checked against them, and so are the inputs a plugin declares when it is vetted.

use sieve_sdk::TableSpec;

/// The contract tables of `task`, or `None` for an unknown task.
pub fn tables(task: &str) -> Option<Vec<TableSpec>> {
    let enforcement = || {
        TableSpec::new("enforcement").text(&["case_no", "basis_case_no", "applicant_id"]).date(&["filed_on"])
    };
    let relations = || TableSpec::new("relations").text(&["person_a", "person_b", "kind"]);
    Some(match task {
        "vehicle-insurance-fraud" => vec![
            TableSpec::new("judgments")
                .text(&["case_no", "court"])
                .date(&["filed_on", "decided_on"])
                .text(&["plaintiff_id", "defendant_insurer", "plaintiff_lawyer", "plate"])
                .date(&["accident_on"])
                .text(&["assessor_org", "repair_shop"])
                .float64(&["claimed", "awarded"])
                .boolean(&["insurer_assessed", "claim_assigned"]),
            TableSpec::new("vehicles").text(&["plate", "owner_id"]).date(&["registered_on"]),
            TableSpec::new("employment").text(&["person_id", "employer_id"]).date(&["month"]),
            TableSpec::new("businesses").text(&["org_id", "name", "kind", "legal_rep_id"]),
        ],
        "private-lending-fraud" => vec![
            TableSpec::new("lending_cases")
                .text(&["case_no", "court", "plaintiff_id", "defendant_id"])
                .date(&["filed_on", "closed_on"])
                .text(&["outcome"])
                .boolean(&["defendant_appeared"])
                .float64(&["principal_claimed", "annual_rate"])
                .boolean(&["plaintiff_licensed"]),
            enforcement(),
        ],
        "false-mediation-confirmation" => vec![
            TableSpec::new("confirmations")
                .text(&["case_no", "court", "mediation_org", "mediator_id"])
                .date(&["agreement_on", "applied_on", "decided_on"])
                .text(&["party_a_id", "party_b_id"])
                .float64(&["amount"])
                .date(&["performance_due_on"]),
            enforcement(),
            TableSpec::new("mediation_subsidies")
                .text(&["mediator_id", "case_no"])
                .date(&["paid_on"])
                .float64(&["amount"]),
        ],
        "judicial-auction-violations" => vec![
            TableSpec::new("auctions")
                .text(&["item_id", "court", "case_no", "kind"])
                .date(&["announced_on", "starts_on"])
                .int64(&["round"])
                .float64(&["valuation", "start_price", "sold_price"])
                .text(&["buyer_id"])
                .int64(&["bidder_count"])
                .text(&["debtor_id", "docs_published"]),
            TableSpec::new("bids")
                .text(&["item_id", "bidder_id"])
                .timestamp(&["bid_at"])
                .float64(&["amount"]),
            TableSpec::new("priority_claims").text(&["case_no", "claimant_id"]).float64(&["amount"]),
            relations(),
        ],
        "restricted-debtor-travel" => vec![
            TableSpec::new("restrictions").text(&["debtor_id", "case_no"]).date(&["imposed_on", "lifted_on"]),
            TableSpec::new("travel")
                .text(&["trip_id", "person_id", "passport_no", "mode", "seat_class"])
                .timestamp(&["departed_at"]),
            TableSpec::new("passports").text(&["person_id", "passport_no"]).date(&["issued_on"]),
        ],
        "vehicle-enforcement" => vec![
            TableSpec::new("enforcement_cases")
                .text(&["case_no", "court", "debtor_id"])
                .date(&["filed_on", "closed_on"])
                .text(&["closure"]),
            TableSpec::new("registrations").text(&["plate", "owner_id"]).date(&["from_on", "to_on"]),
            TableSpec::new("seizures").text(&["case_no", "plate"]).date(&[
                "seized_on",
                "impounded_on",
                "released_on",
            ]),
            TableSpec::new("traffic_events").text(&["plate"]).timestamp(&["at"]).text(&["kind"]),
            relations(),
        ],
        "copyright-harvesting" => vec![
            TableSpec::new("registrations")
                .text(&["reg_no", "work_hash", "claimant_id", "agent_org"])
                .date(&["created_on", "registered_on"]),
            TableSpec::new("ip_cases")
                .text(&["case_no", "court"])
                .date(&["filed_on"])
                .text(&["plaintiff_id", "plaintiff_agent", "reg_no", "defendant_id", "defendant_kind"])
                .float64(&["claimed"])
                .text(&["outcome"]),
            TableSpec::new("prior_use").text(&["work_hash"]).date(&["first_seen_on"]).text(&["source"]),
        ],
        _ => return None,
    })
}

/// The `(table, column)` holding the ids a clue of `task` names (DOMAIN.md's "Subject"):
/// labels must name values of it, and a benchmark splits its distinct values.
pub fn subject(task: &str) -> Option<(&'static str, &'static str)> {
    Some(match task {
        "vehicle-insurance-fraud" => ("judgments", "case_no"),
        "private-lending-fraud" => ("lending_cases", "case_no"),
        "false-mediation-confirmation" => ("confirmations", "case_no"),
        "judicial-auction-violations" => ("auctions", "item_id"),
        "restricted-debtor-travel" => ("restrictions", "debtor_id"),
        "vehicle-enforcement" => ("enforcement_cases", "case_no"),
        "copyright-harvesting" => ("ip_cases", "case_no"),
        _ => return None,
    })
}

/// A key domain: columns, across a task's tables, whose values name the same things (one plate
/// in `seizures` and in `traffic_events`, one person as debtor and as owner), so that a model
/// joins them. DOMAIN.md's joins, written out.
pub type Domain = (&'static str, &'static [(&'static str, &'static str)]);

/// The key domains of `task` (none for an unknown task). A column belongs to one domain at most.
pub fn domains(task: &str) -> &'static [Domain] {
    match task {
        "vehicle-insurance-fraud" => &[
            ("plate", &[("judgments", "plate"), ("vehicles", "plate")]),
            (
                "party",
                &[
                    ("judgments", "plaintiff_id"),
                    ("judgments", "defendant_insurer"),
                    ("judgments", "assessor_org"),
                    ("judgments", "repair_shop"),
                    ("vehicles", "owner_id"),
                    ("employment", "person_id"),
                    ("employment", "employer_id"),
                    ("businesses", "org_id"),
                    ("businesses", "legal_rep_id"),
                ],
            ),
        ],
        "private-lending-fraud" => &[
            ("case", &[("lending_cases", "case_no"), ("enforcement", "basis_case_no")]),
            (
                "party",
                &[
                    ("lending_cases", "plaintiff_id"),
                    ("lending_cases", "defendant_id"),
                    ("enforcement", "applicant_id"),
                ],
            ),
        ],
        "false-mediation-confirmation" => &[
            (
                "case",
                &[
                    ("confirmations", "case_no"),
                    ("enforcement", "basis_case_no"),
                    ("mediation_subsidies", "case_no"),
                ],
            ),
            (
                "party",
                &[
                    ("confirmations", "mediator_id"),
                    ("confirmations", "party_a_id"),
                    ("confirmations", "party_b_id"),
                    ("enforcement", "applicant_id"),
                    ("mediation_subsidies", "mediator_id"),
                ],
            ),
        ],
        "judicial-auction-violations" => &[
            ("item", &[("auctions", "item_id"), ("bids", "item_id")]),
            ("case", &[("auctions", "case_no"), ("priority_claims", "case_no")]),
            (
                "party",
                &[
                    ("auctions", "buyer_id"),
                    ("auctions", "debtor_id"),
                    ("bids", "bidder_id"),
                    ("priority_claims", "claimant_id"),
                    ("relations", "person_a"),
                    ("relations", "person_b"),
                ],
            ),
        ],
        "restricted-debtor-travel" => &[
            ("party", &[("restrictions", "debtor_id"), ("travel", "person_id"), ("passports", "person_id")]),
            ("passport", &[("travel", "passport_no"), ("passports", "passport_no")]),
        ],
        "vehicle-enforcement" => &[
            ("case", &[("enforcement_cases", "case_no"), ("seizures", "case_no")]),
            ("plate", &[("registrations", "plate"), ("seizures", "plate"), ("traffic_events", "plate")]),
            (
                "party",
                &[
                    ("enforcement_cases", "debtor_id"),
                    ("registrations", "owner_id"),
                    ("relations", "person_a"),
                    ("relations", "person_b"),
                ],
            ),
        ],
        "copyright-harvesting" => &[
            ("registration", &[("registrations", "reg_no"), ("ip_cases", "reg_no")]),
            ("work", &[("registrations", "work_hash"), ("prior_use", "work_hash")]),
            (
                "party",
                &[
                    ("registrations", "claimant_id"),
                    ("registrations", "agent_org"),
                    ("ip_cases", "plaintiff_id"),
                    ("ip_cases", "plaintiff_agent"),
                    ("ip_cases", "defendant_id"),
                ],
            ),
        ],
        _ => &[],
    }
}

/// Every task with a contract.
pub const TASKS: [&str; 7] = [
    "vehicle-insurance-fraud",
    "private-lending-fraud",
    "false-mediation-confirmation",
    "judicial-auction-violations",
    "restricted-debtor-travel",
    "vehicle-enforcement",
    "copyright-harvesting",
];

/// Check a model's declared inputs against `task`'s contract: every table and column it reads
/// must exist there with the same type. Returns each problem found.
pub fn check_inputs(task: &str, inputs: &[TableSpec]) -> Result<(), Vec<String>> {
    let Some(contract) = tables(task) else {
        return Err(vec![format!("unknown task {task:?} (known: {})", TASKS.join(", "))]);
    };
    let mut problems = Vec::new();
    for input in inputs {
        let Some(table) = contract.iter().find(|t| t.name == input.name) else {
            problems.push(format!("{task} has no table {:?}", input.name));
            continue;
        };
        for c in &input.columns {
            match table.find(&c.name) {
                None => problems.push(format!("{task} table {} has no column {:?}", table.name, c.name)),
                Some(found) if found.ty != c.ty => problems.push(format!(
                    "{}.{} is {} in the contract; the model reads it as {}",
                    table.name,
                    c.name,
                    found.ty.name(),
                    c.ty.name()
                )),
                Some(_) => {}
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_column_is_a_text_column_of_its_task_and_in_one_domain() {
        for task in TASKS {
            let tables = tables(task).expect("contract");
            let mut seen = Vec::new();
            for (domain, columns) in domains(task) {
                assert!(columns.len() >= 2, "{task}: domain {domain} joins nothing");
                for &(table, column) in *columns {
                    let spec = tables.iter().find(|t| t.name == table).expect(table);
                    let col = spec.columns.iter().find(|c| c.name == column).expect(column);
                    assert_eq!(col.ty, sieve_sdk::ColumnType::Text, "{task}: {table}.{column}");
                    assert!(!seen.contains(&(table, column)), "{task}: {table}.{column} in two domains");
                    seen.push((table, column));
                }
            }
        }
    }

    #[test]
    fn every_bundled_model_reads_only_what_its_task_contract_holds() {
        for name in crate::bundled::names() {
            let model = crate::bundled::native(name).expect("native build");
            let info = (model.describe)();
            assert_eq!(check_inputs(&info.task, &info.inputs), Ok(()), "{name}");
        }
        let wrong = TableSpec::new("auctions").float64(&["item_id"]).text(&["nope"]);
        let problems = check_inputs("judicial-auction-violations", &[wrong]).expect_err("two problems");
        for task in TASKS {
            let (table, column) = subject(task).expect("every task names its subject");
            let spec = tables(task).expect("contract").into_iter().find(|t| t.name == table).expect(table);
            assert_eq!(spec.find(column).map(|c| c.ty), Some(sieve_sdk::ColumnType::Text), "{task}");
        }
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(check_inputs("no-such-task", &[]).is_err());
    }
}
