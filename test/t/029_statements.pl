# Monthly statements (issue 30): a crash while a close waits leaves no
# statement behind and the close runs again; statements close while 8
# pgbench clients charge (the close waits for their transactions, they are
# not blocked); a dump restored into an empty database keeps statements
# and hashes, and verify finds them intact there; re-rating twice posts
# once; and quota_verify_statements names each change a superuser makes
# with the ledger's triggers disabled: an update, a delete, an insert.
use strict;
use warnings;
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('statements', conf => "max_connections = 40\nrestart_after_crash = on\n");
$node->safe_psql('postgres', 'CREATE DATABASE stmt');
my $q = sub { $node->safe_psql($_[1] // 'stmt', "SET search_path = public, quota; $_[0]") };

# A pool created in August 2026 (Berlin), its history through November
# loaded as a restore loads it: 3,000 charges, top-ups, an adjustment.
$q->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 2, 5);
SELECT quota_set_user('u' || i, '{staff}') FROM generate_series(1, 4) i;
INSERT INTO quota.pool_defs (pool, kind, allowance, reset_timezone, period_funds, created_at)
VALUES ('Dept', 'shared', 1000, 'Europe/Berlin', 1000, '2026-08-15 09:00+02');
SELECT quota_grant_group('Dept', 'staff');
BEGIN;
SET LOCAL row_security = off;
INSERT INTO quota.ledger (at, pool, kind, amount, note)
VALUES ('2026-08-15 09:00+02', 'Dept', 'grant', 1000, 'initial allowance'),
       ('2026-09-01 09:00+02', 'Dept', 'topup', 50, 'September budget'),
       ('2026-10-01 09:00+02', 'Dept', 'topup', 50, 'October budget'),
       ('2026-10-20 09:00+02', 'Dept', 'adjust', -2.5, 'correction');
INSERT INTO quota.ledger (at, pool, user_id, kind, amount, model, service, request_id,
                          input_tokens, cached_input_tokens, output_tokens, price_id,
                          original_cost, discount_rate, final_cost, balance_after)
SELECT '2026-08-16 00:00+02'::timestamptz + g * interval '50 minutes', 'Dept', 'u' || (g % 4 + 1),
       'charge', -0.0024, 'm', 'chat', 'h-' || g, 1000, 0, 200,
       (SELECT price_id FROM quota.models WHERE model = 'm'), 0.003, 0.8, 0.0024, 0
  FROM generate_series(1, 3000) g;
COMMIT;
});
my $exact = q{SELECT p.balance = (SELECT sum(l.amount) FROM quota.ledger l WHERE l.pool = p.pool)
              FROM quota.pools p WHERE p.pool = 'Dept'};
is($q->($exact), 't', 'the loaded history is in the balance');

# 1. A crash while a close waits for a transaction that started before it
my ($in1, $out1, $err1) = ("BEGIN;\nSELECT 1;\n", '', '');
my $open = IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('stmt') ],
    '<', \$in1, '>', \$out1, '2>', \$err1);
$open->pump while length $in1;
$node->poll_query_until('stmt',
    q{SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction'})
  or die 'the open transaction did not start';
my ($in2, $out2, $err2) = ("SELECT quota.quota_close_statements(now());\n", '', '');
my $closer = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('stmt') ],
    '<', \$in2, '>', \$out2, '2>', \$err2);
$closer->pump while length $in2;
$node->poll_query_until('stmt',
    q{SELECT count(*) = 1 FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE '%quota_close_statements%'})
  or die 'the close did not wait';
$node->stop('immediate');
$open->kill_kill;
$closer->kill_kill;
$node->start;
is($q->(q{SELECT count(*) FROM quota.statements}), '0', 'a close cut by a crash left no statement');
is($q->(q{SELECT count(*) FROM quota.statement_lines}) . '/' . $q->(q{SELECT count(*) FROM quota.statement_entries}),
   '0/0', 'nor lines or fingerprints');
is($q->($exact), 't', 'balance = ledger after the crash');

# 2. Closing while 8 clients charge the same pool.  A charge every 50
# minutes from 2026-08-16 00:50 (Berlin): 460 in August, 864 in September,
# 894 in October (25 hours on the 25th), the other 782 in November.
my $script = $node->basedir . '/charge.sql';
open(my $fh, '>', $script) or die;
print $fh "SELECT quota.quota_charge('m', 1000, 100, md5(random()::text || clock_timestamp()::text), "
  . "user_id => 'u' || (:client_id % 4 + 1));\n";
close($fh);
my ($bout, $berr) = ('', '');
my $bench = IPC::Run::start(
    [ 'pgbench', '-n', '-c', '8', '-j', '2', '-T', '8', '-f', $script,
      '-h', $node->host, '-p', $node->port, 'stmt' ],
    '>', \$bout, '2>', \$berr);
$node->poll_query_until('stmt', q{SELECT count(*) > 20 FROM quota.ledger WHERE at > '2026-12-01'})
  or die 'the charges did not start';
# a transaction open since before the close makes it wait: the charges go on meanwhile
($in1, $out1, $err1) = ("BEGIN;\nSELECT 1;\n", '', '');
$open = IPC::Run::start([ 'psql', '-X', '-q', '-d', $node->connstr('stmt') ],
    '<', \$in1, '>', \$out1, '2>', \$err1);
$open->pump while length $in1;
$node->poll_query_until('stmt',
    q{SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction'})
  or die 'the open transaction did not start';
($in2, $out2, $err2) = ("SELECT quota.quota_close_statements(now());\n", '', '');
$closer = IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('stmt') ],
    '<', \$in2, '>', \$out2, '2>', \$err2);
$closer->pump while length $in2;
$node->poll_query_until('stmt',
    q{SELECT count(*) = 1 FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND query LIKE '%quota_close_statements%'})
  or die 'the close did not wait';
my $before = $q->(q{SELECT count(*) FROM quota.ledger WHERE at > '2026-12-01'});
ok($node->poll_query_until('stmt', qq{SELECT count(*) > $before + 50 FROM quota.ledger WHERE at > '2026-12-01'}),
   'charges go on while the close waits');
$in1 .= "COMMIT;\n";
$open->pump while length $in1;
$open->finish;
$closer->pump until $out2 =~ /\d/;
$closer->finish;
is($out2, "4\n", 'then August to November are closed, while the charges run') or diag $err2;
$bench->finish;
like($bout, qr/number of failed transactions: 0/, 'no charge failed') or diag $berr;
is($q->(q{SELECT count(*) FROM quota.quota_verify_statements()}), '0', 'verify: all intact');
is($q->(q{SELECT string_agg(format('%s %s %s %s', to_char(period_start AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD'),
                                   opening_balance, charges, closing_balance), '; ' ORDER BY period_start)
            FROM quota.statements}),
   '2026-08-01 0 1.104 998.896; 2026-09-01 998.896 2.0736 1046.8224; '
   . '2026-10-01 1046.8224 2.1456 1092.1768; 2026-11-01 1092.1768 1.8768 1090.3',
   'the four statements chain, each closing where the next opens');
is($q->(q{SELECT sum(entries) FROM quota.statements}), '3004', 'every loaded entry is in a statement');
is($q->($exact), 't', 'balance = ledger after the charges');

# 3. Dump and restore: statements and hashes come through, and verify
my $dump = $node->basedir . '/stmt.sql';
$node->command_ok([ 'pg_dump', '--no-sync', '-d', $node->connstr('stmt'), '-f', $dump ],
    'pg_dump of a database with statements');
$node->safe_psql('postgres', 'CREATE DATABASE stmt2');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('stmt2'),
        '-f', $dump ], 'restore into an empty database');
my $all = q{SELECT md5(string_agg(s::text, '|' ORDER BY statement_id))
              || (SELECT md5(string_agg(l::text, '|' ORDER BY l::text)) FROM quota.statement_lines l)
              || (SELECT md5(string_agg(e::text, '|' ORDER BY statement_id, chunk)) FROM quota.statement_entries e)
            FROM quota.statements s};
is($q->($all, 'stmt2'), $q->($all), 'statements, lines and fingerprints restored as they were');
is($q->(q{SELECT count(*) FROM quota.quota_verify_statements()}, 'stmt2'), '0',
   'verify finds the restored statements intact');

# 4. Re-rating twice posts once
is($q->(q{SELECT count(*) || ' ' || sum(adjustment) FROM quota_rerate('m', '2026-09-01', '2026-10-01', 0.5, NULL)}),
   '4 1.0368', 're-rating September (UTC) at an input price of 1, not 2: 864 charges of 0.0012 less, one entry per user');
is($q->(q{SELECT count(*) FROM quota_rerate('m', '2026-09-01', '2026-10-01', 0.5, NULL)}), '0',
   'the same re-rating again posts nothing');
is($q->(q{SELECT count(*) FROM quota.ledger WHERE note LIKE 're-rated%'}), '4', 'four adjust entries in all');
is($q->(q{SELECT count(*) FROM quota.quota_verify_statements()}), '0',
   'the closed statements are unchanged (the correction is dated now)');

# 5. Tampering by a superuser with the ledger's triggers disabled
my $restore = $q->(q{SELECT string_agg(format('ALTER TABLE quota.ledger ENABLE %s TRIGGER %I;',
                                              CASE tgenabled WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END,
                                              tgname), ' ')
                      FROM pg_trigger WHERE tgrelid = 'quota.ledger'::regclass AND NOT tgisinternal});
my $tamper = sub {
    $q->("BEGIN; ALTER TABLE quota.ledger DISABLE TRIGGER ALL; $_[0]; $restore COMMIT;");
    return $q->(q{SELECT string_agg(format('%s: %s', statement_id, problem), E'\n' ORDER BY statement_id)
                    FROM quota.quota_verify_statements()});
};
my $sep = $q->(q{SELECT min(entry_id) FROM quota.ledger WHERE kind = 'charge'
                  AND at >= '2026-09-10' AND at < '2026-09-11'});
my $found = $tamper->("UPDATE quota.ledger SET final_cost = 0.0012, amount = -0.0012 WHERE entry_id = $sep");
note "after the update:\n$found";
like($found, qr/entry $sep was changed after the statement was closed/, 'an update is found and named');
my $oct = $q->(q{SELECT min(entry_id) FROM quota.ledger WHERE kind = 'charge'
                  AND at >= '2026-10-10' AND at < '2026-10-11'});
$found = $tamper->("DELETE FROM quota.ledger WHERE entry_id = $oct");
note "after the delete:\n$found";
like($found, qr/entry $oct was deleted after the statement was closed/, 'a delete is found and named');
$found = $tamper->(q{INSERT INTO quota.ledger (entry_id, at, pool, user_id, kind, amount, note)
                     OVERRIDING SYSTEM VALUE
                     VALUES (900000001, '2026-11-10 12:00+01', 'Dept', 'u1', 'topup', 100, 'forged')});
note "after the insert:\n$found";
like($found, qr/entry 900000001 was inserted after the statement was closed/, 'an insert is found and named');
like($found, qr/topups is 0, the ledger now gives 100/, 'and the figure it changed');
is($q->(q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'quota.ledger'::regclass AND tgenabled = 'D'}),
   '0', 'the triggers are back');

$node->stop;
done_testing();
