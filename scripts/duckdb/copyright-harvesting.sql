-- T7: each suit on an earlier-used work (first sighting at least 30 days before the claimed
-- creation) brought by or through a harvester: a plaintiff or agent with at least 10 such suits,
-- more than half against vendors or small businesses. A case_no recorded twice is one suit: its
-- first row on an earlier-used work counts.
WITH first_seen AS (
    SELECT work_hash, min(first_seen_on) AS seen
    FROM prior_use WHERE work_hash IS NOT NULL AND first_seen_on IS NOT NULL GROUP BY work_hash
), earlier_used AS (
    SELECT DISTINCT r.reg_no
    FROM registrations r JOIN first_seen f ON f.work_hash = r.work_hash
    WHERE r.reg_no IS NOT NULL AND r.created_on - f.seen >= 30
), suits AS (
    SELECT arg_min_null(c.plaintiff_id, c.file_row_number) AS plaintiff_id,
           arg_min_null(c.plaintiff_agent, c.file_row_number) AS agent,
           arg_min_null(c.defendant_kind IN ('vendor', 'small_business'), c.file_row_number) AS small,
           c.case_no
    FROM ip_cases c JOIN earlier_used e ON e.reg_no = c.reg_no
    WHERE c.case_no IS NOT NULL
    GROUP BY c.case_no
), plaintiffs AS (
    SELECT plaintiff_id FROM suits WHERE plaintiff_id IS NOT NULL GROUP BY plaintiff_id
    HAVING count(*) >= 10 AND 2 * count(*) FILTER (WHERE small) > count(*)
), agents AS (
    SELECT agent FROM suits WHERE agent IS NOT NULL GROUP BY agent
    HAVING count(*) >= 10 AND 2 * count(*) FILTER (WHERE small) > count(*)
)
SELECT s.case_no AS subject, 'harvesting' AS rule
FROM suits s
WHERE s.plaintiff_id IN (SELECT plaintiff_id FROM plaintiffs) OR s.agent IN (SELECT agent FROM agents)
