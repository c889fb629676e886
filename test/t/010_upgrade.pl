# Upgrades: install the oldest version that has an install script, load a
# university's data with it, walk ALTER EXTENSION quota UPDATE one release
# at a time to the newest, and compare every object of the extension
# (definitions, columns, policies, triggers, comments, grants) with a fresh
# install of the newest version.  The data must come through unchanged and
# keep working (charges, retries, settlements, resets); the oldest release
# must also still run on the new library by itself.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('upgrade');

my @versions = split /\n/, $node->safe_psql('postgres', q{
    SELECT version FROM pg_available_extension_versions
     WHERE name = 'quota' ORDER BY string_to_array(version, '.')::int[]});
my $newest = $node->safe_psql('postgres',
    q{SELECT default_version FROM pg_available_extensions WHERE name = 'quota'});
note "versions: @versions; newest $newest";
ok(scalar @versions >= 1, 'quota has an installable version');

# everything an extension object is, as text
my $fingerprint = q{
WITH objs AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota'))
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
    SELECT pg_describe_object(classid, objid, objsubid)
           || ' | ' || coalesce(obj_description(objid,
                  (SELECT relname FROM pg_class WHERE oid = classid)), '')
           || ' | ' || coalesce(CASE classid
                WHEN 'pg_proc'::regclass THEN
                    (SELECT pg_get_functiondef(objid)
                              || coalesce(array_to_string(p.proacl, ','), '')
                       FROM pg_proc p WHERE p.oid = objid AND p.prokind <> 'a')
                WHEN 'pg_class'::regclass THEN
                    (SELECT c.relkind::text || coalesce(array_to_string(c.relacl, ','), '')
                            || c.relrowsecurity::text
                            || coalesce(pg_get_viewdef(c.oid), '')
                            || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                           || a.attnotnull::text
                                                           || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
                                                           || coalesce(' -- ' || col_description(c.oid, a.attnum), ''),
                                                           ', ' ORDER BY a.attnum)
                                           FROM pg_attribute a
                                           LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                            || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY pg_get_indexdef(i.indexrelid))
                                           FROM pg_index i WHERE i.indrelid = c.oid), '')
                            || coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY pg_get_constraintdef(k.oid))
                                           FROM pg_constraint k WHERE k.conrelid = c.oid), '')
                            || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid), ', ' ORDER BY pg_get_triggerdef(t.oid))
                                           FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '')
                            || coalesce((SELECT string_agg(p.polname || ' ' || p.polcmd::text
                                                           || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                                                           || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                                                           ', ' ORDER BY p.polname)
                                           FROM pg_policy p WHERE p.polrelid = c.oid), '')
                       FROM pg_class c WHERE c.oid = objid)
                ELSE '' END, '') AS line
      FROM objs) x
};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE walked');
$node->safe_psql('fresh', "SET client_min_messages = warning; CREATE EXTENSION quota VERSION '$newest'");
$node->safe_psql('walked',
    "SET client_min_messages = warning; CREATE EXTENSION quota VERSION '$versions[0]'");
# a university's data, written by the oldest release
my $load = university_sql(member_limit => 8);
my $data = q{SELECT (SELECT string_agg(format('%s=%s/%s', pool, balance, allowance), ', ' ORDER BY pool)
                       FROM quota.pools)
             || ' ' || (SELECT count(*) || ':' || md5(string_agg(concat_ws(',', l.entry_id, l.at, l.pool,
                              l.user_id, l.kind, l.amount, l.model, l.service, l.conversation_id,
                              l.request_id, l.input_tokens, l.cached_input_tokens, l.output_tokens,
                              l.original_cost, l.discount_rate, l.final_cost, l.balance_after, l.note),
                              '|' ORDER BY entry_id))
                       FROM quota.ledger l)
             || ' ' || (SELECT md5(string_agg(concat_ws(',', c.charge_id, c.input_price,
                              c.cached_input_price, c.output_price, c.request_price),
                              '|' ORDER BY charge_id))
                       FROM quota.charges c)
             || ' ' || (SELECT md5(string_agg(r::text, '|' ORDER BY request_id)) FROM quota.reservations r)
             || ' ' || (SELECT md5(string_agg(s.user_id || s.active_pool, '|' ORDER BY user_id))
                       FROM quota.user_state s)
             || ' ' || (SELECT string_agg(format('%s=%s', pool, held), ', ' ORDER BY pool)
                       FROM quota.pool_status)};
$node->safe_psql('walked', $load);
# 0.2 keeps a charge's unit prices in quota.model_prices: charges at two
# prices of one model before the walk
$node->safe_psql('walked', q{
SELECT quota.quota_set_model('gpt-test', '5', '20', 'chat', '1', '0.001');
SELECT quota.quota_charge('gpt-test', 1000, 100, 'price-2', user_id => 'ann');
});
my $before = $node->safe_psql('walked', $data);
like($before, qr/Students Pool=/, "data loaded with $versions[0]");

my $steps = 0;
for my $v (@versions[1 .. $#versions])
{
    $node->safe_psql('walked', "ALTER EXTENSION quota UPDATE TO '$v'");
    $steps++;
}
is($node->safe_psql('walked', q{SELECT extversion FROM pg_extension WHERE extname = 'quota'}),
   $newest, "walked from $versions[0] to $newest in $steps steps");
my ($a, $b) = map { $node->safe_psql($_, $fingerprint) } qw(fresh walked);
cmp_ok(length($a), '>', 10000, 'the fingerprint covers the objects');
is($b, $a, 'the walked install has exactly the objects of a fresh one');
if ($b ne $a)
{
	my %fresh = map { $_ => 1 } split /\n/, $a;
	my %walked = map { $_ => 1 } split /\n/, $b;
	diag("only fresh: $_") for grep { !$walked{$_} } sort keys %fresh;
	diag("only walked: $_") for grep { !$fresh{$_} } sort keys %walked;
}

# the data came through, and keeps working after the walk (and a restart,
# which rebuilds every balance from the upgraded ledger)
is($node->safe_psql('walked', $data), $before, 'the data is unchanged by the walk');
$node->restart;
is($node->safe_psql('walked', $data), $before, 'and after a restart');
$node->safe_psql('walked', q{
SELECT quota.quota_charge('gpt-test', 1000, 200, 'r1', 'c1', user_id => 'ben');
SELECT quota.quota_charge('gpt-test', 1000, 1000, 'held-1', user_id => 'ann');
SELECT quota.quota_charge('gpt-test', 500, 100, 'after-1', user_id => 'ann');
SELECT quota.quota_reset('personal:ben');
});
is($node->safe_psql('walked', q{
    SELECT string_agg(format('%s %s/%s/%s/%s', m.model, p.input_price, p.cached_input_price,
                             p.output_price, p.request_price), ', ' ORDER BY p.price_id)
      FROM quota.model_prices p JOIN quota.models m USING (model) WHERE m.model = 'gpt-test'}),
   (join ', ', map { "gpt-test $_" } (split /\n/, $node->safe_psql('walked', q{
    SELECT format('%s/%s/%s/%s', input_price, cached_input_price, output_price, request_price)
      FROM quota.charges WHERE model = 'gpt-test'
     GROUP BY 1 ORDER BY min(at)}))),
   'each set of prices of the charges before the walk is one row of quota.model_prices');
is($node->safe_psql('walked', q{
    SELECT format('%s/%s/%s/%s %s', p.input_price, p.cached_input_price, p.output_price,
                  p.request_price, m.price_id = (SELECT max(price_id) FROM quota.model_prices
                                                  WHERE model = 'gpt-test'))
      FROM quota.models m JOIN quota.model_prices p USING (price_id) WHERE m.model = 'gpt-test'}),
   '5/1/20/0.001 t', 'the model points at its current prices');
is($node->safe_psql('walked', q{SELECT count(*) FROM quota.ledger WHERE request_id = 'r1'}),
   '1', 'a retry of a request charged before the walk is not billed again');
is($node->safe_psql('walked', q{
    SELECT string_agg(format('%s %s', p.pool, p.balance::numeric = coalesce(
               (SELECT quota.sum(amount) FROM quota.ledger l WHERE l.pool = p.pool)::numeric, 0)),
           ', ' ORDER BY p.pool)
      FROM quota.pools p}),
   'Students Pool t, personal:ben t',
   'after the walk every balance is the sum of its ledger');
is($node->safe_psql('walked',
    q{SELECT count(*) FROM quota.reservations WHERE settled_at IS NULL}),
   '0', 'the reservation taken before the walk settled after it');
my ($rc, $out, $err) = $node->psql('walked',
    q{SELECT quota.quota_charge('gpt-test', 4000000, 0, 'over-limit', user_id => 'ann')});
like($err, qr/member limit|insufficient quota/, 'the member limit set before the walk still holds');

# 18.2: after the walk, quota_check has retry_after and rate limits hold
$node->safe_psql('walked', q{
SELECT quota.quota_set_rate_limit('Students Pool', 1);
SELECT quota.quota_charge('qwen3-moe-onprem', 10, 10, 'rate-1', user_id => 'ann');
});
($rc, $out, $err) = $node->psql('walked',
    q{SELECT quota.quota_charge('qwen3-moe-onprem', 10, 10, 'rate-2', user_id => 'ann')});
like($err, qr/rate limit of pool "Students Pool" exceeded/, 'a rate limit set after the walk holds');
is($node->safe_psql('walked', q{
    SELECT format('%s %s %s', allowed, reason, retry_after BETWEEN '1 s' AND '61 s')
      FROM quota.quota_check('qwen3-moe-onprem', 'ann')}),
   'f member rate limit reached (1 requests per minute) t',
   'quota_check of the walked install names the rate limit and when to retry');

# the oldest release still runs on the new library by itself
$node->safe_psql('postgres', 'CREATE DATABASE oldest');
$node->safe_psql('oldest',
    "SET client_min_messages = warning; CREATE EXTENSION quota VERSION '$versions[0]'");
$node->safe_psql('oldest', $load);
like($node->safe_psql('oldest', $data), qr/Students Pool=/,
     "$versions[0] installs and charges on the new library");
# its quota_check declares four columns: the library fills those
like($node->safe_psql('oldest', q{SELECT c::text FROM quota.quota_check('gpt-test', 'ann') c}),
     qr/^\(t,"Students Pool",[0-9.]+,\)$/, "$versions[0]'s quota_check returns its four columns");
# a 0.1 ledger with prices that have no row to move to (a charge loaded
# with one of its four prices): the update refuses and changes nothing
$node->safe_psql('postgres', 'CREATE DATABASE partial');
$node->safe_psql('partial',
    "SET client_min_messages = warning; CREATE EXTENSION quota VERSION '$versions[0]'");
$node->safe_psql('partial', q{
BEGIN;
SET LOCAL row_security = off;
INSERT INTO quota.ledger (pool, kind, amount) VALUES ('P', 'grant', '10');
INSERT INTO quota.ledger (pool, user_id, kind, amount, model, service, request_id,
                          input_tokens, cached_input_tokens, output_tokens, input_price, final_cost)
VALUES ('P', 'u1', 'charge', '-1', 'm', 'chat', 'old-1', 0, 0, 0, '1', '1');
COMMIT;
});
($rc, $out, $err) = $node->psql('partial', 'ALTER EXTENSION quota UPDATE',
    extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000: ledger entries with incomplete unit prices cannot be moved to quota.model_prices/,
     'the update refuses a charge with some of its unit prices (55000)');
is($node->safe_psql('partial', q{
    SELECT extversion || ' ' || (SELECT count(*) FROM quota.ledger WHERE input_price IS NOT NULL)
      FROM pg_extension WHERE extname = 'quota'}),
   "$versions[0] 1", 'and leaves the installation as it was');
$node->stop;
done_testing();
