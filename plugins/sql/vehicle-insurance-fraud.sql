-- name: vehicle-insurance-fraud-sql
-- version: 0.1.0
-- summary: Cases brought by an employee of a repair-shop ring: the plaintiff worked for the shop, does not own the car, the shop's cases go to one assessor, the claim was assigned and the insurer never assessed the loss (T1, in SQL).
-- task: vehicle-insurance-fraud
-- subject: case
-- param: min_pair_cases int 5 Cases a (repair shop, assessor) pair needs to count as concentrated.
-- param: min_pair_share float 0.5 Share of the repair shop's cases that must go to that one assessor.
-- param: employment_window_days int 365 How many days before the accident an employment month still counts (up to the filing).

-- Mark 3: how many cases each shop has, and how many of them went to each assessor.
WITH shop_cases AS (
    SELECT repair_shop, count(*) AS total
    FROM judgments WHERE repair_shop IS NOT NULL
    GROUP BY repair_shop
), pairs AS (
    SELECT repair_shop, assessor_org, count(*) AS n
    FROM judgments WHERE repair_shop IS NOT NULL AND assessor_org IS NOT NULL
    GROUP BY repair_shop, assessor_org
), candidates AS (
    -- Marks 2, 3 and 5: assigned, never assessed, a concentrated pair.
    SELECT j.__row, j.case_no, j.plaintiff_id, j.plate, j.repair_shop, j.assessor_org,
           j.filed_on, coalesce(j.accident_on, j.filed_on) AS window_from, p.n, s.total
    FROM judgments j
    JOIN shop_cases s ON s.repair_shop = j.repair_shop
    JOIN pairs p ON p.repair_shop = j.repair_shop AND p.assessor_org = j.assessor_org
    WHERE j.case_no IS NOT NULL AND j.plaintiff_id IS NOT NULL AND j.filed_on IS NOT NULL AND j.plate IS NOT NULL
      AND j.claim_assigned AND NOT j.insurer_assessed
      AND p.n >= $min_pair_cases AND p.n >= $min_pair_share * s.total
), plated AS (
    -- Mark 4, a plaintiff who owns no registration of the plate, and the plate's first
    -- `vehicles` row (its evidence), in one pass over the candidates' plates' registrations.
    SELECT c.__row, min(v.__row) AS vehicles_row, coalesce(bool_or(v.owner_id = c.plaintiff_id), false) AS owns
    FROM candidates c LEFT JOIN vehicles v ON v.plate = c.plate
    GROUP BY c.__row
), employed AS (
    -- Mark 1: a month at the shop from the window before the accident up to the filing.
    SELECT c.__row, min(e.__row) AS employment_row
    FROM candidates c
    JOIN employment e ON e.person_id = c.plaintiff_id AND e.employer_id = c.repair_shop
    WHERE CAST(e.month AS INT) BETWEEN CAST(c.window_from AS INT) - $employment_window_days AND CAST(c.filed_on AS INT)
    GROUP BY c.__row
), found AS (
    SELECT c.__row, c.case_no, c.plaintiff_id, c.plate, c.repair_shop, c.assessor_org, c.n, c.total,
           m.employment_row, p.vehicles_row
    FROM candidates c
    JOIN plated p ON p.__row = c.__row
    JOIN employed m ON m.__row = c.__row
    WHERE NOT p.owns
)
SELECT c.case_no AS subject,
       0.5 + CAST(c.n AS DOUBLE) / c.total / 2 AS score,
       'repair-shop-ring' AS rule,
       'Case ' || c.case_no || ': plaintiff ' || c.plaintiff_id || ' was employed by repair shop ' || c.repair_shop
           || '; the plaintiff does not own ' || c.plate || '; ' || CAST(c.n AS VARCHAR) || ' of the shop''s '
           || CAST(c.total AS VARCHAR) || ' cases used assessor ' || c.assessor_org
           || '; the claim was assigned; the insurer never assessed the loss.' AS reason,
       c.__row AS judgments__row,
       c.employment_row AS employment__row,
       c.vehicles_row AS vehicles__row
FROM found c
