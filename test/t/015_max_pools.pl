# quota.max_pools bounds the pool slots in shared memory: with 100, the
# 101st pool to need a balance there has none, and is written in locked
# mode instead (its balance summed from the ledger under its lock), exactly,
# also under concurrent charges; the server log says so once.  Views read
# every pool.  Entries of a dropped database, and of a dropped and
# re-created extension, are reclaimed so their room serves the pools that
# live on (a pool written without one gets one, from its ledger), but not
# those of a DROP EXTENSION that is not committed.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

# The postgresql.conf of a 0.2 server still sets the sizing settings that
# 0.3 replaced (by quota.max_members and quota.max_users): the server
# starts, and says that it ignores each one.
my @removed = qw(profile_cache_entries rate_limit_entries refusal_entries);
my $node = quota_node('max_pools', conf => "quota.max_pools = 100\n"
	. join('', map { "quota.$_ = 100\n" } @removed));
my $log = slurp_file($node->logfile);
for my $setting (@removed)
{
	like($log, qr/invalid configuration parameter name "quota\.$setting", removing it/,
		"a 0.2 setting left in postgresql.conf (quota.$setting) is ignored, with a warning");
}
is($node->safe_psql('postgres', 'SHOW quota.max_pools'), '100',
	'and the server runs with the settings that exist');

# model m (1 credit per token), user u; pools made one by one until one is
# refused: "created sqlstate-of-the-refusal"
my $setup = q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 1000000, 0);
SELECT quota.quota_set_user('u', '{}');
};
my $fill = q{
DO $$
DECLARE
    made int := 0;
    state text := 'none';
BEGIN
    FOR i IN 1 .. 150 LOOP
        BEGIN
            PERFORM quota.quota_create_pool('p' || i, 1000);
            PERFORM quota.quota_add_member('p' || i, 'u');
            made := made + 1;
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
            EXIT;
        END;
    END LOOP;
    RAISE NOTICE 'filled % %', made, state;
END
$$;
};

# a DO block's notice, from psql's stderr
sub notice
{
	my ($db, $sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql($db, $sql, stdout => \$out, stderr => \$err, on_error_die => 1);
	return $err =~ /NOTICE:  (.*)/ ? $1 : "no notice: $err";
}

$node->safe_psql('postgres', $setup);
is(notice('postgres', $fill), 'filled 150 none',
	'150 pools are made: 50 more than there are pool slots');
is($node->safe_psql('postgres', q{SELECT used || '/' || size FROM quota.quota_shared_memory()
 WHERE holds = 'pool slots'}), '100/100', 'the pool slots are all in use');
my @full = (slurp_file($node->logfile) =~ /no room for pool "[^"]*": quota\.max_pools \(100\) are in use/g);
is(scalar(@full), 1, 'the server log says once that pools go without a slot');
# charge every pool 1 credit (request ids TAG-pool): "charged N refused..."
my $charges = q{
DO $$
DECLARE
    ok int := 0;
    refused text := '';
    p record;
BEGIN
    FOR p IN SELECT pool FROM quota.pool_defs ORDER BY pool_id LOOP
        BEGIN
            PERFORM quota.quota_charge('m', 1, 0, 'TAG-' || p.pool, user_id => 'u',
                                       pool => p.pool);
            ok := ok + 1;
        EXCEPTION WHEN OTHERS THEN
            refused := refused || ' ' || SQLSTATE;
        END;
    END LOOP;
    RAISE NOTICE '%', 'charged ' || ok || refused;
END
$$;};
my $charges_as = sub { my $c = $charges; $c =~ s/TAG/$_[0]/; return $c };
is(notice('postgres', $charges_as->('a')), 'charged 150',
	'the 150 pools are charged');
my $exact = q{
SELECT count(*) FROM quota.pool_defs d
 WHERE (SELECT balance::numeric FROM quota.pools p WHERE p.pool = d.pool)
       IS DISTINCT FROM
       (SELECT quota.sum(amount)::numeric FROM quota.ledger l WHERE l.pool = d.pool)};
is($node->safe_psql('postgres', $exact), '0', 'every balance is the sum of its ledger');

# Concurrent charges on a pool without a slot (999 credits left, 4 each):
# exactly 249 fit, whatever the interleaving.
$node->safe_psql('postgres', q{
CREATE FUNCTION public.try_charge(n bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM quota.quota_charge('m', 4, 0, 'burst-' || n, user_id => 'u', pool => 'p150');
    RETURN 'ok';
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    RETURN 'refused';
END
$$;});
pgbench_burst($node, "\\set n random(1, 1000000000)\nSELECT public.try_charge(:n);\n",
	8, 40, 'pgbench: 8 clients, 320 charges of 4');
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || (SELECT balance FROM quota.pools WHERE pool = 'p150')
  FROM quota.ledger WHERE pool = 'p150' AND request_id LIKE 'burst-%'}), '249 3',
	'a pool without a slot admits exactly what its balance pays for');

# After a restart the table is empty; another database takes one entry.
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', $setup . q{SELECT quota.quota_create_pool('o1', 1000);});
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || sum(balance::numeric) || ' ' || count(*) FILTER (WHERE balance IS NULL)
  FROM quota.pool_status}), '150 148854 0',
	'pool_status reads every pool, also those without room');
is(notice('postgres', $charges_as->('b')), 'charged 150',
	'every pool is charged, 51 of them without a slot');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}), '549',
	'each charge has its ledger row');
is($node->safe_psql('postgres', $exact), '0', 'every balance is the sum of its ledger');

# The other database is dropped: its entry is reclaimed.
$node->safe_psql('postgres', 'DROP DATABASE other');
is(notice('postgres', $charges_as->('c')), 'charged 150',
	'after DROP DATABASE, its entry serves one more pool');
is($node->safe_psql('postgres', q{SELECT used || '/' || size FROM quota.quota_shared_memory()
 WHERE holds = 'pool slots'}), '100/100', 'which took the room');
is($node->safe_psql('postgres', $exact), '0',
	'and a pool written without a slot got one with its exact balance');

# A DROP EXTENSION that is not committed frees nothing (it may roll back):
# the new installation gets no room, and after the rollback the old pools
# keep their entries and exact balances.
my ($out, $err) = ('', '');
$node->psql('postgres', "BEGIN;\nDROP EXTENSION quota;\n" . $setup
	  . "SELECT quota.quota_create_pool('new', 1000);\nROLLBACK;\n",
	stdout => \$out, stderr => \$err);
unlike($err, qr/ERROR/, 'an uncommitted DROP and CREATE EXTENSION writes its pool without room');
is(notice('postgres', $charges_as->('e')), 'charged 150',
	'after its rollback the old pools are charged');
is($node->safe_psql('postgres', $exact), '0',
	'and every balance is still the sum of its ledger');

# The extension is dropped and created again: its 100 old entries are
# reclaimed for the new installation's pools.
$node->safe_psql('postgres', 'DROP EXTENSION quota');
$node->safe_psql('postgres', $setup);
is(notice('postgres', $fill), 'filled 150 none',
	'after DROP and CREATE EXTENSION, 150 new pools are made');
is(notice('postgres', $charges_as->('d')), 'charged 150',
	'and are charged');
is($node->safe_psql('postgres', q{SELECT used || '/' || size FROM quota.quota_shared_memory()
 WHERE holds = 'pool slots'}), '100/100', 'the old installation\'s slots serve the new one\'s pools');
is($node->safe_psql('postgres', q{
SELECT sum(balance::numeric) FROM quota.pools}), '149850',
	'the new installation\'s balances start from its own ledger');

$node->stop;
done_testing();
