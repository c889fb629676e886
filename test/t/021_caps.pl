# Pool caps kept in shared memory (caps.c, escrow.c): exact after a
# restart (the window's earlier charges are read from the ledger), when a
# cap is added to a pool that already has charges in the window, with
# settlements counted, and in the locked mode (no shared_preload_libraries)
# where a pool cap serialises the pool's admissions instead.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('caps');
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user(u) FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_create_pool('p', 100, reset_timezone => 'Asia/Hong_Kong');
SELECT quota.quota_add_member('p', u) FROM unnest(ARRAY['u1', 'u2']) u;
});

# charges before any cap, then a daily pool cap of 3: they count
$node->safe_psql('postgres', q{
SELECT quota.quota_charge('m', 0, 1500000, 'a1', user_id => 'u1', pool => 'p');
SELECT quota.quota_reserve('m', 0, 1000000, 'r1', 'u2', 'p');
SELECT quota.quota_set_cap('p', 'day', 3, 'pool');
});
my ($out, $err) = ('', '');
$node->psql('postgres', q{SELECT quota.quota_charge('m', 0, 600000, 'a2', user_id => 'u2', pool => 'p')},
            stderr => \$err);
like($err, qr/daily cap of pool "p" reached/, 'charges and holds made before the cap count');
is($node->safe_psql('postgres', q{SELECT reason FROM quota.quota_check('m', 'u1', 'p')}),
   '', 'quota_check: room left (0.5)');

# a settlement is never refused, and counts: 1.5 + 0.8 settled = 2.3
$node->safe_psql('postgres', q{SELECT quota.quota_charge('m', 0, 800000, 'r1', user_id => 'u2', pool => 'p')});
$node->psql('postgres', q{SELECT quota.quota_charge('m', 0, 800000, 'a3', user_id => 'u1', pool => 'p')},
            stderr => \$err);
like($err, qr/2\.3 are used or held this day/, 'the settlement counts in the window');

# after a restart the window's charges are read from the ledger
$node->restart;
$node->psql('postgres', q{SELECT quota.quota_charge('m', 0, 800000, 'a4', user_id => 'u1', pool => 'p')},
            stderr => \$err);
like($err, qr/2\.3 are used or held this day/, 'after a restart: the window is rebuilt from the ledger');
is($node->safe_psql('postgres', q{SELECT final_cost FROM quota.quota_charge('m', 0, 700000, 'a5', user_id => 'u1', pool => 'p')}),
   '0.7', 'after a restart: what fits is charged');
is($node->safe_psql('postgres', q{SELECT allowed::text || ' ' || reason FROM quota.quota_check('m', 'u1', 'p')}),
   'false daily cap of 3 credits for the pool reached', 'after a restart: the cap is full');
# a repeat of a charged request is returned, not refused
is($node->safe_psql('postgres', q{SELECT final_cost FROM quota.quota_charge('m', 0, 700000, 'a5', user_id => 'u1', pool => 'p')}),
   '0.7', 'a repeat is never refused');

# a sealed window: after a restart its sealed days are read from the usage
# rollups and its later charges from the ledger; the cap is as exact
$node->safe_psql('postgres', q{
SELECT quota.quota_create_pool('q', 100, reset_timezone => 'America/New_York');
SELECT quota.quota_add_member('q', 'u1');
SELECT quota.quota_set_cap('q', 'day', 2, 'pool');
SELECT quota.quota_charge('m', 0, 700000, 'q1', user_id => 'u1', pool => 'q');
SELECT quota.quota_seal();
SELECT quota.quota_charge('m', 0, 600000, 'q2', user_id => 'u1', pool => 'q');
});
is($node->safe_psql('postgres', q{SELECT zone || ' ' || zone_since FROM quota.pool_seals WHERE pool = 'q'}),
   'America/New_York -infinity', 'the rollups of the pool are in its zone');
$node->restart;
$node->psql('postgres', q{SELECT quota.quota_charge('m', 0, 800000, 'q3', user_id => 'u1', pool => 'q')},
            stderr => \$err);
like($err, qr/1\.3 are used or held this day/, 'after a restart: sealed and unsealed charges both count');
is($node->safe_psql('postgres', q{SELECT final_cost FROM quota.quota_charge('m', 0, 700000, 'q4', user_id => 'u1', pool => 'q')}),
   '0.7', 'after a restart: what fits is charged');
is($node->safe_psql('postgres', q{SELECT allowed::text || ' ' || reason FROM quota.quota_check('m', 'u1', 'q')}),
   'false daily cap of 2 credits for the pool reached', 'after a restart: the sealed window is full');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.quota_verify() WHERE NOT ok}),
   '0', 'quota_verify agrees');
$node->stop;

# locked mode: the same cap, exact, through the pool's cap lock
my $locked = quota_node('caps_locked', preload => 0);
$locked->psql('postgres', 'CREATE EXTENSION quota');
$locked->safe_psql('postgres', q{
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user(u) FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_create_pool('p', 100);
SELECT quota.quota_add_member('p', u) FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_set_cap('p', 'week', 1.5, 'pool');
});
my $s1 = $locked->background_psql('postgres');
$s1->query_safe(q{BEGIN; SELECT quota.quota_charge('m', 0, 1000000, 'l1', user_id => 'u1', pool => 'p')});
my $s2 = $locked->background_psql('postgres', on_error_stop => 0);
$s2->query_until(qr/start/, q{\echo start
SELECT quota.quota_charge('m', 0, 1000000, 'l2', user_id => 'u2', pool => 'p');
\echo done
});
$s1->query_safe('COMMIT');
$s1->quit;
$s2->query(q{SELECT 1});
$s2->quit;
like($s2->{stderr}, qr/weekly cap of pool "p" reached/, 'locked mode: the second charge waits, then is refused');
is($locked->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}),
   '1', 'locked mode: one charge');
$locked->stop;

done_testing();
