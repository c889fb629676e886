
-- ---------------------------------------------------------------------------
-- Comments on every user-visible column (kept last: views re-created by an
-- upgrade keep them)
-- ---------------------------------------------------------------------------

COMMENT ON COLUMN quota.models.model IS 'model name, as the gateway passes it';
COMMENT ON COLUMN quota.models.service IS 'service the model belongs to (chat, embedding, ...); discounts apply by service';
COMMENT ON COLUMN quota.models.input_price IS 'credits per 1,000,000 input tokens (cached input excluded)';
COMMENT ON COLUMN quota.models.output_price IS 'credits per 1,000,000 output tokens';
COMMENT ON COLUMN quota.models.request_price IS 'credits per request, added to the token cost';
COMMENT ON COLUMN quota.models.enabled IS 'false: the model is refused everywhere (QU002)';
COMMENT ON COLUMN quota.models.updated_at IS 'when the model''s prices or state last changed';
COMMENT ON COLUMN quota.models.price_id IS 'the row of quota.model_prices with the model''s current prices (charges record it)';

COMMENT ON COLUMN quota.model_prices.price_id IS 'id of the prices, recorded by every charge that used them (quota.ledger.price_id)';
COMMENT ON COLUMN quota.model_prices.model IS 'the model';
COMMENT ON COLUMN quota.model_prices.input_price IS 'credits per 1,000,000 input tokens (cached input excluded)';
COMMENT ON COLUMN quota.model_prices.cached_input_price IS 'credits per 1,000,000 cached input tokens';
COMMENT ON COLUMN quota.model_prices.output_price IS 'credits per 1,000,000 output tokens';
COMMENT ON COLUMN quota.model_prices.request_price IS 'credits per request, added to the token cost';
COMMENT ON COLUMN quota.model_prices.since IS 'when the model got these prices (first, for prices of 0.1 charges)';

COMMENT ON COLUMN quota.discounts.discount_id IS 'id of the discount, for quota_drop_discount';
COMMENT ON COLUMN quota.discounts.service IS 'service the discount applies to';
COMMENT ON COLUMN quota.discounts.rate IS 'final cost = original cost x rate, in [0, 1]; the lowest matching rate wins';
COMMENT ON COLUMN quota.discounts.model IS 'only this model (NULL: every model of the service)';
COMMENT ON COLUMN quota.discounts.pool IS 'only this pool (NULL: every pool)';
COMMENT ON COLUMN quota.discounts.valid_from IS 'start of the window, inclusive (NULL: always)';
COMMENT ON COLUMN quota.discounts.valid_until IS 'end of the window, exclusive (NULL: never ends)';
COMMENT ON COLUMN quota.discounts.created_at IS 'when the discount was set';

COMMENT ON COLUMN quota.users.user_id IS 'user id: the login name of a quota_user, or what the gateway passes as user_id';
COMMENT ON COLUMN quota.users.groups IS 'groups of the user (student, staff, dept:physics, ...): pools granted to a group are the user''s';
COMMENT ON COLUMN quota.users.created_at IS 'when the user was registered';
COMMENT ON COLUMN quota.users.updated_at IS 'when the user''s groups last changed';

COMMENT ON COLUMN quota.user_state.user_id IS 'the user';
COMMENT ON COLUMN quota.user_state.active_pool IS 'the pool last chosen with quota_switch';
COMMENT ON COLUMN quota.user_state.switched_at IS 'when the user switched';

COMMENT ON COLUMN quota.personal_policies.group_name IS 'every user of this group gets a personal pool';
COMMENT ON COLUMN quota.personal_policies.allowance IS 'allowance of each personal pool';
COMMENT ON COLUMN quota.personal_policies.reset_cron IS 'reset schedule of each personal pool (5-field cron)';
COMMENT ON COLUMN quota.personal_policies.reset_timezone IS 'time zone the schedule is read in';
COMMENT ON COLUMN quota.personal_policies.updated_at IS 'when the policy last changed';

COMMENT ON COLUMN quota.pool_defs.pool_id IS 'internal id of the pool';
COMMENT ON COLUMN quota.pool_defs.pool IS 'pool name';
COMMENT ON COLUMN quota.pool_defs.kind IS 'personal (one owner) or shared (members and groups)';
COMMENT ON COLUMN quota.pool_defs.owner IS 'the user who owns a personal pool';
COMMENT ON COLUMN quota.pool_defs.allowance IS 'credits restored (restore) or added (add) at each reset';
COMMENT ON COLUMN quota.pool_defs.reset_cron IS 'reset schedule, a 5-field cron expression (NULL: never)';
COMMENT ON COLUMN quota.pool_defs.reset_timezone IS 'time zone the schedule is read in';
COMMENT ON COLUMN quota.pool_defs.reset_policy IS 'restore (balance = allowance), add (+ allowance) or none';
COMMENT ON COLUMN quota.pool_defs.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.pool_defs.member_limit IS 'default most a member may spend per period (NULL: no limit)';
COMMENT ON COLUMN quota.pool_defs.warn_at IS 'warning thresholds: fractions of the allowance used in the period';
COMMENT ON COLUMN quota.pool_defs.enabled IS 'false: paid and free requests on the pool are refused (QU004)';
COMMENT ON COLUMN quota.pool_defs.created_at IS 'when the pool was created';

COMMENT ON COLUMN quota.pool_members.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_members.user_id IS 'the member';
COMMENT ON COLUMN quota.pool_members.role IS 'member, or admin (manages the pool''s members, schedule and warnings)';
COMMENT ON COLUMN quota.pool_members.member_limit IS 'most this member may spend per period (NULL: the pool''s member_limit)';
COMMENT ON COLUMN quota.pool_members.added_at IS 'when the member was added';

COMMENT ON COLUMN quota.pool_groups.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_groups.group_name IS 'every user of this group is a member';
COMMENT ON COLUMN quota.pool_groups.granted_at IS 'when the group was granted';

COMMENT ON COLUMN quota.ledger.entry_id IS 'id of the entry (the charge_id of a charge)';
COMMENT ON COLUMN quota.ledger.at IS 'when the entry was written';
COMMENT ON COLUMN quota.ledger.pool IS 'the pool whose balance moved';
COMMENT ON COLUMN quota.ledger.user_id IS 'the user charged, or who made the change';
COMMENT ON COLUMN quota.ledger.kind IS 'grant, charge, topup, adjust or reset';
COMMENT ON COLUMN quota.ledger.model IS 'the model (charges)';
COMMENT ON COLUMN quota.ledger.service IS 'the model''s service (charges)';
COMMENT ON COLUMN quota.ledger.conversation_id IS 'the conversation, as the application passed it (charges)';
COMMENT ON COLUMN quota.ledger.input_tokens IS 'input tokens, cached input excluded (charges)';
COMMENT ON COLUMN quota.ledger.cached_input_tokens IS 'cached input tokens (charges)';
COMMENT ON COLUMN quota.ledger.output_tokens IS 'output tokens (charges)';
COMMENT ON COLUMN quota.ledger.original_cost IS 'cost before discount: the crossed-out price (charges)';
COMMENT ON COLUMN quota.ledger.discount_rate IS 'discount rate applied (charges)';
COMMENT ON COLUMN quota.ledger.final_cost IS 'cost charged = original_cost x discount_rate (charges)';
COMMENT ON COLUMN quota.ledger.note IS 'why the balance was changed (top-ups, adjustments)';
COMMENT ON COLUMN quota.ledger.price_id IS 'the unit prices used: a row of quota.model_prices (charges)';

COMMENT ON COLUMN quota.reservations.request_id IS 'the request; settle it with quota_charge and the same request_id';
COMMENT ON COLUMN quota.reservations.pool IS 'the pool holding the credits';
COMMENT ON COLUMN quota.reservations.user_id IS 'the user';
COMMENT ON COLUMN quota.reservations.model IS 'the model';
COMMENT ON COLUMN quota.reservations.max_input_tokens IS 'declared most input tokens, cached included';
COMMENT ON COLUMN quota.reservations.max_output_tokens IS 'declared most output tokens';
COMMENT ON COLUMN quota.reservations.held IS 'credits held: the worst-case final cost';
COMMENT ON COLUMN quota.reservations.created_at IS 'when the reservation was taken';
COMMENT ON COLUMN quota.reservations.expires_at IS 'when an unsettled hold is released';
COMMENT ON COLUMN quota.reservations.settled_at IS 'when the reservation ended (NULL: still held)';
COMMENT ON COLUMN quota.reservations.outcome IS 'charged, released or expired';
COMMENT ON COLUMN quota.reservations.charge_id IS 'the charge that settled it';

COMMENT ON COLUMN quota.alerts.alert_id IS 'id of the warning';
COMMENT ON COLUMN quota.alerts.pool IS 'the pool that crossed a threshold';
COMMENT ON COLUMN quota.alerts.at IS 'when the threshold was crossed';
COMMENT ON COLUMN quota.alerts.threshold IS 'the fraction of the allowance crossed';
COMMENT ON COLUMN quota.alerts.period_start IS 'the period in which it was crossed';
COMMENT ON COLUMN quota.alerts.used IS 'usage in the period when it was crossed';
COMMENT ON COLUMN quota.alerts.allowance IS 'the pool''s allowance then';
COMMENT ON COLUMN quota.alerts.user_id IS 'the user whose charge crossed it (pool administrators and quota_admin only)';
COMMENT ON COLUMN quota.alerts.request_id IS 'the request that crossed it (pool administrators and quota_admin only)';

COMMENT ON COLUMN quota.pools.pool IS 'pool name';
COMMENT ON COLUMN quota.pools.kind IS 'personal or shared';
COMMENT ON COLUMN quota.pools.owner IS 'owner of a personal pool';
COMMENT ON COLUMN quota.pools.allowance IS 'credits restored or added at each reset';
COMMENT ON COLUMN quota.pools.balance IS 'committed balance: the sum of the pool''s ledger';
COMMENT ON COLUMN quota.pools.reset_cron IS 'reset schedule (5-field cron; NULL: never)';
COMMENT ON COLUMN quota.pools.reset_timezone IS 'time zone the schedule is read in';
COMMENT ON COLUMN quota.pools.reset_policy IS 'restore, add or none';
COMMENT ON COLUMN quota.pools.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.pools.member_limit IS 'default most a member may spend per period';
COMMENT ON COLUMN quota.pools.warn_at IS 'warning thresholds, fractions of the allowance used';
COMMENT ON COLUMN quota.pools.enabled IS 'false: requests on the pool are refused';
COMMENT ON COLUMN quota.pools.models IS 'models the pool pays for (NULL: every enabled model)';
COMMENT ON COLUMN quota.pools.period_start IS 'start of the current period (the last reset)';
COMMENT ON COLUMN quota.pools.created_at IS 'when the pool was created';

COMMENT ON COLUMN quota.pool_status.pool IS 'pool name';
COMMENT ON COLUMN quota.pool_status.kind IS 'personal or shared';
COMMENT ON COLUMN quota.pool_status.allowance IS 'credits restored or added at each reset';
COMMENT ON COLUMN quota.pool_status.balance IS 'committed balance: the sum of the pool''s ledger';
COMMENT ON COLUMN quota.pool_status.held IS 'credits held by active reservations';
COMMENT ON COLUMN quota.pool_status.available IS 'balance - held: what new requests may spend';
COMMENT ON COLUMN quota.pool_status.used IS 'spent in the current period';
COMMENT ON COLUMN quota.pool_status.used_pct IS 'used as a percentage of the allowance';
COMMENT ON COLUMN quota.pool_status.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.pool_status.enabled IS 'false: requests on the pool are refused';

COMMENT ON COLUMN quota.my_pools.pool IS 'a pool the caller may use';
COMMENT ON COLUMN quota.my_pools.kind IS 'personal or shared';
COMMENT ON COLUMN quota.my_pools.role IS 'owner, admin or member';
COMMENT ON COLUMN quota.my_pools.active IS 'true for the pool new requests are charged to';
COMMENT ON COLUMN quota.my_pools.balance IS 'committed balance';
COMMENT ON COLUMN quota.my_pools.held IS 'credits held by active reservations';
COMMENT ON COLUMN quota.my_pools.available IS 'balance - held';
COMMENT ON COLUMN quota.my_pools.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.my_pools.enabled IS 'false: the pool is disabled and refuses requests';

COMMENT ON COLUMN quota.charges.charge_id IS 'id of the charge (the ledger entry)';
COMMENT ON COLUMN quota.charges.at IS 'when the charge was written';
COMMENT ON COLUMN quota.charges.pool IS 'the pool charged';
COMMENT ON COLUMN quota.charges.user_id IS 'the user charged';
COMMENT ON COLUMN quota.charges.model IS 'the model';
COMMENT ON COLUMN quota.charges.service IS 'the model''s service';
COMMENT ON COLUMN quota.charges.request_id IS 'the request (idempotency key)';
COMMENT ON COLUMN quota.charges.conversation_id IS 'the conversation';
COMMENT ON COLUMN quota.charges.input_tokens IS 'input tokens, cached input excluded';
COMMENT ON COLUMN quota.charges.cached_input_tokens IS 'cached input tokens';
COMMENT ON COLUMN quota.charges.output_tokens IS 'output tokens';
COMMENT ON COLUMN quota.charges.input_price IS 'input price used, credits per 1M tokens';
COMMENT ON COLUMN quota.charges.cached_input_price IS 'cached input price used, credits per 1M tokens';
COMMENT ON COLUMN quota.charges.output_price IS 'output price used, credits per 1M tokens';
COMMENT ON COLUMN quota.charges.request_price IS 'request price used';
COMMENT ON COLUMN quota.charges.original_cost IS 'cost before discount (crossed out)';
COMMENT ON COLUMN quota.charges.discount_rate IS 'discount rate applied';
COMMENT ON COLUMN quota.charges.final_cost IS 'cost charged';

COMMENT ON COLUMN quota.conversation_costs.conversation_id IS 'the conversation';
COMMENT ON COLUMN quota.conversation_costs.user_id IS 'the user';
COMMENT ON COLUMN quota.conversation_costs.requests IS 'charged requests';
COMMENT ON COLUMN quota.conversation_costs.tokens IS 'input, cached input and output tokens';
COMMENT ON COLUMN quota.conversation_costs.original_cost IS 'cost before discounts';
COMMENT ON COLUMN quota.conversation_costs.final_cost IS 'cost charged';
COMMENT ON COLUMN quota.conversation_costs.first_at IS 'first charge';
COMMENT ON COLUMN quota.conversation_costs.last_at IS 'last charge';

COMMENT ON COLUMN quota.usage_daily.day IS 'the day, in the pool''s time zone (reset_timezone)';
COMMENT ON COLUMN quota.usage_daily.pool IS 'the pool';
COMMENT ON COLUMN quota.usage_daily.model IS 'the model';
COMMENT ON COLUMN quota.usage_daily.requests IS 'charged requests';
COMMENT ON COLUMN quota.usage_daily.tokens IS 'input, cached input and output tokens';
COMMENT ON COLUMN quota.usage_daily.original_cost IS 'cost before discounts';
COMMENT ON COLUMN quota.usage_daily.final_cost IS 'cost charged';
