-- T3: a confirmation with every mark: applied for within 3 days of the agreement, performance due
-- before it, the same party pair again before the same mediator, a subsidy paid, and enforcement
-- filed within 10 days of the decision or never.
WITH pairs AS (
    SELECT mediator_id, least(party_a_id, party_b_id) AS a, greatest(party_a_id, party_b_id) AS b, count(*) AS n
    FROM confirmations
    WHERE mediator_id IS NOT NULL AND party_a_id IS NOT NULL AND party_b_id IS NOT NULL
    GROUP BY ALL
), filings AS (
    SELECT basis_case_no, count(*) AS filings, count(filed_on) AS dated, min(filed_on) AS first_filed
    FROM enforcement WHERE basis_case_no IS NOT NULL GROUP BY basis_case_no
)
SELECT DISTINCT c.case_no AS subject, 'forged-confirmation' AS rule
FROM confirmations c
JOIN pairs p ON p.mediator_id = c.mediator_id
    AND p.a = least(c.party_a_id, c.party_b_id) AND p.b = greatest(c.party_a_id, c.party_b_id)
LEFT JOIN filings f ON f.basis_case_no = c.case_no
WHERE c.case_no IS NOT NULL
  AND c.applied_on - c.agreement_on <= 3
  AND c.performance_due_on < c.agreement_on
  AND p.n >= 2
  AND EXISTS (SELECT 1 FROM mediation_subsidies s WHERE s.case_no = c.case_no)
  AND (f.basis_case_no IS NULL
       OR (f.dated = f.filings AND f.first_filed - c.decided_on <= 10))
