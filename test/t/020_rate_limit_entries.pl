# quota.max_members bounds the rate limiter's windows (a fifth of it): with
# 500, there are 100 windows:
# 100 members of a pool with a member rate limit are counted, the 101st
# member's request in the same minute gets 53400 and nothing is charged;
# members already counted go on (their repeats too), and a pool without
# rate limits needs no counter.  Counters are not durable: a restart
# empties them (rate limits are not durable, like every rate limiter's).
# The window slides by the second (a minute's wait).
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

my $err = refusal('r101', 'u101', 'Limited');
like($err, qr/too many rate limited members for quota's shared memory/,
     'the 101st member in the same minute is refused');
like($err, qr/Raise quota\.max_members/, 'with a hint');
(undef, undef, $err) = $node->psql('postgres',
    q{\set VERBOSITY verbose
      SELECT quota.quota_charge('free', 1, 1, 'r101', user_id => 'u101', pool => 'Limited')});
like($err, qr/53400/, 'as 53400');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE request_id = 'r101'}),
   '0', 'and nothing was charged');

# counted members go on, a repeat returns its charge, their limit still holds
charged('r1b', 'u1', 'Limited', 'a member with a counter goes on');
charged('r2', 'u2', 'Limited', 'a repeat needs no counter');
like(refusal('r1c', 'u1', 'Limited'), qr/rate limit of pool "Limited" exceeded/,
     'and its limit still holds');

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
