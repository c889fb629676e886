# Two databases with quota on one server share its memory (escrow entries,
# profiles shared between backends) but nothing of one may leak into the
# other: the same user, pool and request names, with different groups,
# pools and money, are charged in both, each from fresh connections that
# find the other database's entries in shared memory; then the same with
# the shared profile table turned off.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('databases');

# the same user "alice" and pool names; her group's default pool differs
my %setup = (
	db1 => ['lab', 'Alpha Pool', 100],
	db2 => ['staff', 'Beta Pool', 50]);
for my $db (sort keys %setup)
{
	my ($group, $pool, $allowance) = @{ $setup{$db} };
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 1000000, 0);
SELECT quota.quota_set_user('alice', ARRAY['$group']);
SELECT quota.quota_create_pool('Alpha Pool', 1000);
SELECT quota.quota_create_pool('Beta Pool', 1000);
SELECT quota.quota_create_pool('$pool Own', $allowance);
SELECT quota.quota_grant_group('$pool Own', '$group');
});
}

# alice's charge of a request: "pool final_cost balance"
sub charge_sql
{
	my ($tokens, $request) = @_;
	return qq{SELECT pool || ' ' || final_cost || ' ' || balance
  FROM quota.quota_charge('m', $tokens, 0, '$request', user_id => 'alice')};
}

# no change to users or pools from here on: cached profiles stay current
my $charge = charge_sql(2, 'same-request');
is($node->safe_psql('db1', $charge), 'Alpha Pool Own 2 98',
	'db1: alice is charged on her lab pool');
is($node->safe_psql('db2', $charge), 'Beta Pool Own 2 48',
	'db2: a fresh connection does not get db1\'s profile, request or balance');
is($node->safe_psql('db1', $charge), 'Alpha Pool Own 2 98',
	'db1: the retry returns db1\'s charge');
is($node->safe_psql('db2', q{SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}),
	'1', 'db2 has its own single charge');

# without the shared table (quota.max_users = 0) the same
# charges read each profile themselves
$node->append_conf('postgresql.conf', 'quota.max_users = 0');
$node->restart;
is($node->safe_psql('db1', 'SHOW quota.max_users'), '0',
	'the shared profile table is off');
my $other = charge_sql(3, 'other-request');
is($node->safe_psql('db2', $other), 'Beta Pool Own 3 45',
	'db2 charges without the shared table');
is($node->safe_psql('db1', $other), 'Alpha Pool Own 3 95',
	'db1 charges without the shared table');

$node->stop;
done_testing();
