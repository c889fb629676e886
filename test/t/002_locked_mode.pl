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
$node->stop;
done_testing();
