-- name: restricted-debtor-travel-sql
-- version: 0.1.0
-- summary: Debtors under a consumption restriction who took restricted trips (flights, G trains, first class on D trains) while it was in force, under their own id or on a passport issued to them (T5, in SQL).
-- task: restricted-debtor-travel
-- subject: person
-- param: min_trips int 1 Restricted trips a debtor must have taken to be flagged.

WITH debtors AS (
    SELECT DISTINCT debtor_id FROM restrictions WHERE debtor_id IS NOT NULL
), restricted_trips AS (
    SELECT __row, person_id, passport_no, CAST(departed_at AS DATE) AS day
    FROM travel
    WHERE departed_at IS NOT NULL
      AND (mode IN ('flight', 'rail_g') OR (mode = 'rail_d' AND seat_class = 'first'))
), attributed AS (
    -- A trip counts under its person id when it has one; only a trip without one counts through
    -- its passport number, for every restricted debtor the number was issued to (with the first
    -- row that issued it to them).
    SELECT t.__row AS trip, t.day, t.person_id AS debtor_id, CAST(NULL AS BIGINT) AS passport_row
    FROM restricted_trips t JOIN debtors d ON d.debtor_id = t.person_id
    UNION ALL
    SELECT t.__row, t.day, p.person_id, min(p.__row)
    FROM restricted_trips t JOIN passports p ON p.passport_no = t.passport_no
    JOIN debtors d ON d.debtor_id = p.person_id
    WHERE t.person_id IS NULL
    GROUP BY t.__row, t.day, p.person_id
), while_restricted AS (
    SELECT a.trip, a.debtor_id, a.passport_row, min(r.__row) AS restriction_row
    FROM attributed a JOIN restrictions r ON r.debtor_id = a.debtor_id
    WHERE r.imposed_on IS NOT NULL AND a.day >= r.imposed_on AND (r.lifted_on IS NULL OR a.day <= r.lifted_on)
    GROUP BY a.trip, a.debtor_id, a.passport_row
)
SELECT debtor_id AS subject,
       least(0.5 + 0.1 * least(count(*), 5), 1.0) AS score,
       CASE WHEN count(passport_row) = count(*) THEN 'passport' ELSE 'direct' END AS rule,
       CASE WHEN count(passport_row) > 0
            THEN 'Debtor ' || debtor_id || ' made ' || CAST(count(*) AS VARCHAR) || ' restricted trips while restricted, '
                 || CAST(count(passport_row) AS VARCHAR) || ' of them on a passport issued to the debtor.'
            ELSE 'Debtor ' || debtor_id || ' made ' || CAST(count(*) AS VARCHAR)
                 || ' restricted trips (flights, G trains, D-train first class) while restricted.'
       END AS reason,
       min(restriction_row) AS restrictions__row,
       array_agg(trip ORDER BY trip) AS travel__row,
       array_agg(passport_row ORDER BY trip) FILTER (WHERE passport_row IS NOT NULL) AS passports__row
FROM while_restricted
GROUP BY debtor_id
HAVING count(*) >= $min_trips
