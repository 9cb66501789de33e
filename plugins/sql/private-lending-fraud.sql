-- name: private-lending-fraud-sql
-- version: 0.1.0
-- summary: Every suit of an unlicensed plaintiff who files private-lending suits in bulk against defendants who mostly never appear (T2, in SQL).
-- task: private-lending-fraud
-- subject: case
-- param: min_suits int 15 Suits a plaintiff must have filed to be a professional lender.
-- param: absent_share float 0.5 Defendants must be absent in more than this share of a lender's suits (where known).
-- param: max_rate float 0.154 Legal cap on the annual rate (four times the one-year LPR), for ranking.

WITH busy AS (
    -- Plaintiffs with enough suits, counted on codes alone: the other facts are then read for
    -- their suits only, not computed for every plaintiff.
    SELECT plaintiff_id FROM lending_cases
    WHERE plaintiff_id IS NOT NULL
    GROUP BY plaintiff_id
    HAVING count(*) >= $min_suits
), suits AS (
    SELECT c.* FROM lending_cases c JOIN busy b ON b.plaintiff_id = c.plaintiff_id
), lenders AS (
    SELECT plaintiff_id,
           count(*) AS suits,
           -- Shares over the suits where the fact is known (integer counts made fractions).
           CAST(count(*) FILTER (WHERE NOT defendant_appeared) AS DOUBLE) / nullif(count(defendant_appeared), 0) AS absent,
           coalesce(CAST(count(*) FILTER (WHERE outcome = 'withdrawn') AS DOUBLE) / nullif(count(outcome), 0), 0) AS withdrawn,
           coalesce(CAST(count(*) FILTER (WHERE annual_rate > $max_rate) AS DOUBLE) / nullif(count(annual_rate), 0), 0) AS usurious
    FROM suits
    GROUP BY plaintiff_id
    HAVING NOT coalesce(bool_or(plaintiff_licensed), false)
), enforced AS (
    SELECT basis_case_no, min(__row) AS enforcement_row FROM enforcement GROUP BY basis_case_no
)
SELECT c.case_no AS subject,
       0.6 + 0.2 * l.withdrawn + 0.2 * l.usurious AS score,
       'professional-lender' AS rule,
       'Unlicensed plaintiff ' || l.plaintiff_id || ' filed ' || CAST(l.suits AS VARCHAR)
           || ' private-lending suits: defendants absent in ' || CAST(round(l.absent * 100) AS VARCHAR) || '%, '
           || CAST(round(l.withdrawn * 100) AS VARCHAR) || '% withdrawn, '
           || CAST(round(l.usurious * 100) AS VARCHAR) || '% at rates above the cap.' AS reason,
       c.__row AS lending_cases__row,
       f.enforcement_row AS enforcement__row
FROM suits c
JOIN lenders l ON l.plaintiff_id = c.plaintiff_id
LEFT JOIN enforced f ON f.basis_case_no = c.case_no
WHERE c.case_no IS NOT NULL AND coalesce(l.absent, 0) > $absent_share
