-- Paging a run's clues strongest first, all or of one rule, walks these indexes alone: a deep page
-- of a run with 100k clues skips index entries, not rows.
CREATE INDEX clues_page ON clues (run_id, score DESC, seq);
CREATE INDEX clues_rule_page ON clues (run_id, rule, score DESC, seq);
