-- An approval covers the approving admin's procuratorate and everything below it.
ALTER TABLE plugins ADD COLUMN approved_org_id BIGINT REFERENCES orgs(id);
UPDATE plugins SET approved_org_id = (SELECT org_id FROM users WHERE users.id = plugins.decided_by)
    WHERE state = 'approved';
