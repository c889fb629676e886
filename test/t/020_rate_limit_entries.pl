# quota.max_members bounds the rate limiter's windows (a fifth of it): with
# 500, there are 100 windows.  100 members of a pool with a member rate
# limit are counted in them; the 101st member's request in the same minute
# finds no room, and the windows go into table mode (logged): every
# admission is then decided from quota.rate_window under the pool's lock,
# counting the seconds still in the windows too, so the limits hold
# exactly, also for members already counted and under 4 concurrent
# clients; nothing is refused for want of room.  Once no admission was made
# in table mode for 62 seconds, the windows take over again.  A pool
# without rate limits needs no counter.  Counters are not durable: a
# restart empties them (rate limits are not durable, like every rate
# limiter's).  The window slides by the second (a minute's wait).
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('rate_limit_entries', conf => "quota.max_members = 500\n");

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('free', 0, 0);
SELECT quota.quota_create_pool('Limited', 10);
SELECT quota.quota_create_pool('Open', 10);
SELECT quota.quota_set_user('u' || i, '{}') FROM generate_series(1, 101) i;
SELECT quota.quota_add_member(p, 'u' || i) FROM generate_series(1, 101) i,
       unnest(ARRAY['Limited', 'Open']) p;
SELECT quota.quota_set_rate_limit('Limited', 2);
});

# One request of a user to a pool ('free': costs nothing, one request, two
# tokens): charged() expects it through, refusal() returns its error.
sub charge_sql
{
	my ($request, $user, $pool) = @_;
	return "SELECT count(*) FROM quota.quota_charge('free', 1, 1, '$request', "
	  . "user_id => '$user', pool => '$pool')";
}
sub charged
{
	my ($request, $user, $pool, $name) = @_;
	is($node->safe_psql('postgres', charge_sql($request, $user, $pool)), '1', $name);
}
sub refusal
{
	my ($request, $user, $pool) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', charge_sql($request, $user, $pool));
	return $err;
}

# 100 members, one request each: a counter each
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM generate_series(1, 100) i,
           LATERAL quota.quota_charge('free', 1, 1, 'r' || i, user_id => 'u' || i, pool => 'Limited') c}),
   '100', 'a hundred members are counted');

# the 101st member in the same minute: no window left, table mode
my $log_start = -s $node->logfile;
charged('r101', 'u101', 'Limited', 'the 101st member in the same minute is admitted (table mode)');
ok($node->log_contains(
	qr/quota's rate windows are full: rate limits are enforced from table "quota.rate_window"/,
	$log_start), 'table mode is logged');
charged('r101b', 'u101', 'Limited', 'its second request fits its limit of 2');
my $err = refusal('r101c', 'u101', 'Limited');
like($err, qr/rate limit of pool "Limited" exceeded/, 'its third is refused in table mode');
like($err, qr/The member limit is 2 requests per minute/, 'naming the member limit');
like($err, qr/Retry in \d+ seconds/, 'with the wait');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE request_id = 'r101c'}),
   '0', 'and nothing was charged');

# counted members go on; in table mode the seconds still in their window
# count beside the table's rows: r1 (a window) and r1b (a row) are two
charged('r1b', 'u1', 'Limited', 'a member with a counter goes on');
charged('r2', 'u2', 'Limited', 'a repeat needs no counter');
like(refusal('r1c', 'u1', 'Limited'), qr/rate limit of pool "Limited" exceeded/,
     'and its limit still holds, across its window and the table');

# Exact under concurrency in table mode: a pool limit of 40 requests a
# minute, 4 clients, 120 attempts by 101 members (40 of them with nothing
# in any window): exactly 40 are charged, and as many rows counted them.
$node->safe_psql('postgres', q{
SELECT quota.quota_create_pool('Pooled', 10);
SELECT quota.quota_add_member('Pooled', 'u' || i) FROM generate_series(1, 101) i;
SELECT quota.quota_set_rate_limit('Pooled', 40, scope => 'pool');
CREATE FUNCTION public.try_charge(u int, n bigint) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM quota.quota_charge('free', 1, 1, 'burst-' || n, user_id => 'u' || u, pool => 'Pooled');
    RETURN 1;
EXCEPTION WHEN sqlstate 'QU006' THEN
    RETURN 0;
END $$;
});
pgbench_burst($node,
	"\\set u random(1, 101)\n\\set n random(1, 1000000000000)\nSELECT public.try_charge(:u, :n);\n",
	4, 30, 'pgbench: 4 clients, 120 attempts');
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || (SELECT count(*) FROM quota.rate_window WHERE pool = 'Pooled')
  FROM quota.ledger WHERE pool = 'Pooled' AND request_id LIKE 'burst-%'}), '40 40',
	'table mode admits exactly the pool limit under concurrency');

# a pool without rate limits needs no counter
charged('o101', 'u101', 'Open', 'a pool without rate limits is not concerned');

is($node->safe_psql('postgres', q{
    SELECT used || '/' || size FROM quota.quota_shared_memory() WHERE holds = 'rate windows'}),
   '100/100', 'quota_shared_memory shows the counters used up');

# The window slides second by second: a request leaves it 60 to 61 s after
# it was admitted, the later ones stay (each counter keeps the window's sums
# and takes out the seconds that leave it).
my $t0 = time;
charged('w1', 'u3', 'Limited', 'u3: a second request (the first was a minute-old r3)');
like(refusal('w2', 'u3', 'Limited'), qr/rate limit of pool "Limited" exceeded/,
     'u3: a third within the minute is refused');
sleep 30;
my $t1 = time;
charged('w3', 'u4', 'Limited', 'u4: a second request half a minute later');
# 62 s after the start: r3 and w1 have left u3's window, r4 has left u4's, w3 has not
sleep(($t0 + 62 - time) > 0 ? $t0 + 62 - time : 0);
charged('w2', 'u3', 'Limited', 'u3: admitted again once its requests left the window');
charged('w4', 'u4', 'Limited', 'u4: one more (its first request left the window)');
my $late = refusal('w5', 'u4', 'Limited');
if (time < $t1 + 60)
{
    like($late, qr/rate limit of pool "Limited" exceeded/,
         'u4: but not two: the request of half a minute ago still counts');
}
else
{
    pass('u4: (the machine was too slow to check the half-minute-old request)');
}

# a restart empties the counters
$node->restart;
charged('r1c', 'u1', 'Limited', 'counters start from zero after a restart');
charged('r101', 'u101', 'Limited', 'and have room again');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.refusals}), '0',
   'refusal counts start from zero too');

$node->stop;
done_testing();
