
-- ---------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------

-- Tables: read under row-level security; written only by quota's functions.
REVOKE ALL ON ALL TABLES IN SCHEMA quota FROM PUBLIC;
GRANT SELECT ON quota.models, quota.model_prices, quota.discounts, quota.users, quota.pool_defs,
    quota.pool_members, quota.pool_groups, quota.personal_policies,
    quota.user_state, quota.ledger, quota.reservations
    TO quota_admin, quota_app, quota_user;
GRANT SELECT ON quota.pools, quota.pool_status, quota.my_pools, quota.charges,
    quota.conversation_costs, quota.usage_daily, quota.alerts
    TO quota_admin, quota_app, quota_user;

-- Configuration columns: all for quota_admin; schedule and thresholds for
-- pool administrators (row-level security narrows them to their pools).
GRANT UPDATE (allowance, member_limit, reset_cron, reset_timezone, reset_policy,
              warn_at, enabled, models)
    ON quota.pool_defs TO quota_admin;
GRANT UPDATE (reset_cron, reset_timezone, warn_at) ON quota.pool_defs TO quota_user;
GRANT UPDATE ON quota.pools TO quota_admin, quota_user;

ALTER TABLE quota.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_read ON quota.users FOR SELECT
    USING (quota._caller_is_admin() OR user_id = quota.current_user_id());
COMMENT ON POLICY users_read ON quota.users IS 'users see their own entry; quota_admin sees all';

ALTER TABLE quota.pool_defs ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_defs_read ON quota.pool_defs FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY pool_defs_read ON quota.pool_defs IS
    'users see the pools they may use; quota_admin sees all';
CREATE POLICY pool_defs_manage ON quota.pool_defs FOR UPDATE
    USING (quota._admins_pool(pool)) WITH CHECK (quota._admins_pool(pool));
COMMENT ON POLICY pool_defs_manage ON quota.pool_defs IS
    'quota_admin and the pool''s administrators change its configuration';

ALTER TABLE quota.pool_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_members_read ON quota.pool_members FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY pool_members_read ON quota.pool_members IS
    'users see their own memberships; pool administrators their pool''s members';

ALTER TABLE quota.pool_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_groups_read ON quota.pool_groups FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY pool_groups_read ON quota.pool_groups IS
    'group grants are visible with their pool';

ALTER TABLE quota.personal_policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY personal_policies_read ON quota.personal_policies FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY personal_policies_read ON quota.personal_policies IS
    'personal-account policies are visible to quota_admin';

ALTER TABLE quota.user_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_state_read ON quota.user_state FOR SELECT
    USING (quota._caller_is_admin() OR user_id = quota.current_user_id());
COMMENT ON POLICY user_state_read ON quota.user_state IS
    'users see their own active pool; quota_admin sees all';

ALTER TABLE quota.ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_read ON quota.ledger FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY ledger_read ON quota.ledger IS
    'users see their own entries; pool administrators their pool''s; quota_admin all';

ALTER TABLE quota.reservations ENABLE ROW LEVEL SECURITY;
CREATE POLICY reservations_read ON quota.reservations FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY reservations_read ON quota.reservations IS
    'users see their own reservations; pool administrators their pool''s; quota_admin all';

ALTER TABLE quota.alert_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY alerts_read ON quota.alert_log FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY alerts_read ON quota.alert_log IS
    'warnings are visible with their pool: to its users, its administrators and quota_admin (read through quota.alerts)';

-- Functions: nothing is executable by PUBLIC but the money type and pure
-- calculations; each role gets what it needs.
REVOKE ALL ON FUNCTION
    quota.quota_set_model(text, numeric, numeric, text, numeric, numeric, boolean),
    quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz),
    quota.quota_drop_discount(bigint),
    quota.quota_set_user(text, text[]),
    quota.quota_create_pool(text, numeric, text, text, text, text, text, numeric),
    quota.quota_personal_policy(text, numeric, text, text),
    quota.quota_add_member(text, text, text, numeric),
    quota.quota_remove_member(text, text),
    quota.quota_grant_group(text, text),
    quota.quota_revoke_group(text, text),
    quota.quota_set_pool_models(text, text[]),
    quota.quota_set_pool_enabled(text, boolean),
    quota.quota_topup(text, numeric, text),
    quota.quota_adjust(text, numeric, text),
    quota.quota_reset(text),
    quota.quota_run_due(),
    quota.quota_switch(text, text),
    quota.quota_active_pool(text),
    quota.quota_check(text, text, text),
    quota.quota_reserve(text, bigint, bigint, text, text, text, interval),
    quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text),
    quota.quota_release(text),
    quota._post(text, text, quota.credits, text, text),
    quota._pool_money(text),
    quota._apply_reset(text, boolean),
    quota._expire_holds(text),
    quota._ensure_personal(text, quota.credits, text, text),
    quota._usable_pools(text),
    quota._pool_exists(text),
    quota._user_exists(text),
    quota._may_manage(text),
    quota._check_schedule(text, text, text)
    FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    quota.quota_set_model(text, numeric, numeric, text, numeric, numeric, boolean),
    quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz),
    quota.quota_drop_discount(bigint),
    quota.quota_set_user(text, text[]),
    quota.quota_create_pool(text, numeric, text, text, text, text, text, numeric),
    quota.quota_personal_policy(text, numeric, text, text),
    quota.quota_grant_group(text, text),
    quota.quota_revoke_group(text, text),
    quota.quota_set_pool_models(text, text[]),
    quota.quota_set_pool_enabled(text, boolean),
    quota.quota_topup(text, numeric, text),
    quota.quota_adjust(text, numeric, text),
    quota.quota_reset(text),
    quota.quota_run_due()
    TO quota_admin;

-- validation used by the schedule trigger, which runs as the updating role
GRANT EXECUTE ON FUNCTION quota._check_schedule(text, text, text)
    TO quota_admin, quota_user;

-- Internal functions (14.12).  Trigger functions are called by their
-- triggers whatever the privileges; EXECUTE only lets a role attach them to
-- its own tables, so nobody gets it.  Helpers of row-level security and of
-- the views run as the role that reads (functions in a view or policy are
-- called by the caller), so the three quota roles keep them; everything a
-- SECURITY DEFINER function calls runs as the extension's owner.
REVOKE ALL ON FUNCTION
    quota.current_user_id(),
    quota._require(text[], boolean[]),
    quota._caller_is_admin(),
    quota._catalog_changed(),
    quota._price_version(),
    quota._append_only(),
    quota._ledger_guard(),
    quota._routes_changed(),
    quota._sees_pool(text),
    quota._admins_pool(text),
    quota._pool_figures(text),
    quota._pools_update(),
    quota._pool_defs_changed(),
    quota._my_pools()
    FROM PUBLIC;

-- row-level security policies, quota.pools, pool_status, my_pools, alerts
GRANT EXECUTE ON FUNCTION
    quota.current_user_id(),
    quota._caller_is_admin(),
    quota._sees_pool(text),
    quota._admins_pool(text),
    quota._pool_figures(text),
    quota._my_pools()
    TO quota_admin, quota_app, quota_user;

-- the views' exact figures (14.2): NULL where a figure does not fit; the
-- aggregate's final function is checked for the aggregate's owner only
REVOKE ALL ON FUNCTION
    quota._credits_or_null(numeric),
    quota._sum_or_null(quota.credits),
    quota._sum_or_null_final(internal)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota._credits_or_null(numeric),
    quota._sum_or_null(quota.credits)
    TO quota_admin, quota_app, quota_user;

-- _check_schedule's argument check, in the schedule trigger of an UPDATE
GRANT EXECUTE ON FUNCTION quota._require(text[], boolean[])
    TO quota_admin, quota_user;

-- pool administrators (quota_user members) manage their own pools' members
GRANT EXECUTE ON FUNCTION
    quota.quota_add_member(text, text, text, numeric),
    quota.quota_remove_member(text, text)
    TO quota_admin, quota_user;

GRANT EXECUTE ON FUNCTION
    quota.quota_switch(text, text),
    quota.quota_active_pool(text),
    quota.quota_check(text, text, text),
    quota.quota_reserve(text, bigint, bigint, text, text, text, interval),
    quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text),
    quota.quota_release(text)
    TO quota_admin, quota_app, quota_user;
