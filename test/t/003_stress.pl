# Stress: 64 concurrent pgbench clients charge, reserve-and-settle (with
# overruns) and reserve-and-release against one small shared pool until it
# is empty.  Afterwards: balance = sum of the ledger, no hold is left, the
# only overspend is the overrun of settled reservations, and the number of
# ledger charges equals the number of calls that succeeded.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('stress', conf => "max_connections = 100\n");

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('small pool', 100);
SELECT quota_set_user('u' || i, '{student}') FROM generate_series(1, 64) i;
SELECT quota_grant_group('small pool', 'student');
CREATE TABLE outcomes (request_id text PRIMARY KEY, what text NOT NULL,
                       overrun quota.credits NOT NULL DEFAULT 0);
-- one client step: a plain charge, a reservation settled (sometimes above
-- its hold), or a reservation released; refusals are recorded too
CREATE FUNCTION step(client int, kind int, tokens int) RETURNS void
LANGUAGE plpgsql SET search_path = public, quota AS $$
DECLARE
    rid text := md5(random()::text || clock_timestamp()::text);
    who text := 'u' || (client % 64 + 1);
    held quota.credits;
    cost quota.credits;
BEGIN
    IF kind = 0 THEN
        PERFORM quota_charge('m', 0, tokens, rid, user_id => who);
        INSERT INTO outcomes VALUES (rid, 'charged');
    ELSIF kind = 1 THEN
        SELECT r.held INTO held FROM quota_reserve('m', 0, 500000, rid, user_id => who) r;
        SELECT c.final_cost INTO cost FROM quota_charge('m', 0, tokens, rid, user_id => who) c;
        INSERT INTO outcomes VALUES (rid, 'settled', greatest(cost - held, '0'));
    ELSE
        PERFORM quota_reserve('m', 0, tokens, rid, user_id => who);
        PERFORM quota_release(rid);
        INSERT INTO outcomes VALUES (rid, 'released');
    END IF;
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    INSERT INTO outcomes VALUES (rid, 'refused');
END
$$;
});

my $script = $node->basedir . '/step.sql';
open(my $fh, '>', $script) or die;
print $fh "\\set kind random(0, 2)\n\\set tokens random(100000, 700000)\n";
print $fh "SELECT step(:client_id, :kind, :tokens);\n";
close $fh;

$node->command_ok(
    [ 'pgbench', '-n', '-c', '64', '-j', '4', '-t', '40', '-f', $script,
      '-h', $node->host, '-p', $node->port, 'postgres' ],
    'pgbench: 64 clients x 40 steps');

my $q = sub { $node->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
is($q->(q{SELECT count(*) FROM outcomes}), 64 * 40, 'every step recorded an outcome');
cmp_ok($q->(q{SELECT count(*) FROM outcomes WHERE what = 'refused'}), '>', 0,
       'the pool ran out (some calls were refused)');
is($q->(q{SELECT (quota._pool_money('small pool')).balance
                 = (SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'small pool')}),
   't', 'balance = sum of the ledger');
is($q->(q{SELECT (quota._pool_money('small pool')).held}), '0', 'no hold left in the escrow');
is($q->(q{SELECT count(*) FROM quota.reservations WHERE settled_at IS NULL}), '0',
   'no active reservation left');
is($q->(q{SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}),
   $q->(q{SELECT count(*) FROM outcomes WHERE what IN ('charged', 'settled')}),
   'ledger charges = successful charges and settlements');
is($q->(q{SELECT (quota._pool_money('small pool')).balance
                 + (SELECT coalesce(quota.sum(overrun), '0') FROM outcomes) >= 0}),
   't', 'no overspend beyond the overruns of settled reservations');
is($q->(q{SELECT count(*) FROM quota.reservations r JOIN outcomes o USING (request_id)
           WHERE o.what = 'released' AND r.outcome <> 'released'}), '0',
   'released reservations are released');

# the same after a restart: the escrow is rebuilt from the ledger
my $balance = $q->(q{SELECT balance FROM quota.pools WHERE pool = 'small pool'});
$node->restart;
is($q->(q{SELECT balance FROM quota.pools WHERE pool = 'small pool'}), $balance,
   'balance rebuilt after restart');
$node->stop;
done_testing();
