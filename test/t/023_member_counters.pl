# Member caps from the per-member counters in shared memory
# (member_caps.c): after a crash (immediate stop) the counters are rebuilt
# from the ledger and the cap still refuses exactly at the cap, holds
# included; a hold released after the restart frees its room; 8 pgbench
# clients at 20 members' caps never pass them and leave the counters equal
# to the ledger (exactly the room left is admitted afterwards); with room
# for a single member (quota.max_members = 1) members take turns in it or
# fall back to the ledger's sum, exact either way; and without
# shared_preload_libraries the sum under the member's lock stays.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $setup = q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user(u) FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_create_pool('p', 100, reset_timezone => 'Asia/Hong_Kong');
SELECT quota.quota_add_member('p', u) FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_set_cap('p', 'day', 3);
};

# Charge u on p for cost credits (output tokens at 1 per million); the error text, '' if charged.
sub charge
{
	my ($node, $id, $user, $cost) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres',
		"SELECT quota.quota_charge('m', 0, " . int($cost * 1000000) . ", '$id', user_id => '$user', pool => 'p')",
		stdout => \$out, stderr => \$err);
	return $err;
}

my $node = quota_node('member_counters', conf => "restart_after_crash = on\n");
$node->safe_psql('postgres', $setup);

# 1.5 charged and 1 held: the counters are built, 0.5 left
is(charge($node, 'a1', 'u1', 1.5), '', 'a charge under the cap');
$node->safe_psql('postgres', q{SELECT quota.quota_reserve('m', 0, 1000000, 'r1', 'u1', 'p')});
like(charge($node, 'a2', 'u1', 0.6), qr/2\.5 are used or held this day/, 'before the crash: the hold counts');

# crash: shared memory is lost with every transaction in flight
$node->stop('immediate');
$node->start;
my $debug = sub {
	my ($id, $cost) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET client_min_messages = debug1; SELECT quota.quota_charge('m', 0, "
		  . int($cost * 1000000) . ", '$id', user_id => 'u1', pool => 'p')",
		stdout => \$out, stderr => \$err);
	return $err;
};
my $err = $debug->('a3', 0.6);
like($err, qr/counters of member "u1" of pool "p" read from the ledger/, 'after the crash: the counters are rebuilt once');
like($err, qr/daily cap of user "u1" in pool "p" reached.*2\.5 are used or held this day/s,
	'after the crash: charges and the hold are read from the ledger');
$err = $debug->('a4', 0.5);
unlike($err, qr/read from the ledger|ERROR/, 'after the crash: exactly the room left is charged, from the counters');
like(charge($node, 'a5', 'u1', 0.000001), qr/3 are used or held this day/, 'after the crash: refused at the cap');
is(charge($node, 'b1', 'u2', 3), '', 'another member has a cap of their own');

# a release after the crash frees the hold's room, and only that
$node->safe_psql('postgres', q{SELECT quota.quota_release('r1')});
is(charge($node, 'a6', 'u1', 1), '', 'the released hold leaves room');
like(charge($node, 'a7', 'u1', 0.000001), qr/3 are used or held this day/, 'and no more');

# a settlement of a hold at the cap, after a restart
$node->restart;
is(charge($node, 'b2', 'u2', 0.000001) =~ /3 are used/ ? 'refused' : 'charged', 'refused',
	'after a clean restart: still at the cap');
$node->stop;

# stress: 8 clients, 20 members at a daily cap of 5; charges, reservations
# settled within their maxima or released, savepoints rolled back and
# refusals caught in subtransactions.  No member ever passes the cap, and
# afterwards the counters equal the ledger: exactly each member's room left
# is admitted, and one 1e-9 credit more is refused.
$node->start;
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
SELECT quota.quota_set_user('s' || i) FROM generate_series(1, 20) i;
SELECT quota.quota_create_pool('sp', 1000000, reset_timezone => 'Europe/Berlin');
SELECT quota.quota_add_member('sp', 's' || i) FROM generate_series(1, 20) i;
SELECT quota.quota_set_cap('sp', 'day', 5);
CREATE FUNCTION try_charge(c bigint, id text, u text, p text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM quota.quota_charge('m', 0, c, id, user_id => u, pool => p); RETURN 1;
EXCEPTION WHEN SQLSTATE 'QU001' THEN RETURN 0; END $$;
CREATE FUNCTION try_reserve(c bigint, id text, u text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM quota.quota_reserve('m', 0, c, id, u, 'sp'); RETURN 1;
EXCEPTION WHEN SQLSTATE 'QU001' THEN RETURN 0; END $$;
});
my $script = $node->basedir . '/member_step.sql';
open(my $fh, '>', $script) or die;
print $fh <<'EOS';
\set u random(1, 20)
\set c random(1, 900000)
\set k random(1, 5)
\set r random(1, 1000000000000)
BEGIN;
SAVEPOINT a;
SELECT CASE :k WHEN 1 THEN try_charge(:c, 'c' || :r, 's' || :u, 'sp') WHEN 2 THEN try_reserve(:c, 'r' || :r, 's' || :u) ELSE 0 END;
ROLLBACK TO SAVEPOINT a;
SELECT CASE WHEN :k IN (1, 2, 3) THEN try_charge(:c, 'x' || :r, 's' || :u, 'sp') ELSE try_reserve(:c, 'h' || :r, 's' || :u) END;
END;
SELECT try_charge(max_output_tokens / 2, request_id, user_id, NULL) FROM quota.reservations
 WHERE :k = 3 AND settled_at IS NULL AND user_id = 's' || :u ORDER BY request_id LIMIT 1;
SELECT quota.quota_release(request_id) FROM quota.reservations
 WHERE :k = 5 AND settled_at IS NULL AND user_id = 's' || :u ORDER BY request_id DESC LIMIT 1;
EOS
close $fh;
$node->command_ok(
	[ 'pgbench', '-n', '-c', '8', '-j', '2', '-T', '10', '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'pgbench: 8 clients at the member caps for 10 s');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.member_usage WHERE pool = 'sp' AND day_used > day_cap}),
   '0', 'stress: no member passed the cap');
my $exact = 1;
for my $i (1 .. 20)
{
	my $room = $node->safe_psql('postgres',
		"SELECT ((5 - day_used) * 1000000)::bigint FROM quota.member_usage WHERE pool = 'sp' AND user_id = 's$i'");
	$exact = 0 if $room > 0 && $node->safe_psql('postgres', "SELECT try_charge($room, 'fill$i', 's$i', 'sp')") ne '1';
	$exact = 0 if $node->safe_psql('postgres', "SELECT try_charge(1, 'over$i', 's$i', 'sp')") ne '0';
}
is($exact, 1, 'stress: afterwards exactly the room left is admitted, and no more');
$node->stop;

# room for one member only: the second takes the ledger's sum, exact
my $small = quota_node('member_counters_small', conf => "quota.max_members = 1\n");
$small->safe_psql('postgres', $setup);
my $ok = 1;
for my $i (1 .. 6)
{
	for my $u ('u1', 'u2')
	{
		my $err = charge($small, "s$u-$i", $u, 0.5);
		$ok = 0 if $err ne '';
	}
}
is($ok, 1, 'quota.max_members = 1: six charges of 0.5 each for two members fit');
like(charge($small, 's-u1-7', 'u1', 0.000001), qr/3 are used or held this day/, 'quota.max_members = 1: u1 refused at the cap');
like(charge($small, 's-u2-7', 'u2', 0.000001), qr/3 are used or held this day/, 'quota.max_members = 1: u2 refused at the cap');
is($small->safe_psql('postgres', q{SELECT string_agg(user_id || ' ' || (-sum)::text, ', ' ORDER BY user_id)
	FROM (SELECT user_id, quota.sum(amount) FROM quota.ledger WHERE kind = 'charge' GROUP BY user_id) s}),
   'u1 3, u2 3', 'quota.max_members = 1: the ledger has exactly the caps');
my @full = (slurp_file($small->logfile) =~ /no room for member "[^"]*" of pool "p": quota\.max_members \(1\) are in use/g);
cmp_ok(scalar(@full), '<=', 1, 'quota.max_members = 1: the server log says it at most once');
$small->stop;

# without shared_preload_libraries: the sum under the member's lock
my $locked = quota_node('member_counters_locked', preload => 0);
$locked->safe_psql('postgres', $setup);
is(charge($locked, 'l1', 'u1', 3), '', 'locked mode: the cap is charged');
like(charge($locked, 'l2', 'u1', 0.000001), qr/3 are used or held this day/, 'locked mode: refused at the cap');
$locked->stop;

done_testing();
