# quota.max_pools is a limit: with 100, the 101st pool to need a balance in
# shared memory gets 53400 and nothing is created or charged beyond it;
# views still read every pool (from the ledger when there is no room);
# entries of a dropped database, and of a dropped and re-created extension,
# are reclaimed so their room serves the pools that live on, but not those
# of a DROP EXTENSION that is not committed.
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
is(notice('postgres', $fill), 'filled 100 53400',
	'the 101st pool is refused with 53400');
is($node->safe_psql('postgres', 'SELECT count(*) FROM quota.pool_defs'), '100',
	'nothing of the refused pool was kept');
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
is(notice('postgres', $charges_as->('a')), 'charged 100',
	'the 100 pools are charged');

# After a restart the table is empty; another database takes one entry.
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', $setup . q{SELECT quota.quota_create_pool('o1', 1000);});
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || sum(balance::numeric) || ' ' || count(*) FILTER (WHERE balance IS NULL)
  FROM quota.pool_status}), '100 99900 0',
	'pool_status reads every pool, also the one without room');
is(notice('postgres', $charges_as->('b')), 'charged 99 53400',
	'99 pools are charged, the one without room gets 53400');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}), '199',
	'the refused charge left no ledger row');
my $exact = q{
SELECT count(*) FROM quota.pool_defs d
 WHERE (SELECT balance::numeric FROM quota.pools p WHERE p.pool = d.pool)
       IS DISTINCT FROM
       (SELECT quota.sum(amount)::numeric FROM quota.ledger l WHERE l.pool = d.pool)};
is($node->safe_psql('postgres', $exact), '0', 'every balance is the sum of its ledger');

# The other database is dropped: its entry is reclaimed.
$node->safe_psql('postgres', 'DROP DATABASE other');
is(notice('postgres', $charges_as->('c')), 'charged 100',
	'after DROP DATABASE, its entry serves the last pool');

# A DROP EXTENSION that is not committed frees nothing (it may roll back):
# the new installation gets no room, and after the rollback the old pools
# keep their entries and exact balances.
my ($out, $err) = ('', '');
$node->psql('postgres', "BEGIN;\nDROP EXTENSION quota;\n" . $setup
	  . "SELECT quota.quota_create_pool('new', 1000);\nROLLBACK;\n",
	stdout => \$out, stderr => \$err);
like($err, qr/too many pools for quota's shared memory/,
	'an uncommitted DROP and CREATE EXTENSION gets no room');
is(notice('postgres', $charges_as->('e')), 'charged 100',
	'after its rollback the old pools are charged');
is($node->safe_psql('postgres', $exact), '0',
	'and every balance is still the sum of its ledger');

# The extension is dropped and created again: its 100 old entries are
# reclaimed for the new installation's pools.
$node->safe_psql('postgres', 'DROP EXTENSION quota');
$node->safe_psql('postgres', $setup);
is(notice('postgres', $fill), 'filled 100 53400',
	'after DROP and CREATE EXTENSION, 100 new pools fit again');
is(notice('postgres', $charges_as->('d')), 'charged 100',
	'and are charged');
is($node->safe_psql('postgres', q{
SELECT sum(balance::numeric) FROM quota.pools}), '99900',
	'the new installation\'s balances start from its own ledger');

$node->stop;
done_testing();
