# A primary and a hot standby (SPEC rule 10).  The standby serves reads
# first (as dashboards do), then the primary charges, tops up, switches a
# user and takes a user out of a group; once replayed, the standby answers
# exactly what the primary answers (balances = ledger, active pools),
# quota_check there writes nothing (an exhausted pool is allowed = false,
# an expired hold counts as released, a due reset as applied), and every
# writing function raises 25006.  Then reads on the standby during a charge
# load on the primary (exact after catch-up), and a fast restart of the
# primary under load (balances rebuilt from the ledger).
use strict;
use warnings;
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my ($primary, $standby) = quota_pair('hs', conf => "max_connections = 40\n");

my $p = sub { $primary->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
my $s = sub { $standby->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
my $catchup = sub {
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
};

$p->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('Chemistry', 50);
SELECT quota_create_pool('Physics', 50);
SELECT quota_create_pool('Students Pool', 2);
SELECT quota_create_pool('Tiny', 1);
SELECT quota_create_pool('Due', 5, reset_cron => '0 0 1 1 *', member_limit => 4);
SELECT quota_set_user('u' || i, '{chem,phys,student}') FROM generate_series(1, 4) i;
SELECT quota_set_user('u5', '{tiny}');
SELECT quota_set_user('u6', '{due}');
SELECT quota_grant_group('Chemistry', 'chem');
SELECT quota_grant_group('Physics', 'phys');
SELECT quota_grant_group('Students Pool', 'student');
SELECT quota_grant_group('Tiny', 'tiny');
SELECT quota_grant_group('Due', 'due');
});
$catchup->();

# What the dashboards read on the standby before anything moves.
my $figures = q{
SELECT string_agg(format('%s: %s %s %s', d.pool, m.balance, m.held, m.available), E'\n'
                  ORDER BY d.pool COLLATE "C")
  FROM quota.pool_defs d, LATERAL quota._pool_money(d.pool) m;
};
my $reads = q{
SELECT count(*) FROM quota.pool_status;
SELECT c.allowed FROM generate_series(1, 6) i, quota_check('m', 'u' || i) c;
SELECT quota_active_pool('u' || i) FROM generate_series(1, 6) i;
};
$s->($reads);
my $before = $s->($figures);
is($before, $p->($figures), 'the standby reads the primary\'s figures');

# A session on the standby that stays open across the changes.
my ($in, $out) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', $standby->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$out);
$in .= "SET search_path = public, quota;\n$reads\n";

# Changes on the primary.
$p->(q{
SELECT quota_charge('m', 0, 3000000, 'c1', user_id => 'u1');
SELECT quota_topup('Chemistry', 7);
SELECT quota_switch('Students Pool', 'u2');
SELECT quota_charge('m', 0, 2000000, 'c2', user_id => 'u2');
SELECT quota_set_user('u3', '{phys,student}');
SELECT quota_reserve('m', 0, 1000000, 'r5', user_id => 'u5', ttl => '1 second');
SELECT quota_charge('m', 0, 4000000, 'c6', user_id => 'u6');
});
# the hold of r5 expires (no assertion depends on timing: we wait for it)
$primary->poll_query_until('postgres',
	q{SELECT expires_at < now() FROM quota.reservations WHERE request_id = 'r5'})
  or die 'r5 did not expire';
# the pool's reset fell due just after u6's charge
$p->(q{
UPDATE quota.pool_defs
   SET next_reset_at = (SELECT l.at + interval '1 millisecond' FROM quota.ledger l
                         WHERE l.request_id = 'c6')
 WHERE pool = 'Due';
});
$catchup->();

my $expect = q{Chemistry: 54 0 54
Due: 1 0 1
Physics: 50 0 50
Students Pool: 0 0 0
Tiny: 1 1 0};
is($p->($figures), $expect, 'primary figures');
is($s->($figures), $expect, 'standby figures after replay, in a new session');

my $ledger_eq = q{
SELECT bool_and((quota._pool_money(d.pool)).balance =
                (SELECT coalesce(sum(l.amount), '0') FROM quota.ledger l WHERE l.pool = d.pool))
  FROM quota.pool_defs d;
};
is($s->($ledger_eq), 't', 'standby: balance = ledger for every pool');

my $routing = q{SELECT string_agg(quota_active_pool('u' || i), ',' ORDER BY i) FROM generate_series(1, 6) i};
is($s->($routing), 'Chemistry,Students Pool,Physics,Chemistry,Tiny,Due',
	'standby: the replicated switch and group change route');
is($s->($routing), $p->($routing), 'standby routes as the primary does');

# the session opened before the changes sees them too
$in .= "$figures\n$routing\n\\q\n";
$h->finish;
like($out, qr/\Q$expect\E\nChemistry,Students Pool,Physics,Chemistry,Tiny,Due$/,
	'standby: a session open across the changes reads them');

my $status = q{
SELECT string_agg(format('%s %s %s %s', pool, balance, held, available), E'\n' ORDER BY pool COLLATE "C")
  FROM quota.pool_status;
};
is($s->($status), $p->($status), 'standby: pool_status as on the primary');
my $mine = q{
SET quota.user_id = 'u2';
SELECT string_agg(format('%s %s %s %s', pool, active, balance, available), E'\n' ORDER BY pool COLLATE "C")
  FROM quota.my_pools;
};
is($s->($mine), $p->($mine), 'standby: my_pools as on the primary');
my $charges = q{SELECT string_agg(request_id || ' ' || final_cost, ',' ORDER BY request_id) FROM quota.charges};
is($s->($charges), $p->($charges), 'standby: charges as on the primary');
my $usage = q{SELECT string_agg(format('%s %s %s %s', pool, model, requests, final_cost), ',' ORDER BY pool COLLATE "C") FROM quota.usage_daily};
is($s->($usage), $p->($usage), 'standby: usage_daily as on the primary');
my $pure = q{SELECT quota_cost('m', 0, 2500000) || ' ' || quota_next_reset('0 0 1 1 *', 'UTC', '2030-06-01')};
is($s->($pure), $p->($pure), 'standby: quota_cost and quota_next_reset');

# quota_check writes nothing on the standby and answers as the primary would
my $check = sub {
	$s->("SELECT format('%s %s %s %s', allowed, pool, available, reason) FROM quota_check('m', '$_[0]')");
};
is($check->('u2'), 'f Students Pool 0 insufficient quota',
	'standby: an exhausted pool is refused, without an error');
is($check->('u5'), 't Tiny 1 ',
	'standby: an expired hold counts as released');
is($check->('u6'), 't Due 5 ',
	'standby: a due reset counts as applied (and the member usage restarts)');
is($p->(q{SELECT count(*) FROM quota.reservations WHERE settled_at IS NULL}), '1',
	'nothing was written for the standby');
is($p->(q{SELECT next_reset_at < now() FROM quota.pool_defs WHERE pool = 'Due'}), 't',
	'the reset is still due on the primary');
# the primary, which may write, agrees
is($p->("SELECT format('%s %s %s %s', allowed, pool, available, reason) FROM quota_check('m', 'u5')"),
	't Tiny 1 ', 'primary: the expired hold released');
is($p->("SELECT format('%s %s %s %s', allowed, pool, available, reason) FROM quota_check('m', 'u6')"),
	't Due 5 ', 'primary: the reset applied');

# every writing function raises 25006 on the standby, with a hint
foreach my $call (
	q{SELECT quota_charge('m', 0, 1, 'w1', user_id => 'u1')},
	q{SELECT quota_reserve('m', 0, 1, 'w2', user_id => 'u1')},
	q{SELECT quota_release('r5')},
	q{SELECT quota_switch('Physics', 'u1')},
	q{SELECT quota_topup('Chemistry', 1)},
	q{SELECT quota_adjust('Chemistry', 1, 'x')},
	q{SELECT quota_reset('Chemistry')},
	q{SELECT quota_set_user('u9', '{}')},
	q{SELECT quota_create_pool('New', 1)},
	q{SELECT quota_add_member('Chemistry', 'u5')},
	q{SELECT quota_set_model('m2', 1, 1)},
	q{SELECT quota_run_due()},
	q{SELECT quota._expire_holds(NULL)})
{
	my ($ret, $stdout, $stderr) = $standby->psql('postgres',
		"SET search_path = public, quota; \\set VERBOSITY verbose\n$call");
	like($stderr, qr/ERROR:  25006: cannot (run "[a-z_.]+"|change quota's data) on a hot standby.*HINT:  Connect to the primary server\./s,
		"standby: $call raises 25006");
}

# Reads on the standby during a charge load on the primary.
$p->(q{
SELECT quota_create_pool('Load', 100000);
SELECT quota_set_user('l' || i, '{load}') FROM generate_series(1, 8) i;
SELECT quota_grant_group('Load', 'load');
});
my $dir = $primary->basedir;
open(my $fh, '>', "$dir/charge.sql") or die;
print $fh "\\set tokens random(1000, 400000)\n";
print $fh "SELECT quota.quota_charge('m', 0, :tokens, md5(random()::text || clock_timestamp()::text), user_id => 'l' || (:client_id % 8 + 1));\n";
close $fh;
open($fh, '>', "$dir/read.sql") or die;
print $fh "SELECT count(*) FROM quota.pool_status;\n";
print $fh "SELECT allowed FROM quota.quota_check('m', 'l' || (:client_id % 8 + 1));\n";
print $fh "SELECT quota.quota_active_pool('l1');\n";
close $fh;
my $load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-t', '150', '-f', "$dir/charge.sql",
	  $primary->connstr('postgres') ], '>', \my $lout, '2>', \my $lerr);
system_or_bail('pgbench', '-n', '-c', '3', '-t', '100', '-f', "$dir/read.sql",
	$standby->connstr('postgres'));
$load->finish;
is($?, 0, 'the charge load ran') or diag($lerr);
$catchup->();
is($s->($figures), $p->($figures), 'after the load: the standby\'s figures are the primary\'s');
is($s->($ledger_eq), 't', 'after the load: standby balance = ledger');
is($p->($ledger_eq), 't', 'after the load: primary balance = ledger');

# A fast restart of the primary under load: the escrow is rebuilt from the
# ledger; the standby follows.
$load = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-T', '30', '-f', "$dir/charge.sql",
	  $primary->connstr('postgres') ], '>', \$lout, '2>', \$lerr);
my $n = $p->(q{SELECT count(*) FROM quota.ledger});
$primary->poll_query_until('postgres', "SELECT count(*) >= $n + 40 FROM quota.ledger")
  or die 'no load';
$primary->restart;
$load->kill_kill;
$load->finish;
my $inv = q{
SELECT bool_and((quota._pool_money(d.pool)).balance =
                (SELECT coalesce(sum(l.amount), '0') FROM quota.ledger l WHERE l.pool = d.pool)
            AND (quota._pool_money(d.pool)).held =
                (SELECT coalesce(sum(r.held), '0') FROM quota.reservations r
                  WHERE r.pool = d.pool AND r.settled_at IS NULL))
  FROM quota.pool_defs d;
};
is($p->($inv), 't', 'after a fast restart under load: balance = ledger, held = holds');
$p->(q{SELECT quota_charge('m', 0, 1000, 'after-restart', user_id => 'l1')});
$catchup->();
is($s->($figures), $p->($figures), 'after the restart: the standby\'s figures are the primary\'s');

done_testing();
