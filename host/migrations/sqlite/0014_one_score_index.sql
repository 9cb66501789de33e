-- clues_page (run_id, score DESC, seq) serves every lookup clues_by_score (run_id, score) did;
-- one index fewer to keep up on each stored clue.
DROP INDEX clues_by_score;
