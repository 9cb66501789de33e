-- T1: a case with all five marks of a repair-shop ring (DOMAIN.md), as the bundled model decides it.
WITH shop_cases AS (
    SELECT repair_shop, count(*) AS total
    FROM judgments WHERE repair_shop IS NOT NULL GROUP BY repair_shop
), pairs AS (
    SELECT repair_shop, assessor_org, count(*) AS n
    FROM judgments WHERE repair_shop IS NOT NULL AND assessor_org IS NOT NULL
    GROUP BY repair_shop, assessor_org
)
SELECT DISTINCT j.case_no AS subject, 'repair-shop-ring' AS rule
FROM judgments j
JOIN shop_cases s ON s.repair_shop = j.repair_shop
JOIN pairs p ON p.repair_shop = j.repair_shop AND p.assessor_org = j.assessor_org
WHERE j.case_no IS NOT NULL AND j.plaintiff_id IS NOT NULL AND j.filed_on IS NOT NULL AND j.plate IS NOT NULL
  AND j.claim_assigned AND NOT j.insurer_assessed
  AND p.n >= 5 AND p.n >= 0.5 * s.total
  AND NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.plate = j.plate AND v.owner_id = j.plaintiff_id)
  AND EXISTS (
      SELECT 1 FROM employment e
      WHERE e.person_id = j.plaintiff_id AND e.employer_id = j.repair_shop
        AND e.month BETWEEN coalesce(j.accident_on, j.filed_on) - 365 AND j.filed_on
  )
