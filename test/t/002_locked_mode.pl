# Without shared_preload_libraries, quota works in its locked mode: the same
# results, exact balances, and no overspend between two sessions.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('locked', preload => 0);

my ($out, $err) = ('', '');
$node->psql('postgres', 'CREATE EXTENSION quota', stdout => \$out, stderr => \$err);
like($err, qr/pg_cron is not installed/, 'without pg_cron the extension says how to add it');

$node->safe_psql('postgres', q{
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user('u1');
SELECT quota.quota_set_user('u2');
SELECT quota.quota_create_pool('p', 1.5);
SELECT quota.quota_add_member('p', 'u1');
SELECT quota.quota_add_member('p', 'u2');
});

# session 1 holds an uncommitted charge of 1; session 2 must wait, then fail
my $s1 = $node->background_psql('postgres');
$s1->query_safe(q{BEGIN; SELECT quota.quota_charge('m', 0, 1000000, 'a', user_id => 'u1')});
my $s2 = $node->background_psql('postgres', on_error_stop => 0);
$s2->query_until(qr/start/, q{\echo start
SELECT quota.quota_charge('m', 0, 1000000, 'b', user_id => 'u2');
\echo done
});
$s1->query_safe('COMMIT');
$s1->quit;
my $res = $s2->query(q{SELECT 1});
$s2->quit;
like($s2->{stderr}, qr/insufficient quota in pool "p"/, 'second charge refused after the first commits');

is($node->safe_psql('postgres', q{SELECT balance FROM quota.pools WHERE pool = 'p'}),
   '0.5', 'one charge billed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}),
   '1', 'one ledger charge');

# Settlements in locked mode (issue 14, item 1): beyond the declared maxima
# they must fit in available plus the hold they free; within them they
# settle past zero, but never out of the type's range.
$node->safe_psql('postgres', q{
SELECT quota.quota_set_model('m2', 0, 1);
SELECT quota.quota_create_pool('w', 100);
SELECT quota.quota_create_pool('w2', 100);
SELECT quota.quota_add_member(p, 'u1') FROM unnest(ARRAY['w', 'w2']) p;
SELECT quota.quota_reserve('m', 0, 1, 'w-1', user_id => 'u1', pool => 'w');
SELECT quota.quota_reserve('m2', 0, 1000000, 'w-2', user_id => 'u1', pool => 'w2');
SELECT quota.quota_reserve('m2', 0, 1000000, 'w-3', user_id => 'u1', pool => 'w2');
SELECT quota.quota_set_model('m2', 0, 5000000000);
});
$node->psql('postgres', q{SELECT quota.quota_charge('m', 0, 100000001, 'w-1', user_id => 'u1')},
            stderr => \$err);
like($err, qr/exceeds the maxima reserved for request "w-1"/, 'beyond the maxima: refused when it does not fit');
is($node->safe_psql('postgres', q{SELECT final_cost || ' ' || balance FROM quota.quota_charge('m', 0, 100000000, 'w-1', user_id => 'u1')}),
   '100 0', 'beyond the maxima: billed when it fits in available plus the freed hold');
is($node->safe_psql('postgres', q{SELECT balance FROM quota.quota_charge('m2', 0, 1000000, 'w-2', user_id => 'u1')}),
   '-4999999900', 'within the maxima: settled past zero');
$node->psql('postgres', q{SELECT quota.quota_charge('m2', 0, 1000000, 'w-3', user_id => 'u1')},
            stderr => \$err);
like($err, qr/credits out of range/, 'a settlement that would pass the minimum raises 22003');
is($node->safe_psql('postgres', q{
    SELECT string_agg(d.pool || ' ' || (quota._pool_money(d.pool)).balance || ' '
                      || ((quota._pool_money(d.pool)).balance
                          OPERATOR(quota.=) (SELECT quota.sum(amount) FROM quota.ledger l WHERE l.pool = d.pool)),
                      ', ' ORDER BY d.pool)
      FROM quota.pool_defs d WHERE d.pool IN ('w', 'w2')}),
   'w 0 true, w2 -4999999900 true', 'balances are the sums of their ledgers');
$node->stop;
done_testing();
