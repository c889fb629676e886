# One transaction touching thousands of pools whose escrow entries must be
# rebuilt (pool creation, and the first quota_run_due() after a restart)
# with a deliberately small lock table: rebuilding an entry must not keep a
# lock slot per pool until commit.  Balances survive the restart exactly.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('many', conf => "max_connections = 10\nmax_locks_per_transaction = 10\n");

my $q = sub { $node->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
$q->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 1000000, 0);
SELECT quota_set_user('w' || i) FROM generate_series(1, 3000) i;
});
# 3,000 new pools in one statement: each one's entry is built on creation
is($q->(q{SELECT count(quota_create_pool('p' || i, 100, kind => 'personal', owner => 'w' || i,
                                         reset_cron => '0 1 * * 5'))
          FROM generate_series(1, 3000) i}),
   '3000', '3,000 pools created in one transaction');
$q->(q{SELECT quota_charge('m', 10 + i % 7, 0, 'c' || i, user_id => 'w' || i)
         FROM generate_series(1, 3000, 50) i});
my $before = $q->(q{SELECT quota.sum(balance) FROM pools});

$node->restart;    # shared memory is gone: every entry is rebuilt on first use
is($q->(q{SELECT quota.sum(balance) FROM pools}), $before,
   'the same balances after the restart, rebuilt in one statement');
$node->restart;
$q->(q{UPDATE pool_defs SET next_reset_at = now() - interval '1 minute'});
is($q->(q{SELECT resets FROM quota_run_due()}), '3000',
   'one quota_run_due() resets 3,000 pools after a restart');
is($q->(q{SELECT count(*) FROM pools WHERE balance <> '100'}), '0', 'all restored');
is($q->(q{SELECT bool_and((_pool_money(pool)).balance
                          = (SELECT quota.sum(amount) FROM ledger l WHERE l.pool = d.pool))
          FROM pool_defs d}), 't', 'balance = sum of the ledger for every pool');
$node->stop;
done_testing();
