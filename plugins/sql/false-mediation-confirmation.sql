-- name: false-mediation-confirmation-sql
-- version: 0.1.0
-- summary: Judicial confirmations of mediation agreements with every mark of a forged one: a quick application, performance due before the agreement, the same parties again before the same mediator, a subsidy paid, and enforcement immediately or never (T3, in SQL).
-- task: false-mediation-confirmation
-- subject: case
-- param: quick_days int 3 An application at most this many days after the agreement is quick.
-- param: fast_enforcement_days int 10 Enforcement filed at most this many days after the decision is immediate.

-- A pair of parties is counted both ways round, as each row records it and the other way, by
-- grouping on the columns as they are and joining twice: equality of keys, which the engine
-- compares as codes. `least(a, b)` and `greatest(a, b)` would order the parties' text instead.
WITH directed AS (
    -- The same two parties before one mediator, in the order a row records them.
    SELECT mediator_id, party_a_id, party_b_id, count(*) AS n
    FROM confirmations
    WHERE mediator_id IS NOT NULL AND party_a_id IS NOT NULL AND party_b_id IS NOT NULL
    GROUP BY mediator_id, party_a_id, party_b_id
), paired AS (
    -- Each confirmation with how often its two parties, whichever way round, came before its
    -- mediator (a row whose parties are one person is counted once).
    SELECT c.*, d.n + CASE WHEN c.party_a_id = c.party_b_id THEN 0 ELSE coalesce(r.n, 0) END AS n
    FROM confirmations c
    JOIN directed d ON d.mediator_id = c.mediator_id
        AND d.party_a_id = c.party_a_id AND d.party_b_id = c.party_b_id
    LEFT JOIN directed r ON r.mediator_id = c.mediator_id
        AND r.party_a_id = c.party_b_id AND r.party_b_id = c.party_a_id
), filings AS (
    SELECT basis_case_no, count(*) AS filings, count(filed_on) AS dated, min(filed_on) AS first_filed,
           array_agg(__row) AS enforcement_rows
    FROM enforcement WHERE basis_case_no IS NOT NULL
    GROUP BY basis_case_no
), subsidies AS (
    SELECT case_no, array_agg(__row) AS subsidy_rows FROM mediation_subsidies WHERE case_no IS NOT NULL GROUP BY case_no
)
SELECT c.case_no AS subject,
       least(0.6 + 0.1 * (c.n - 2), 1.0) AS score,
       'forged-confirmation' AS rule,
       'Confirmation ' || c.case_no || ': applied for '
           || CAST(CAST(c.applied_on AS INT) - CAST(c.agreement_on AS INT) AS VARCHAR) || ' days after the agreement, performance was due '
           || CAST(CAST(c.agreement_on AS INT) - CAST(c.performance_due_on AS INT) AS VARCHAR) || ' days before it, the same parties came before mediator '
           || c.mediator_id || ' ' || CAST(c.n AS VARCHAR) || ' times, a subsidy was paid, and '
           || CASE WHEN f.basis_case_no IS NULL THEN 'no enforcement was ever filed'
                   ELSE 'enforcement was filed ' || CAST(CAST(f.first_filed AS INT) - CAST(c.decided_on AS INT) AS VARCHAR) || ' days after the decision'
              END || '.' AS reason,
       c.__row AS confirmations__row,
       f.enforcement_rows AS enforcement__row,
       s.subsidy_rows AS mediation_subsidies__row
FROM paired c
JOIN subsidies s ON s.case_no = c.case_no
LEFT JOIN filings f ON f.basis_case_no = c.case_no
WHERE c.case_no IS NOT NULL
  AND CAST(c.applied_on AS INT) - CAST(c.agreement_on AS INT) <= $quick_days
  AND c.performance_due_on < c.agreement_on
  AND c.n >= 2
  -- Immediately or never: the first filing decides, and an undated filing decides nothing.
  AND (f.basis_case_no IS NULL
       OR (f.dated = f.filings AND CAST(f.first_filed AS INT) - CAST(c.decided_on AS INT) <= $fast_enforcement_days))
