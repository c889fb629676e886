# The rate windows live in the slots (rate_window.c): a member's window is
# linked from the member's slot, a pool's from the pool's.  With
# quota.max_members = 100 there are 100 member slots (and 100 windows).  A
# member who used up a rate limit keeps the slot that links its window
# while the window still counts: when the member slots are full, reclaiming
# one for another member's caps frees some other slot, never that one, so
# the member cannot start a fresh window (the limit holds).  A member id
# longer than a slot's key (64 bytes or more) is counted by its SHA-256
# digest, in a window like anyone else's.
#
# A member slot made for a rate window is not guarded: writers of the
# member that counted themselves in its hash slot before it was made (a
# settlement after a restart) may still be in flight.  Its cap counters are
# then only read from the ledger once none is: else a settlement of 6 (past
# its hold of 4) committed later would be missed, and a member cap of 10
# passed (8 spent, 3 more admitted).
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('rate_slots', conf => "quota.max_members = 100\n");
my $long = 'l' x 100;
$node->safe_psql('postgres', qq{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('free', 0, 0);
SELECT quota.quota_set_model('paid', 0, 1);
SELECT quota.quota_create_pool('Limited', 10);
SELECT quota.quota_create_pool('Capped', 1000);
SELECT quota.quota_set_user(u, '{}') FROM unnest(ARRAY['a', '$long']) u;
SELECT quota.quota_set_user('c' || i, '{}') FROM generate_series(1, 120) i;
SELECT quota.quota_add_member('Limited', u) FROM unnest(ARRAY['a', '$long']) u;
SELECT quota.quota_add_member('Capped', 'c' || i) FROM generate_series(1, 120) i;
SELECT quota.quota_set_rate_limit('Limited', 2);
SELECT quota.quota_set_cap('Capped', 'day', 5);
});

# One request of a user to a pool; the error text, '' if charged.
sub charge
{
	my ($request, $user, $pool, $model, $out_tokens) = @_;
	my ($out, $err) = ('', '');
	$out_tokens //= 1000000;
	$node->psql('postgres',
		"SELECT count(*) FROM quota.quota_charge('$model', 0, $out_tokens, '$request', "
		  . "user_id => '$user', pool => '$pool')",
		stdout => \$out, stderr => \$err);
	return $err;
}

my $log_start = -s $node->logfile;
is(charge('a1', 'a', 'Limited', 'free') . charge('a2', 'a', 'Limited', 'free'), '',
   'member a: two requests within its limit of 2 a minute');
like(charge('a3', 'a', 'Limited', 'free'), qr/rate limit of pool "Limited" exceeded/,
     'member a: a third is refused');

# 120 members charged under a member cap, one transaction each: their
# slots fill the table (100) and each one after that reclaims one
my $script = join('', map {
	"SELECT count(*) FROM quota.quota_charge('paid', 0, 1000, 'c$_', user_id => 'c$_', pool => 'Capped');\n"
} 1 .. 120);
$node->safe_psql('postgres', $script);
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE pool = 'Capped' AND kind = 'charge'}),
   '120', '120 members of a capped pool charged');
is($node->safe_psql('postgres', q{
    SELECT used || '/' || size FROM quota.quota_shared_memory() WHERE holds = 'member slots'}),
   '100/100', 'the member slots are full');
like(charge('a4', 'a', 'Limited', 'free'), qr/rate limit of pool "Limited" exceeded/,
     'member a: still refused (its slot, linking its window, was not reclaimed)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.ledger WHERE user_id = 'a'}),
   '2', 'member a: two requests charged in all');

# a long member id: counted by its digest, in a window
is(charge('l1', $long, 'Limited', 'free') . charge('l2', $long, 'Limited', 'free'), '',
   'a 100-byte member id: two requests within the limit');
like(charge('l3', $long, 'Limited', 'free'), qr/rate limit of pool "Limited" exceeded/,
     'a 100-byte member id: the third is refused');
ok(!$node->log_contains(qr/quota's rate windows/, $log_start),
   'all of it in the windows: no table mode');

# a settlement in flight when a rate window makes the member's slot
$node->safe_psql('postgres', q{
SELECT quota.quota_create_pool('Both', 100);
SELECT quota.quota_set_user('b', '{}');
SELECT quota.quota_add_member('Both', 'b');
SELECT quota.quota_set_cap('Both', 'day', 10);
SELECT quota.quota_set_rate_limit('Both', 100);
SELECT held FROM quota.quota_reserve('paid', 0, 4000000, 'b-res', user_id => 'b', pool => 'Both');
});
$node->restart;
my $s1 = $node->background_psql('postgres');
$s1->query_safe(q{BEGIN;
SELECT count(*) FROM quota.quota_charge('paid', 0, 6000000, 'b-res', user_id => 'b', pool => 'Both')});
is(charge('b1', 'b', 'Both', 'paid'), '', 'b: 1 charged while the settlement of 6 is in flight (4 held: 5 of 10)');
is(charge('b2', 'b', 'Both', 'paid'), '', 'b: 1 more (6 of 10)');
$s1->query_safe('COMMIT');
$s1->quit;
is($node->safe_psql('postgres', q{
    SELECT sum(amount) FROM quota.ledger WHERE user_id = 'b' AND kind = 'charge'}),
   '-8', 'b: 8 charged in all');
like(charge('b3', 'b', 'Both', 'paid', 3000000), qr/daily cap of user "b" in pool "Both" reached.*8 are used or held this day/s,
     'b: 3 more would pass the cap of 10: refused');
is($node->safe_psql('postgres', q{
    SELECT sum(amount) FROM quota.ledger WHERE user_id = 'b' AND kind = 'charge'}),
   '-8', 'b: still 8');

$node->stop;
done_testing();
