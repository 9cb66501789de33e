-- name: judicial-auction-violations-sql
-- version: 0.1.0
-- summary: Judicial auctions that break the auction provisions: too little notice, required documents missing, futile (priority claims swallow the price), or sold to someone related to the debtor; each violation is its own rule (T4, in SQL).
-- task: judicial-auction-violations
-- subject: auction-item
-- param: movable_notice_days int 15 Days of notice required for movables and equity.
-- param: real_estate_notice_days int 30 Days of notice required for real estate.
-- param: futile_margin float 1.0 Priority claims at or above this multiple of the start price make the auction futile.

WITH claims AS (
    SELECT case_no, sum(amount) AS total, min(__row) AS claim_row
    FROM priority_claims WHERE case_no IS NOT NULL
    GROUP BY case_no
), related AS (
    -- A relation holds both ways, whichever way its row records it.
    SELECT person_a AS x, person_b AS y, kind, __row FROM relations
    UNION ALL
    SELECT person_b, person_a, kind, __row FROM relations
), notice AS (
    SELECT __row, item_id, kind,
           CAST(starts_on AS INT) - CAST(announced_on AS INT) AS days,
           CASE WHEN kind = 'real_estate' THEN $real_estate_notice_days ELSE $movable_notice_days END AS required
    FROM auctions
    WHERE item_id IS NOT NULL
), docs AS (
    -- DOMAIN.md: a `;`-separated list; each name counts with the spaces around it trimmed.
    SELECT __row, item_id, kind,
           regexp_like(';' || coalesce(docs_published, '') || ';', ';\s*valuation_report\s*;') AS valuation,
           regexp_like(';' || coalesce(docs_published, '') || ';', ';\s*tax_notice\s*;') AS tax,
           regexp_like(';' || coalesce(docs_published, '') || ';', ';\s*preemption_notice\s*;') AS preemption
    FROM auctions
    WHERE item_id IS NOT NULL
)
SELECT item_id AS subject, 0.9 AS score, 'short_notice' AS rule,
       'Item ' || item_id || ' (' || coalesce(kind, '') || ') was announced ' || CAST(days AS VARCHAR)
           || ' days before the auction; at least ' || CAST(required AS VARCHAR) || ' are required.' AS reason,
       __row AS auctions__row, CAST(NULL AS BIGINT) AS priority_claims__row, CAST(NULL AS BIGINT) AS relations__row
FROM notice
WHERE days < required
UNION ALL
SELECT item_id, 0.85, 'missing_docs',
       'Item ' || item_id || ' (' || coalesce(kind, '') || ') was announced without: '
           || concat_ws(', ',
                  CASE WHEN NOT valuation THEN 'valuation_report' END,
                  CASE WHEN NOT tax THEN 'tax_notice' END,
                  CASE WHEN kind IN ('real_estate', 'equity') AND NOT preemption THEN 'preemption_notice' END)
           || '.',
       __row, NULL, NULL
FROM docs
WHERE NOT valuation OR NOT tax OR (kind IN ('real_estate', 'equity') AND NOT preemption)
UNION ALL
SELECT a.item_id, 0.8, 'futile',
       'Item ' || a.item_id || ' starts at ' || CAST(round(a.start_price, 2) AS VARCHAR) || ' yuan but priority claims on case '
           || a.case_no || ' total ' || CAST(round(coalesce(c.total, 0), 2) AS VARCHAR) || ': the applicant cannot recover anything.',
       a.__row, c.claim_row, NULL
FROM auctions a LEFT JOIN claims c ON c.case_no = a.case_no
WHERE a.item_id IS NOT NULL AND a.case_no IS NOT NULL AND a.start_price IS NOT NULL
  AND coalesce(c.total, 0) >= a.start_price * $futile_margin
UNION ALL
SELECT a.item_id, 0.9, 'related_buyer',
       'Item ' || a.item_id || ' was bought by ' || a.buyer_id || ', recorded as ' || coalesce(min(r.kind), 'related')
           || ' of the debtor ' || a.debtor_id || '.',
       a.__row, NULL, min(r.__row)
FROM auctions a JOIN related r ON r.x = a.buyer_id AND r.y = a.debtor_id
WHERE a.item_id IS NOT NULL
GROUP BY a.__row, a.item_id, a.buyer_id, a.debtor_id
