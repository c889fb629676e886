# Crash safety: 16 pgbench clients charge, reserve-and-settle and
# reserve-and-release on one shared pool while the server is stopped with an
# immediate stop, or a backend is killed with SIGKILL (the postmaster then
# resets shared memory), 10 rounds.  After each restart: balance = sum of
# the ledger and holds = active reservations for every pool (the escrow is
# rebuilt from the ledger), every committed step has exactly its ledger
# charge and no ledger charge lacks its step (nothing lost, nothing twice),
# a retry of a committed request returns the original charge, and a
# request whose transaction died with the server is charged once on retry.
use strict;
use warnings;
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('crash', conf => "max_connections = 40\nrestart_after_crash = on\n");

my $q = sub { $node->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
$q->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('crash pool', 100000);
SELECT quota_set_user('u' || i, '{student}') FROM generate_series(1, 16) i;
SELECT quota_grant_group('crash pool', 'student');
-- what each committed step did, written in the step's own transaction
CREATE TABLE steps (request_id text PRIMARY KEY, who text NOT NULL,
                    what text NOT NULL, tokens int NOT NULL, charge_id bigint);
CREATE FUNCTION step(client int, kind int, tokens int) RETURNS void
LANGUAGE plpgsql SET search_path = public, quota AS $$
DECLARE
    rid text := md5(random()::text || clock_timestamp()::text);
    who text := 'u' || (client % 16 + 1);
    cid bigint;
BEGIN
    IF kind = 0 THEN
        SELECT c.charge_id INTO cid FROM quota_charge('m', 0, tokens, rid, user_id => who) c;
        INSERT INTO steps VALUES (rid, who, 'charged', tokens, cid);
    ELSIF kind = 1 THEN
        PERFORM quota_reserve('m', 0, 500000, rid, user_id => who);
        SELECT c.charge_id INTO cid FROM quota_charge('m', 0, tokens, rid, user_id => who) c;
        INSERT INTO steps VALUES (rid, who, 'settled', tokens, cid);
    ELSE
        PERFORM quota_reserve('m', 0, tokens, rid, user_id => who);
        PERFORM quota_release(rid);
        INSERT INTO steps VALUES (rid, who, 'released', tokens, NULL);
    END IF;
END
$$;
});

my $script = $node->basedir . '/step.sql';
open(my $fh, '>', $script) or die;
print $fh "\\set kind random(0, 2)\n\\set tokens random(1000, 400000)\n";
print $fh "SELECT step(:client_id, :kind, :tokens);\n";
close $fh;

my $invariants = q{
SELECT (SELECT bool_and((_pool_money(d.pool)).balance
                        = coalesce((SELECT quota.sum(l.amount) FROM ledger l WHERE l.pool = d.pool), '0')
                    AND (_pool_money(d.pool)).held
                        = coalesce((SELECT quota.sum(r.held) FROM reservations r
                                     WHERE r.pool = d.pool AND r.settled_at IS NULL), '0'))
          FROM pool_defs d)
    || ' ' || (SELECT count(*) FROM steps s
                WHERE s.what <> 'released'
                  AND (SELECT count(*) FROM ledger l WHERE l.request_id = s.request_id
                          AND l.kind = 'charge' AND l.entry_id = s.charge_id) <> 1)
    || ' ' || (SELECT count(*) FROM ledger l
                WHERE l.kind = 'charge' AND l.request_id NOT LIKE 'inflight-%'
                  AND NOT EXISTS (SELECT FROM steps s WHERE s.request_id = l.request_id))
    || ' ' || (SELECT count(*) FROM reservations r
                WHERE r.settled_at IS NULL
                  AND NOT EXISTS (SELECT FROM steps s WHERE s.request_id = r.request_id))
};

my $rounds = 10;
my $total_steps = 0;
for my $round (1 .. $rounds)
{
    my ($out, $err) = ('', '');
    my $bench = IPC::Run::start(
        [ 'pgbench', '-n', '-c', '16', '-j', '2', '-T', '60', '-f', $script,
          '-h', $node->host, '-p', $node->port, 'postgres' ],
        '>', \$out, '2>', \$err);

    # a request in flight in its own session when the server goes down
    my ($in2, $out2, $err2) = ("BEGIN;\nSELECT quota.quota_charge('m', 0, 1000, 'inflight-$round', user_id => 'u1');\n", '', '');
    my $inflight = IPC::Run::start(
        [ 'psql', '-X', '-q', '-d', $node->connstr('postgres') ],
        '<', \$in2, '>', \$out2, '2>', \$err2);
    $inflight->pump while length $in2;
    sleep(1 + $round % 3);

    if ($round % 2)
    {
        $node->stop('immediate');
        $node->start;
    }
    else
    {
        my $pid = $node->safe_psql('postgres', q{
            SELECT pid FROM pg_stat_activity
             WHERE query LIKE 'SELECT step(%' AND pid <> pg_backend_pid()
             ORDER BY state = 'active' DESC LIMIT 1});
        note "killing backend $pid";
        kill('KILL', $pid) or die "could not kill $pid";
        # wait for the crash restart itself: until the postmaster has reaped
        # the killed backend, a new connection may still get in (then the
        # next query meets "the database system is in recovery mode"); its
        # pg_stat_activity entry stays until shared memory is reinitialised
        $node->poll_query_until('postgres',
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid)")
          or die "no recovery";
    }
    $bench->finish;
    note "pgbench: $err" if $err =~ /ERROR/;
    $inflight->kill_kill;

    is($q->($invariants), 'true 0 0 0',
       "round $round: balance = ledger, holds = reservations, steps = charges");

    # retries: a committed request returns its charge; the one that died charges once
    my $before = $q->(q{SELECT count(*) FROM ledger});
    is($q->(q{SELECT count(*) FILTER (WHERE c.charge_id <> s.charge_id)
                FROM (SELECT * FROM steps WHERE what <> 'released'
                       ORDER BY random() LIMIT 20) s,
                     LATERAL quota_charge('m', 0, s.tokens, s.request_id, user_id => s.who) c}),
       '0', "round $round: retried committed requests return their first charge");
    is($q->(q{SELECT count(*) FROM ledger}), $before, "round $round: and add no entry");
    $q->("SELECT quota_charge('m', 0, 1000, 'inflight-$round', user_id => 'u1')");
    $q->("SELECT quota_charge('m', 0, 1000, 'inflight-$round', user_id => 'u1')");
    is($q->("SELECT count(*) FROM ledger WHERE request_id = 'inflight-$round'"), '1',
       "round $round: the request in flight at the crash is charged once on retry");
    $total_steps = $q->(q{SELECT count(*) FROM steps});
}
cmp_ok($total_steps, '>', 100, "committed steps across the rounds: $total_steps");
is($q->($invariants), 'true 0 0 0', 'invariants after all rounds');
$node->stop;
done_testing();
