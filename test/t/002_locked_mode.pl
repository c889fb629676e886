# Without shared_preload_libraries, quota works in its locked mode: the same
# results, exact balances, and no overspend between two sessions; rate
# limits (requests and tokens, per member and per pool) and caps hold
# exactly, also under concurrent sessions, and a rolled-back admission does
# not count.
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

# Rate limits in locked mode (from quota.rate_window, under the pool's lock)
$node->safe_psql('postgres', q{
SELECT quota.quota_set_model('free', 0, 0);
SELECT quota.quota_create_pool(p, 1000) FROM unnest(ARRAY['r1', 'r2', 'r3', 'r4', 'burst']) p;
SELECT quota.quota_add_member(p, u) FROM unnest(ARRAY['r1', 'r2', 'r3', 'r4', 'burst']) p,
                                         unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_set_rate_limit('r1', 1);
SELECT quota.quota_set_rate_limit('r2', 1);
SELECT quota.quota_set_rate_limit('r3', 2, scope => 'pool');
SELECT quota.quota_set_rate_limit('r4', NULL, 1000);
SELECT quota.quota_set_rate_limit('burst', 7, scope => 'pool');
});
my $charge = sub {
	my ($pool, $user, $id, $in, $out, $model) = @_;
	$in //= 10;
	$out //= 0;
	$model //= 'm';
	my ($rc, $o, $e) = $node->psql('postgres',
		"SELECT pool FROM quota.quota_charge('$model', $in, $out, '$id', user_id => '$user', pool => '$pool')");
	return 'ok' if $rc == 0;
	my ($error) = $e =~ /ERROR:  (.*)/;
	my ($wait) = $e =~ /HINT:  (Retry in \d+ seconds)/;
	return ($error // $e) . ($wait ? " / $wait" : '');
};
is($charge->('r1', 'u1', 'r1-a'), 'ok', 'locked mode, 1 request a minute: the first passes');
like($charge->('r1', 'u1', 'r1-b'), qr{^rate limit of pool "r1" exceeded / Retry in (60|[1-5]?\d) seconds$},
	'the second is refused with QU006 and the wait');
is($node->safe_psql('postgres', q{SELECT (quota.quota_check('m', 'u1', 'r1')).reason}),
	'member rate limit reached (1 requests per minute)', 'quota_check names the rate limit');
is($charge->('r1', 'u2', 'r1-c'), 'ok', 'a member limit: another member passes');
is($node->safe_psql('postgres', q{SELECT pool FROM quota.quota_charge('m', 10, 0, 'r1-a', user_id => 'u1', pool => 'r1')}),
	'r1', 'a repeat of a charged request is not refused');
like($charge->('r1', 'u1', 'r1-free', 10, 10, 'free'), qr/rate limit of pool "r1" exceeded/,
	'a free model\'s request is refused too');

# a rolled-back admission does not count
$node->safe_psql('postgres', q{BEGIN;
SELECT quota.quota_charge('m', 10, 0, 'r2-a', user_id => 'u1', pool => 'r2');
ROLLBACK;});
is($charge->('r2', 'u1', 'r2-b'), 'ok', 'after a rolled-back admission the request passes');
like($charge->('r2', 'u1', 'r2-c'), qr/rate limit of pool "r2" exceeded/, 'and the next is refused');

# the pool's limit counts every member; a reservation counts, its settlement not
is($node->safe_psql('postgres', q{SELECT pool FROM quota.quota_reserve('m', 10, 10, 'r3-a', user_id => 'u1', pool => 'r3')}),
	'r3', 'pool limit of 2: a reservation passes');
is($charge->('r3', 'u2', 'r3-b'), 'ok', 'another member\'s charge passes');
like($charge->('r3', 'u1', 'r3-c'), qr/rate limit of pool "r3" exceeded/, 'the third request of the pool is refused');
is($node->safe_psql('postgres', q{SELECT pool FROM quota.quota_charge('m', 10, 10, 'r3-a', user_id => 'u1')}),
	'r3', 'the reservation settles (settlements are never refused)');

# tokens per minute: 600 pass, 500 more not, 400 more do
is($charge->('r4', 'u1', 'r4-a', 600), 'ok', '1000 tokens a minute: 600 pass');
like($charge->('r4', 'u1', 'r4-b', 500), qr/rate limit of pool "r4" exceeded/, '500 more are refused');
is($charge->('r4', 'u1', 'r4-c', 400), 'ok', '400 more pass');
like($charge->('r4', 'u1', 'r4-d', 2000), qr/rate limit of pool "r4" exceeded$/, 'a request over the limit alone: no wait lets it through');

# concurrent sessions: 4 clients try 60 requests at a limit of 7 a minute
$node->safe_psql('postgres', q{
CREATE FUNCTION public.try_burst(n bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM quota.quota_charge('m', 1, 0, 'burst-' || n, user_id => CASE WHEN n % 2 = 0 THEN 'u1' ELSE 'u2' END,
                               pool => 'burst');
    RETURN 'ok';
EXCEPTION WHEN SQLSTATE 'QU006' THEN
    RETURN 'refused';
END
$$;});
pgbench_burst($node, "\\set n random(1, 1000000000)\nSELECT public.try_burst(:n);\n",
	4, 15, 'pgbench: 4 clients, 60 requests');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE pool = 'burst' AND kind = 'charge'}),
	'7', 'exactly 7 admitted in the minute');

# caps hold in locked mode too
$node->safe_psql('postgres', q{
SELECT quota.quota_create_pool('c', 1000);
SELECT quota.quota_add_member('c', 'u1');
SELECT quota.quota_set_cap('c', 'day', 5);
});
is($charge->('c', 'u1', 'c-a', 0, 3000000), 'ok', 'a daily cap of 5: 3 pass');
like($charge->('c', 'u1', 'c-b', 0, 3000000), qr/daily cap of user "u1" in pool "c" reached/, '3 more are refused');
is($node->safe_psql('postgres', q{SELECT balance FROM quota.pools WHERE pool = 'c'}), '997', 'one charge billed');

$node->stop;
done_testing();
