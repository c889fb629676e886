# The shared profile table when it is too small for the users: with room
# for 4 profiles and 40 users charging from several connections, entries
# are dropped all the time and every charge must still land on the pool of
# the user's groups.  Profiles that cannot fit (a long user_id, many
# groups) are kept by each backend instead; a change of groups is seen by
# every connection.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('profiles', conf => "quota.max_users = 4\n");

my $long_id = 'u' x 100;
my $many_groups = join(',', map { "group-with-a-long-name-$_" } 1 .. 8);
$node->safe_psql('postgres', qq{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 1000000, 0);
SELECT quota.quota_create_pool('P' || g, 1000) FROM generate_series(0, 2) g;
SELECT quota.quota_grant_group('P' || g, 'g' || g) FROM generate_series(0, 2) g;
SELECT quota.quota_set_user('user' || i, ARRAY['g' || i % 3]) FROM generate_series(1, 40) i;
SELECT quota.quota_set_user('$long_id', '{g1}');
SELECT quota.quota_set_user('many', '{$many_groups,g2}');
});
is($node->safe_psql('postgres', 'SHOW quota.max_users'), '4',
	'the shared profile table has room for 4 profiles');

# charge every user once per connection; count the charges on a wrong pool
my $wrong = 0;
for my $round (1 .. 3)
{
	$wrong += $node->safe_psql('postgres', qq{
SELECT count(*) FROM generate_series(1, 40) i,
  LATERAL quota.quota_charge('m', 1, 0, 'r$round-' || i, user_id => 'user' || i) c
 WHERE c.pool <> 'P' || i % 3});
}
is($wrong, 0, 'three connections charged 40 users on their groups\' pools');
is($node->safe_psql('postgres', q{
SELECT string_agg(pool || ':' || balance, ' ' ORDER BY pool)
  FROM quota.pools}),
	'P0:961 P1:958 P2:961', 'each pool paid for its own users');

# profiles that do not fit the shared table, charged twice per connection
for my $round (1 .. 2)
{
	is($node->safe_psql('postgres', qq{
SELECT string_agg(c.pool, ' ' ORDER BY n) FROM (VALUES
  (1, '$long_id', 'l$round-1'), (2, '$long_id', 'l$round-2'),
  (3, 'many', 'm$round-1'), (4, 'many', 'm$round-2')) v(n, u, r),
  LATERAL quota.quota_charge('m', 1, 0, r, user_id => u) c}),
		'P1 P1 P2 P2', "connection $round: a long user_id and many groups");
}

# a change of groups reaches every connection
$node->safe_psql('postgres', q{SELECT quota.quota_set_user('user3', '{g1}')});
is($node->safe_psql('postgres', q{
SELECT pool FROM quota.quota_charge('m', 1, 0, 'after-change', user_id => 'user3')}),
	'P1', 'user3 now charges the pool of the new group');

# Backends share the profiles whatever configuration changes they saw:
# this connection changes a user (its own count of invalidations moves, a
# later connection starts without it) and then charges user1, whose
# profile goes to the shared table; a new connection's charge for user1
# reads no user row (no scan of quota.users' primary key).
$node->safe_psql('postgres', q{
SELECT quota.quota_set_user('user2', '{g2}');
SELECT count(*) FROM quota.quota_charge('m', 1, 0, 'share-1', user_id => 'user1');
});
is($node->safe_psql('postgres', q{
BEGIN;
SELECT count(*) FROM quota.quota_charge('m', 1, 0, 'share-2', user_id => 'user1');
SELECT pg_stat_get_xact_numscans('quota.users_pkey'::regclass);
COMMIT;
}), "1\n0", 'a connection started after a change reads the profile another one stored');

$node->stop;
done_testing();
