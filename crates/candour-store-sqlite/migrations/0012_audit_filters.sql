-- The audit log's filters: by what was done to (a person's record), by whom and by action,
-- each newest first (the rowid, `id`, is in every index and breaks ties in time).
CREATE INDEX audit_log_target_at ON audit_log (target, at);
CREATE INDEX audit_log_actor_at ON audit_log (actor_id, at);
CREATE INDEX audit_log_action_at ON audit_log (action, at);
