-- T5: a restricted trip (a flight, a G train, first class on a D train) while a restriction was in
-- force, under the debtor's id (`direct`) or, with no person id, under a passport number issued to
-- the debtor (`passport`, only when every such trip was; a number issued to several debtors counts
-- for each of them).
WITH debtors AS (
    SELECT DISTINCT debtor_id FROM restrictions WHERE debtor_id IS NOT NULL
), restricted_trips AS (
    SELECT file_row_number AS trip, person_id, passport_no, CAST(departed_at AS DATE) AS day
    FROM travel
    WHERE departed_at IS NOT NULL
      AND (mode IN ('flight', 'rail_g') OR (mode = 'rail_d' AND seat_class = 'first'))
), holders AS (
    -- Every restricted debtor each passport number was issued to.
    SELECT DISTINCT p.passport_no, p.person_id AS debtor_id
    FROM passports p JOIN debtors d ON d.debtor_id = p.person_id
    WHERE p.passport_no IS NOT NULL
), attributed AS (
    SELECT t.trip, t.day, t.person_id AS debtor_id, false AS via_passport
    FROM restricted_trips t JOIN debtors d ON d.debtor_id = t.person_id
    UNION ALL
    SELECT t.trip, t.day, h.debtor_id, true
    FROM restricted_trips t JOIN holders h ON h.passport_no = t.passport_no
    WHERE t.person_id IS NULL
), while_restricted AS (
    SELECT DISTINCT a.trip, a.debtor_id, a.via_passport
    FROM attributed a JOIN restrictions r ON r.debtor_id = a.debtor_id
    WHERE r.imposed_on IS NOT NULL AND a.day >= r.imposed_on AND (r.lifted_on IS NULL OR a.day <= r.lifted_on)
)
SELECT debtor_id AS subject, CASE WHEN bool_and(via_passport) THEN 'passport' ELSE 'direct' END AS rule
FROM while_restricted
GROUP BY debtor_id
