-- Key domains encoded at import: the manifest (JSON) of a dictionary blob per domain and a codes
-- blob per table, which runs read instead of hashing text (datasets::encoding).
ALTER TABLE datasets ADD COLUMN encoding TEXT;
