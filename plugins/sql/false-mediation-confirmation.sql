-- name: false-mediation-confirmation-sql
-- version: 0.1.0
-- summary: Judicial confirmations of mediation agreements with every mark of a forged one: a quick application, performance due before the agreement, the same parties again before the same mediator, a subsidy paid, and enforcement immediately or never (T3, in SQL).
-- task: false-mediation-confirmation
-- subject: case
-- param: quick_days int 3 An application at most this many days after the agreement is quick.
-- param: fast_enforcement_days int 10 Enforcement filed at most this many days after the decision is immediate.


-- The confirmations that were applied for quickly, with performance due before the agreement,
-- and a subsidy paid: the dearer marks (how often the parties came before the mediator, and
-- enforcement) are looked up for these only.
WITH subsidised AS (
    SELECT c.__row, c.case_no, c.mediator_id, c.party_a_id, c.party_b_id, c.agreement_on, c.applied_on,
           c.decided_on, c.performance_due_on, array_agg(s.__row) AS subsidy_rows
    FROM confirmations c JOIN mediation_subsidies s ON s.case_no = c.case_no
    WHERE c.case_no IS NOT NULL AND c.mediator_id IS NOT NULL AND c.party_a_id IS NOT NULL AND c.party_b_id IS NOT NULL
      AND CAST(c.applied_on AS INT) - CAST(c.agreement_on AS INT) <= $quick_days
      AND c.performance_due_on < c.agreement_on
    GROUP BY c.__row, c.case_no, c.mediator_id, c.party_a_id, c.party_b_id, c.agreement_on, c.applied_on,
             c.decided_on, c.performance_due_on
), counted AS (
    -- How often each one's two parties, whichever way round, came before its mediator: the
    -- confirmations that record them as it does (itself included), and unless they are one
    -- person, those that record them the other way round.
    SELECT k.__row, count(*) AS n
    FROM (
        SELECT __row, mediator_id, party_a_id AS x, party_b_id AS y FROM subsidised
        UNION ALL
        SELECT __row, mediator_id, party_b_id, party_a_id FROM subsidised WHERE party_a_id <> party_b_id
    ) k
    JOIN confirmations o ON o.mediator_id = k.mediator_id AND o.party_a_id = k.x AND o.party_b_id = k.y
    GROUP BY k.__row
    HAVING count(*) >= 2
), filings AS (
    SELECT e.basis_case_no, count(*) AS filings, count(e.filed_on) AS dated, min(e.filed_on) AS first_filed,
           array_agg(e.__row) AS enforcement_rows
    FROM enforcement e JOIN subsidised c ON c.case_no = e.basis_case_no
    GROUP BY e.basis_case_no
)
SELECT c.case_no AS subject,
       least(0.6 + 0.1 * (k.n - 2), 1.0) AS score,
       'forged-confirmation' AS rule,
       'Confirmation ' || c.case_no || ': applied for '
           || CAST(CAST(c.applied_on AS INT) - CAST(c.agreement_on AS INT) AS VARCHAR) || ' days after the agreement, performance was due '
           || CAST(CAST(c.agreement_on AS INT) - CAST(c.performance_due_on AS INT) AS VARCHAR) || ' days before it, the same parties came before mediator '
           || c.mediator_id || ' ' || CAST(k.n AS VARCHAR) || ' times, a subsidy was paid, and '
           || CASE WHEN f.basis_case_no IS NULL THEN 'no enforcement was ever filed'
                   ELSE 'enforcement was filed ' || CAST(CAST(f.first_filed AS INT) - CAST(c.decided_on AS INT) AS VARCHAR) || ' days after the decision'
              END || '.' AS reason,
       c.__row AS confirmations__row,
       f.enforcement_rows AS enforcement__row,
       c.subsidy_rows AS mediation_subsidies__row
FROM subsidised c
JOIN counted k ON k.__row = c.__row
LEFT JOIN filings f ON f.basis_case_no = c.case_no
  -- Immediately or never: the first filing decides, and an undated filing decides nothing.
WHERE f.basis_case_no IS NULL
   OR (f.dated = f.filings AND CAST(f.first_filed AS INT) - CAST(c.decided_on AS INT) <= $fast_enforcement_days)
