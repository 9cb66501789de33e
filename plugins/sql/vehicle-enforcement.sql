-- name: vehicle-enforcement-sql
-- version: 0.1.0
-- summary: Enforcement cases where vehicles slip through: a seized car still driven, a case closed for lack of assets while the debtor owned a car, a car transferred to a relative during the case, a seizure left in force after the debt was paid; each pattern is its own rule (T6, in SQL).
-- task: vehicle-enforcement
-- subject: case
-- param: driven_min_dates int 3 Distinct dates with traffic events, inside a seizure, that show a seized car in use.
-- param: release_grace_days int 90 Days a seizure may stay in force after a paid or settled case closed.

-- Ownership runs from `from_on` up to, not including, `to_on`; a relation holds both ways.
WITH cases AS (
    SELECT __row, case_no, debtor_id, closure, filed_on, closed_on FROM enforcement_cases WHERE case_no IS NOT NULL
), sightings AS (
    -- Each seizure never impounded, with the distinct days its plate was seen while it held.
    SELECT s.__row AS seizure_row, s.case_no, s.plate,
           count(DISTINCT CAST(e."at" AS DATE)) AS days, array_agg(e.__row ORDER BY e."at") AS event_rows
    FROM seizures s JOIN traffic_events e ON e.plate = s.plate
    WHERE s.case_no IS NOT NULL AND s.impounded_on IS NULL AND s.seized_on IS NOT NULL AND e."at" IS NOT NULL
      AND CAST(e."at" AS DATE) > s.seized_on
      AND (s.released_on IS NULL OR CAST(e."at" AS DATE) < s.released_on)
    GROUP BY s.__row, s.case_no, s.plate
    HAVING count(DISTINCT CAST(e."at" AS DATE)) >= greatest($driven_min_dates, 1)
), driven AS (
    -- Each case's first such seizure, with a window over the sightings: a grouping joined back to
    -- them finds the same (`sightings`, named twice, is computed once) and costs a little more
    -- here, where the partitions are few.
    SELECT *, min(seizure_row) OVER (PARTITION BY case_no) AS first_seizure_row FROM sightings
), related AS (
    SELECT person_a AS x, person_b AS y, __row FROM relations
    UNION ALL
    SELECT person_b, person_a, __row FROM relations
), unseized AS (
    SELECT c.__row, c.case_no, c.debtor_id, min(r.__row) AS registration_row
    FROM cases c JOIN registrations r ON r.owner_id = c.debtor_id
    WHERE c.closure = 'no_assets' AND c.closed_on IS NOT NULL AND r.plate IS NOT NULL
      AND r.from_on <= c.closed_on AND (r.to_on IS NULL OR r.to_on > c.closed_on)
      AND NOT EXISTS (SELECT 1 FROM seizures s WHERE s.case_no = c.case_no AND s.plate = r.plate)
    GROUP BY c.__row, c.case_no, c.debtor_id
), transfers AS (
    -- The debtor's ownership ends on a day and the plate's next one starts that day with a
    -- relative, during the case, before any seizure of the plate in it.
    SELECT c.__row, c.case_no, c.debtor_id, min(sold.__row) AS sold_row, min(bought.__row) AS bought_row,
           min(r.__row) AS relation_row
    FROM cases c
    JOIN registrations sold ON sold.owner_id = c.debtor_id
    JOIN registrations bought ON bought.plate = sold.plate AND bought.from_on = sold.to_on
    JOIN related r ON r.x = sold.owner_id AND r.y = bought.owner_id
    WHERE sold.plate IS NOT NULL AND bought.owner_id <> sold.owner_id
      AND c.filed_on IS NOT NULL AND sold.to_on > c.filed_on AND (c.closed_on IS NULL OR sold.to_on <= c.closed_on)
      AND NOT EXISTS (
          SELECT 1 FROM seizures s WHERE s.case_no = c.case_no AND s.plate = sold.plate AND s.seized_on <= sold.to_on
      )
    GROUP BY c.__row, c.case_no, c.debtor_id
), stale AS (
    SELECT c.__row, c.case_no, min(s.__row) AS seizure_row,
           bool_or(s.released_on IS NULL) AS in_force,
           max(CAST(s.released_on AS INT) - CAST(c.closed_on AS INT)) AS late_days
    FROM cases c JOIN seizures s ON s.case_no = c.case_no
    WHERE c.closure IN ('paid', 'settled') AND c.closed_on IS NOT NULL
      AND (s.released_on IS NULL OR CAST(s.released_on AS INT) - CAST(c.closed_on AS INT) > $release_grace_days)
    GROUP BY c.__row, c.case_no
)
SELECT c.case_no AS subject,
       least(0.6 + 0.05 * (s.days - $driven_min_dates), 0.95) AS score,
       'driven_while_seized' AS rule,
       'Plate ' || s.plate || ', seized in case ' || c.case_no || ' but never impounded, was seen on the road on '
           || CAST(s.days AS VARCHAR) || ' dates while the seizure was in force.' AS reason,
       c.__row AS enforcement_cases__row, s.seizure_row AS seizures__row, s.event_rows AS traffic_events__row,
       CAST(NULL AS BIGINT) AS registrations__row, CAST(NULL AS BIGINT) AS relations__row
FROM cases c JOIN driven s ON s.case_no = c.case_no
WHERE s.seizure_row = s.first_seizure_row
UNION ALL
SELECT case_no, 0.85, 'no_assets_with_vehicle',
       'Case ' || case_no || ' was closed for lack of assets while debtor ' || debtor_id || ' owned a vehicle the case never seized.',
       __row, NULL, NULL, registration_row, NULL
FROM unseized
UNION ALL
SELECT case_no, 0.9, 'transfer_to_related',
       'During case ' || case_no || ', debtor ' || debtor_id || ' transferred a vehicle to someone related to the debtor.',
       __row, NULL, NULL, sold_row, relation_row
FROM transfers
UNION ALL
SELECT case_no, CASE WHEN in_force THEN 0.9 ELSE 0.7 END, 'stale_seizure',
       'Case ' || case_no || ' closed on payment or settlement, but a seizure '
           || CASE WHEN in_force THEN 'is still in force' ELSE 'was released ' || CAST(late_days AS VARCHAR) || ' days after closing' END
           || '.',
       __row, seizure_row, NULL, NULL, NULL
FROM stale
