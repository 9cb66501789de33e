-- T6: each pattern is its own rule, and a case can carry several. Ownership runs from `from_on` up
-- to, not including, `to_on`.
WITH cases AS (
    SELECT * FROM enforcement_cases WHERE case_no IS NOT NULL AND filed_on IS NOT NULL
), driven AS (
    SELECT DISTINCT s.case_no
    FROM seizures s JOIN traffic_events e ON e.plate = s.plate
    WHERE s.impounded_on IS NULL AND s.seized_on IS NOT NULL
      AND CAST(e."at" AS DATE) > s.seized_on
      AND (s.released_on IS NULL OR CAST(e."at" AS DATE) < s.released_on)
    GROUP BY s.case_no, s.file_row_number
    HAVING count(DISTINCT CAST(e."at" AS DATE)) >= 3
), related AS (
    -- Relations hold both ways, whichever way a row records them.
    SELECT person_a AS x, person_b AS y FROM relations
    UNION
    SELECT person_b, person_a FROM relations
), transfers AS (
    SELECT sold.owner_id AS debtor_id, sold.plate, sold.to_on AS day
    FROM registrations sold
    JOIN registrations bought ON bought.plate = sold.plate AND bought.from_on = sold.to_on
    JOIN related r ON r.x = sold.owner_id AND r.y = bought.owner_id
    WHERE bought.owner_id <> sold.owner_id
)
SELECT c.case_no AS subject, 'driven_while_seized' AS rule
FROM cases c JOIN driven d ON d.case_no = c.case_no
UNION
SELECT c.case_no, 'no_assets_with_vehicle'
FROM cases c JOIN registrations r ON r.owner_id = c.debtor_id
WHERE c.closure = 'no_assets' AND c.closed_on IS NOT NULL AND r.plate IS NOT NULL
  AND r.from_on <= c.closed_on AND (r.to_on IS NULL OR r.to_on > c.closed_on)
  AND NOT EXISTS (SELECT 1 FROM seizures s WHERE s.case_no = c.case_no AND s.plate = r.plate)
UNION
SELECT c.case_no, 'transfer_to_related'
FROM cases c JOIN transfers t ON t.debtor_id = c.debtor_id
WHERE t.day > c.filed_on AND (c.closed_on IS NULL OR t.day <= c.closed_on)
  AND NOT EXISTS (
      SELECT 1 FROM seizures s WHERE s.case_no = c.case_no AND s.plate = t.plate AND s.seized_on <= t.day
  )
UNION
SELECT c.case_no, 'stale_seizure'
FROM cases c JOIN seizures s ON s.case_no = c.case_no
WHERE c.closure IN ('paid', 'settled') AND c.closed_on IS NOT NULL
  AND (s.released_on IS NULL OR s.released_on - c.closed_on > 90)
