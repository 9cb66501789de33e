-- T4: each violation of the auction provisions is its own rule; an item can break several.
WITH claims AS (
    SELECT case_no, sum(amount) AS total FROM priority_claims WHERE case_no IS NOT NULL GROUP BY case_no
), related AS (
    -- Relations hold both ways, whichever way a row records them.
    SELECT person_a AS x, person_b AS y FROM relations
    UNION
    SELECT person_b, person_a FROM relations
), docs AS (
    SELECT item_id, kind, ';' || coalesce(docs_published, '') || ';' AS list
    FROM auctions WHERE item_id IS NOT NULL
)
SELECT item_id AS subject, 'short_notice' AS rule
FROM auctions
WHERE item_id IS NOT NULL
  AND starts_on - announced_on < CASE WHEN kind = 'real_estate' THEN 30 ELSE 15 END
UNION
SELECT item_id, 'missing_docs'
FROM docs
WHERE NOT regexp_matches(list, ';\s*valuation_report\s*;')
   OR NOT regexp_matches(list, ';\s*tax_notice\s*;')
   OR (kind IN ('real_estate', 'equity') AND NOT regexp_matches(list, ';\s*preemption_notice\s*;'))
UNION
SELECT a.item_id, 'futile'
FROM auctions a LEFT JOIN claims c ON c.case_no = a.case_no
WHERE a.item_id IS NOT NULL AND a.case_no IS NOT NULL AND a.start_price IS NOT NULL
  AND coalesce(c.total, 0) >= a.start_price
UNION
SELECT a.item_id, 'related_buyer'
FROM auctions a JOIN related r ON r.x = a.buyer_id AND r.y = a.debtor_id
WHERE a.item_id IS NOT NULL
