-- T2: every case of an unlicensed plaintiff with at least 15 suits whose defendants were absent in
-- more than half of the suits where appearance is known.
WITH lenders AS (
    SELECT plaintiff_id
    FROM lending_cases WHERE plaintiff_id IS NOT NULL
    GROUP BY plaintiff_id
    HAVING count(*) >= 15
       AND NOT coalesce(bool_or(plaintiff_licensed), false)
       AND coalesce(count(*) FILTER (WHERE NOT defendant_appeared) / nullif(count(defendant_appeared), 0), 0) > 0.5
)
SELECT DISTINCT c.case_no AS subject, 'professional-lender' AS rule
FROM lending_cases c JOIN lenders l ON l.plaintiff_id = c.plaintiff_id
WHERE c.case_no IS NOT NULL
