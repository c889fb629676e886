# Years of history (issue 17): seals stay exact with a writer left open
# across the seal, under concurrent charges and across a crash in the
# middle of a seal; a large sealed ledger gives exact balances after a
# restart and after a promotion; archiving keeps every balance and usage
# figure, and pg_dump/restore of an archived ledger gives the same ones.
use strict;
use warnings;
use FindBin;
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my ($node, $standby) = quota_pair('history', conf => "restart_after_crash = on\n");
my $sql = sub { my $db = shift; $node->safe_psql($db, "SET search_path = public, quota; $_[0]") };
my $q = sub { $sql->('postgres', $_[0]) };

$q->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('Students Pool', 1000000);
SELECT quota_set_user('u' || i, '{student}') FROM generate_series(1, 8) i;
SELECT quota_grant_group('Students Pool', 'student');
SELECT quota_charge('m', 0, 1000, 'early-' || i, user_id => 'u1') FROM generate_series(1, 20) i;
});
my $verify = q{SELECT count(*) FILTER (WHERE NOT ok) || ' ' || count(*) FROM quota.quota_verify()};
my $usage_ok = q{
SELECT (SELECT sum(requests) FROM quota.usage_daily)
     = (SELECT count(*) FROM quota.ledger WHERE kind = 'charge')};

# 1. A writer left open across the seal: its entry id is below the ledger's
# last one, so the seal must not pass it while it is open.
is($q->(q{SELECT quota_seal()}), '21', 'the first seal covers the grant and 20 charges');
my ($in, $out, $err) = ("BEGIN;\nSELECT quota.quota_charge('m', 0, 5000, 'open-1', user_id => 'u2');\n", '', '');
my $open = IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('postgres') ],
    '<', \$in, '>', \$out, '2>', \$err);
$open->pump while length $in;
$node->poll_query_until('postgres',
    q{SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction'})
  or die 'the open writer did not start';
$q->(q{SELECT quota_charge('m', 0, 1000, 'after-' || i, user_id => 'u3') FROM generate_series(1, 5) i});
my $open_id = $q->(q{SELECT max(entry_id) FROM quota.ledger}) - 5;
is($q->(q{SELECT quota_seal('200 milliseconds') IS NULL}), 't',
   'a seal does not pass a writer left open (NULL after the wait)');
is($q->(q{SELECT sealed_upto FROM quota.ledger_seal}), '21',
   "nothing at or above the open entry ($open_id) is sealed");
$in .= "COMMIT;\n";
$open->pump while length $in;
$open->finish;
my $last = $q->(q{SELECT max(entry_id) FROM quota.ledger});
is($q->(q{SELECT quota_seal()}), $last, 'after its commit the seal reaches the last entry');
is($q->($verify), '0 1', 'sealed total + tail = ledger for every pool');
is($q->($usage_ok), 't', 'usage_daily counts every charge once (rollups + tail)');
is($q->(q{SELECT balance FROM quota.pool_status WHERE pool = 'Students Pool'}),
   $q->(q{SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Students Pool'}),
   'pool_status = ledger sum');

# 2. Concurrent charges while seals run every few milliseconds.
my $charge = $node->basedir . '/charge.sql';
open(my $fh, '>', $charge) or die;
print $fh "\\set u random(1, 8)\n\\set r random(1, 1000000000000)\n";
print $fh "SELECT quota.quota_charge('m', 0, 1000, 'c-' || :client_id || '-' || :r, user_id => 'u' || :u);\n";
close $fh;
my $seal = $node->basedir . '/seal.sql';
open($fh, '>', $seal) or die;
print $fh "SELECT quota.quota_seal('1 second');\nSELECT pg_sleep(0.01);\n";
close $fh;
my ($o1, $e1, $o2, $e2) = ('', '', '', '');
my $b1 = IPC::Run::start([ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '8', '-f', $charge,
    '-h', $node->host, '-p', $node->port, 'postgres' ], '>', \$o1, '2>', \$e1);
my $b2 = IPC::Run::start([ 'pgbench', '-n', '-c', '1', '-T', '8', '-f', $seal,
    '-h', $node->host, '-p', $node->port, 'postgres' ], '>', \$o2, '2>', \$e2);
$b1->finish;
$b2->finish;
my ($seals) = $o2 =~ /number of transactions actually processed: (\d+)/;
my ($charges) = $o1 =~ /number of transactions actually processed: (\d+)/;
note "charges: $charges, seals: $seals";
cmp_ok($seals, '>', 10, 'seals ran while charging');
is($q->($verify), '0 1', 'after concurrent seals: sealed total + tail = ledger');
is($q->(q{SELECT quota_seal()}), $q->(q{SELECT max(entry_id) FROM quota.ledger}), 'a final seal');
is($q->($verify), '0 1', 'after the final seal too');
is($q->($usage_ok), 't', 'usage_daily counts every charge once');
is($q->(q{SELECT sum(entries) FROM quota.pool_seals}), $q->(q{SELECT count(*) FROM quota.ledger}),
   'every entry sealed exactly once');

# 3. A large history loaded through the bulk (restore) path, then a crash
# in the middle of its first seal.
$node->safe_psql('postgres', 'CREATE DATABASE big');
my $setup = "$FindBin::Bin/../bench/history_setup.sql";
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'rows=400000',
    '-f', $setup, '-d', $node->connstr('big') ], 'bulk load of 400,000 charges');
my $b = sub { $sql->('big', $_[0]) };
my $sums = q{SELECT string_agg(pool || '=' || balance, ',' ORDER BY pool) FROM quota.pool_status};
my $ledger_sums = q{SELECT string_agg(pool || '=' || s, ',' ORDER BY pool)
  FROM (SELECT pool, quota.sum(amount) AS s FROM quota.ledger GROUP BY pool) x};
my $expected = $b->($ledger_sums);
($in, $out, $err) = ("SELECT quota.quota_seal('1 minute');\n", '', '');
my $sealing = IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('big') ],
    '<', \$in, '>', \$out, '2>', \$err);
$sealing->pump while length $in;
$node->poll_query_until('big', q{SELECT count(*) = 1 FROM pg_stat_activity
    WHERE query LIKE 'SELECT quota.quota_seal%' AND state = 'active'
      AND now() - query_start > interval '300 milliseconds'})
  or die 'the seal did not start';
my $pid = $b->(q{SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT quota.quota_seal%' AND state = 'active'});
my $offset = -s $node->logfile;
kill('KILL', $pid) or die "could not kill $pid";
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
$node->poll_query_until('big', 'SELECT true') or die 'no recovery';
$sealing->kill_kill;
is($b->(q{SELECT coalesce(max(sealed_upto), 0) FROM quota.ledger_seal}), '0',
   'a seal killed midway left nothing sealed');
is($b->($verify), '0 1001', 'after the crash: sealed total + tail = ledger');
is($b->($sums), $expected, 'after the crash: every balance = its ledger sum');
# (a crash moves the sequence on: ids up to 32 past the last entry are gone)
is($b->(q{SELECT quota_seal('1 minute') >= max(entry_id) FROM quota.ledger}), 't',
   'the seal runs again after the crash');
is($b->($verify), '0 1001', 'sealed: sealed total + tail = ledger');

# 4. Restart with the large sealed history: the escrow is rebuilt from the
# seals; the first charges give exact balances.
$node->stop('immediate');
$node->start;
my $before = $b->(q{SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Students Pool'});
is($b->(q{SELECT balance FROM quota_charge('model-2', 1000, 1000, 'after-restart', user_id => 'student1')}),
   $b->(q{SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Students Pool'}),
   'first charge after a restart returns the exact balance');
is($b->($sums), $b->($ledger_sums), 'after the restart: every balance = its ledger sum');
$node->safe_psql('postgres', 'CHECKPOINT');

# 5. The standby reads the same balances from the seals; after a promotion
# (primary gone) the new primary charges from exact balances.
$node->wait_for_catchup($standby);
is($standby->safe_psql('big', $sums), $b->($sums), 'standby: balances as on the primary');
is($standby->safe_psql('big', q{SELECT sum(requests) FROM quota.usage_daily}),
   $b->(q{SELECT sum(requests) FROM quota.usage_daily}), 'standby: usage_daily as on the primary');
$node->stop('immediate');
$standby->promote;
$standby->poll_query_until('big', 'SELECT NOT pg_is_in_recovery()') or die 'no promotion';
my $s = sub { $standby->safe_psql('big', "SET search_path = public, quota; $_[0]") };
is($s->(q{SELECT balance FROM quota_charge('model-2', 1000, 1000, 'after-promotion', user_id => 'student2')}),
   $s->(q{SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Students Pool'}),
   'first charge after a promotion returns the exact balance');
is($s->($verify), '0 1001', 'promoted: sealed total + tail = ledger');

# 6. Archiving on the promoted server: balances, usage and seals unchanged.
my $usage = q{SELECT string_agg(pool || ' ' || model || ' ' || requests || ' ' || final_cost, ',' ORDER BY pool, model)
  FROM (SELECT pool, model, sum(requests) AS requests, sum(final_cost) AS final_cost
          FROM quota.usage_daily GROUP BY 1, 2) u};
my $seal_sums = q{SELECT sum(balance) || ' ' || (SELECT sealed_upto FROM quota.ledger_seal) FROM quota.pool_seals};
$s->(q{SELECT quota_seal()});
my ($bal0, $use0, $seal0, $n0) = map { $s->($_) } ($sums, $usage, $seal_sums, q{SELECT count(*) FROM quota.ledger});
my $moved = $s->(q{SELECT sum(entries) || ' ' || count(*) FROM quota_archive(now() - interval '6 months')});
my ($entries, $pools) = split / /, $moved;
cmp_ok($entries, '>', 150000, "archived $entries entries of $pools pools");
is($s->(q{SELECT count(*) FROM quota.ledger_archive}), $entries, 'they are in quota.ledger_archive');
is($s->(q{SELECT count(*) FROM quota.ledger}), $n0 - $entries + $pools,
   'the ledger keeps one carry-forward entry per pool');
is($s->($sums), $bal0, 'archiving: every balance unchanged');
is($s->($verify), '0 1001', 'archiving: ledger sum = sealed total + tail');
is($s->($seal_sums), $seal0, 'archiving: the seals unchanged');
is($s->($usage), $use0, 'archiving: usage_daily unchanged');
is($s->(q{SELECT min(at) > now() - interval '6 months' FROM quota.ledger WHERE kind = 'charge'}), 't',
   'no archived charge is left in the ledger');
isnt(scalar $standby->psql('big', 'DELETE FROM quota.ledger WHERE entry_id = (SELECT max(entry_id) FROM quota.ledger)'), 0,
     'the ledger is still append-only outside quota_archive()');
# the README's export: every archived charge with the unit prices it was billed
is($s->(q{SELECT count(*) || ' ' || count(*) FILTER (WHERE e.kind = 'charge' AND e.input_price IS NULL)
            FROM (SELECT a.*, p.input_price, p.cached_input_price, p.output_price, p.request_price
                    FROM quota.ledger_archive a LEFT JOIN quota.model_prices p USING (price_id)
                   ORDER BY a.entry_id) e}),
   "$entries 0", 'the export gives every archived charge its unit prices');
$s->(q{TRUNCATE quota.ledger_archive});

# 7. pg_dump and restore of the archived ledger: the same figures.
my $dump = $standby->basedir . '/big.sql';
$standby->command_ok([ 'pg_dump', '-f', $dump, '-d', $standby->connstr('big') ], 'pg_dump');
$standby->safe_psql('postgres', 'CREATE DATABASE big2');
$standby->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $dump,
    '-d', $standby->connstr('big2') ], 'restore');
my $r = sub { $standby->safe_psql('big2', "SET search_path = public, quota; $_[0]") };
is($r->($sums), $bal0, 'restored: every balance as before');
is($r->($usage), $use0, 'restored: usage_daily as before');
is($r->($verify), '0 1001', 'restored: ledger sum = sealed total + tail');

# The seals and pools restored before the ledger (as pg_restore --jobs
# may order them): the balances the loaded ledger gave the running server
# (booked into shared memory as it loaded) are exact.
my $custom = $standby->basedir . '/big.dump';
$standby->command_ok([ 'pg_dump', '-Fc', '-f', $custom, '-d', $standby->connstr('big') ],
    'pg_dump -Fc');
my ($toc) = run_command([ 'pg_restore', '-l', $custom ]);
my @lines = split /\n/, $toc;
my ($ledger_data) = grep { /TABLE DATA quota ledger / } @lines;
my @order = grep { !/TABLE DATA quota ledger / } @lines;
my ($last_data) = grep { $order[$_] =~ /TABLE DATA / } reverse 0 .. $#order;
splice @order, $last_data + 1, 0, $ledger_data;
is(scalar(grep { /TABLE DATA quota (ledger_seal|pool_seals|pool_defs) / } @order[0 .. $last_data]), 3,
   'the seal tables and the pools are restored before the ledger');
my $list = $standby->basedir . '/toc.list';
open(my $lf, '>', $list) or die;
print $lf join("\n", @order), "\n";
close $lf;
$standby->safe_psql('postgres', 'CREATE DATABASE big3');
$standby->command_ok([ 'pg_restore', '-L', $list, '-d', $standby->connstr('big3'), $custom ],
    'pg_restore with the seals before the ledger');
is($standby->safe_psql('big3', $sums), $bal0, 'seals restored first: every balance as before, at once');
is($standby->safe_psql('big3', $verify), '0 1001', 'seals restored first: ledger sum = sealed total + tail');

$standby->restart;
is($standby->safe_psql('big3', $sums), $bal0, 'seals restored first: the same after a restart');
is($r->(q{SELECT balance FROM quota_charge('model-2', 1000, 1000, 'after-restore', user_id => 'student3')}),
   $r->(q{SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Students Pool'}),
   'restored and restarted: the first charge returns the exact balance');
is($r->(q{SELECT quota_seal() >= max(entry_id) FROM quota.ledger}), 't', 'restored: seals go on');
is($r->($verify), '0 1001', 'restored: exact after sealing');
$standby->stop;
done_testing();
