-- A plugin's source archive (a blob) and the toolchain that built it: what reviewers read when
-- they vet, since a Python or JavaScript build does not give the same bytes twice.
ALTER TABLE plugins ADD COLUMN source_digest TEXT;
ALTER TABLE plugins ADD COLUMN source_size BIGINT;
ALTER TABLE plugins ADD COLUMN toolchain TEXT;
