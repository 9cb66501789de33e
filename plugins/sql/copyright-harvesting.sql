-- name: copyright-harvesting-sql
-- version: 0.1.0
-- summary: Suits on works used before their claimed creation, brought by or through a harvester: a plaintiff or agent with many such suits, most of them against vendors and small businesses (T7, in SQL).
-- task: copyright-harvesting
-- subject: case
-- param: earlier_days int 30 Days before the claimed creation a work must have been seen to count as used earlier.
-- param: min_suits int 10 Suits on earlier-used works that make a plaintiff or agent a harvester.

-- A suit's first row is taken with min() and a join back to the row, which costs far less than a
-- window function over many small partitions. A CTE named in two places (`on_earlier`, `suits`)
-- is computed once.
WITH first_seen AS (
    -- Each work's first sighting and the first row that records it, in one grouping: the day
    -- (days since 1970) and the row packed into one number, the day in the high 32 bits, so that
    -- the least number is the earliest day's first row.
    SELECT work_hash, min(CAST(CAST(first_seen_on AS INT) AS BIGINT) * 4294967296 + __row) AS first
    FROM prior_use WHERE work_hash IS NOT NULL AND first_seen_on IS NOT NULL
    GROUP BY work_hash
), earlier_used AS (
    -- Each registration number with an earlier-used work, and the rows that prove it.
    SELECT r.reg_no, min(r.__row) AS registration_row, min(f.first & 4294967295) AS prior_row
    FROM registrations r JOIN first_seen f ON f.work_hash = r.work_hash
    WHERE r.reg_no IS NOT NULL AND r.created_on IS NOT NULL
      AND CAST(r.created_on AS INT) - (f.first >> 32) >= $earlier_days
    GROUP BY r.reg_no
), on_earlier AS (
    -- Every row of a suit on an earlier-used work.
    SELECT c.__row, c.case_no, c.plaintiff_id, c.plaintiff_agent, c.reg_no,
           coalesce(c.defendant_kind IN ('vendor', 'small_business'), false) AS small,
           e.registration_row, e.prior_row
    FROM ip_cases c JOIN earlier_used e ON e.reg_no = c.reg_no
    WHERE c.case_no IS NOT NULL
), suits AS (
    -- A case_no recorded twice is one suit: its first row on an earlier-used work counts.
    SELECT o.* FROM on_earlier o
    JOIN (SELECT min(__row) AS first_row FROM on_earlier GROUP BY case_no) f ON f.first_row = o.__row
), by_plaintiff AS (
    -- Each plaintiff's and each agent's such suits, and those against vendors and small
    -- businesses.
    SELECT plaintiff_id, count(*) AS suits, sum(CAST(small AS INT)) AS against_small
    FROM suits WHERE plaintiff_id IS NOT NULL GROUP BY plaintiff_id
), through_agent AS (
    SELECT plaintiff_agent, count(*) AS suits, sum(CAST(small AS INT)) AS against_small
    FROM suits WHERE plaintiff_agent IS NOT NULL GROUP BY plaintiff_agent
), flagged AS (
    -- An agent who harvests is named before a plaintiff who does.
    SELECT s.*, p.suits AS by_plaintiff, p.against_small AS small_by_plaintiff,
           a.suits AS through_agent, a.against_small AS small_through_agent,
           coalesce(a.suits >= greatest($min_suits, 1) AND 2 * a.against_small > a.suits, false) AS agent_harvests,
           coalesce(p.suits >= greatest($min_suits, 1) AND 2 * p.against_small > p.suits, false) AS plaintiff_harvests
    FROM suits s
    LEFT JOIN by_plaintiff p ON p.plaintiff_id = s.plaintiff_id
    LEFT JOIN through_agent a ON a.plaintiff_agent = s.plaintiff_agent
), named AS (
    SELECT *,
           CASE WHEN agent_harvests THEN 'through agent' ELSE 'by plaintiff' END AS how,
           CASE WHEN agent_harvests THEN plaintiff_agent ELSE plaintiff_id END AS who,
           CASE WHEN agent_harvests THEN through_agent ELSE by_plaintiff END AS harvested,
           CASE WHEN agent_harvests THEN small_through_agent ELSE small_by_plaintiff END AS against_small
    FROM flagged WHERE agent_harvests OR plaintiff_harvests
)
SELECT case_no AS subject,
       0.6 + 0.4 * least(CAST(harvested - least($min_suits, harvested) AS DOUBLE) / (4 * greatest($min_suits, 1)), 1.0) AS score,
       'harvesting' AS rule,
       'Suit ' || case_no || ' over ' || reg_no || ', a work seen before its claimed creation, was brought ' || how || ' '
           || who || ', who has ' || CAST(harvested AS VARCHAR) || ' such suits, ' || CAST(against_small AS VARCHAR)
           || ' of them against vendors or small businesses.' AS reason,
       __row AS ip_cases__row, registration_row AS registrations__row, prior_row AS prior_use__row
FROM named
