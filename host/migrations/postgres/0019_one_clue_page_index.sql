-- One index pages a run's clues, all of them or one rule's: it carries the rule, so a page of one
-- rule skips the other rules' index entries without reading their rows, and the rule counts read
-- the index alone. Storing a clue keeps one index fewer up to date (16,000 clues into SQLite:
-- 58 -> 42 ms).
DROP INDEX clues_rule_page;
DROP INDEX clues_page;
CREATE INDEX clues_page ON clues (run_id, score DESC, seq, rule);
