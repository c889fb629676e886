# Credit grants across a crash restart, a promotion and a dump (issue 29).
# Eight pgbench clients charge a pool with three live grants; what each
# grant has left is then known independently: charges draw the grants in
# order of priority, expires_at, grant_id, so the sum of the charges decides
# it.  After an immediate stop and restart, on the hot standby, on the
# standby once promoted and after a pg_dump restored into an empty
# database, quota.pool_grants shows exactly those remainders, balance =
# ledger, an expiry posts exactly amount - drawn, and quota_verify() agrees.
# The same in locked mode, where a charge applies the expiries lazily.
use strict;
use warnings;
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my ($primary, $standby) = quota_pair('grants', sync => 1, conf => "max_connections = 40\n");

my $p = sub { $primary->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };

$p->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('Term', 10, reset_policy => 'none');
SELECT quota_set_user('u' || i, '{student}') FROM generate_series(1, 8) i;
SELECT quota_grant_group('Term', 'student');
-- spent in this order: priority (5), then the sooner expiry, then the later
SELECT quota_grant_credits('Term', 5, now() + interval '1 day', note => 'first expiry');
SELECT quota_grant_credits('Term', 3, priority => 5, note => 'priority');
SELECT quota_grant_credits('Term', 4, now() + interval '2 days', note => 'second expiry');
});

my $script = $primary->basedir . '/charge.sql';
open(my $fh, '>', $script) or die;
print $fh "\\set tokens random(1000, 15000)\n";
print $fh "SELECT quota.quota_charge('m', 0, :tokens, 'c' || :client_id || '-' || random(), user_id => 'u' || (:client_id % 8 + 1));\n";
close $fh;
my ($out, $err);
IPC::Run::run(
	[ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', '150', '-f', $script,
	  '-h', $primary->host, '-p', $primary->port, 'postgres' ],
	'>', \$out, '2>', \$err);
like($out, qr/number of transactions actually processed: 1200/, 'pgbench charged 1200 times');

# What each grant has left, computed from the charges alone.
my $expected_sql = q{
WITH d AS (SELECT -sum(amount::numeric) AS spent FROM quota.ledger WHERE kind = 'charge'),
g AS (SELECT grant_id, amount::numeric AS amount,
             sum(amount::numeric) OVER (ORDER BY priority, expires_at NULLS LAST, grant_id) AS upto
        FROM quota.credit_grants)
SELECT string_agg(format('%s=%s', g.grant_id,
                         greatest(0, least(g.amount, g.upto - d.spent))::quota.credits), ' '
                  ORDER BY g.grant_id)
  FROM g, d
};
my $shown_sql = q{
SELECT string_agg(format('%s=%s', grant_id, remaining), ' ' ORDER BY grant_id) FROM quota.pool_grants
};
my $verify_sql = q{SELECT bool_and(ok) FROM quota.quota_verify()};

my $expected = $p->($expected_sql);
note "remainders: $expected";
is($p->($shown_sql), $expected, 'each grant has left what the charges did not draw');
is($p->(q{SELECT count(*) FROM quota.ledger WHERE kind = 'charge'}), '1200', 'every charge is in the ledger');
is($p->($verify_sql), 't', 'quota_verify agrees before the restart');

# A crash restart: shared memory is lost, the ledger decides.
$primary->stop('immediate');
$primary->start;
is($p->($shown_sql), $expected, 'the remainders are the same after a crash restart');
is($p->(q{SELECT (quota._pool_money('Term')).balance = (SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Term')}),
   't', 'balance = ledger after the restart');
is($p->($verify_sql), 't', 'quota_verify agrees after the restart');
# one more charge, on the rebuilt escrow
$p->(q{SELECT quota_charge('m', 0, 500000, 'after-restart', user_id => 'u1')});
$expected = $p->($expected_sql);
is($p->($shown_sql), $expected, 'a charge after the restart draws the next grant');

# The standby answers the same; promoted, it carries on.
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $s = sub { $standby->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
is($s->($shown_sql), $expected, 'the standby shows the same remainders');
$primary->stop('immediate');
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die;
is($s->($shown_sql), $expected, 'the promoted standby shows the same remainders');
is($s->($verify_sql), 't', 'quota_verify agrees on the promoted standby');

# pg_dump of the new primary, restored into an empty database: the same
# remainders, and the grants carry on there.
my $dump = $standby->basedir . '/grants.sql';
$standby->command_ok([ 'pg_dump', '--no-sync', '-d', $standby->connstr('postgres'), '-f', $dump ],
	'pg_dump of a database with live grants');
$standby->safe_psql('postgres', 'CREATE DATABASE restored');
$standby->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $standby->connstr('restored'),
	'-f', $dump ], 'restore into an empty database');
my $r = sub { $standby->safe_psql('restored', "SET search_path = public, quota; $_[0]") };
is($r->($shown_sql), $expected, 'the restored database shows the same remainders');
$r->(q{SELECT quota_charge('m', 0, 300000, 'after-restore', user_id => 'u2')});
is($r->($shown_sql), $r->($expected_sql), 'a charge after the restore draws the grants in order');
# (a crash or a promotion may skip sequence values: after, not next)
cmp_ok($r->(q{SELECT quota_grant_credits('Term', 1, note => 'after restore')}), '>', 3,
   'a new grant after the restore takes a new grant id');
is($r->($verify_sql), 't', 'quota_verify agrees in the restored database');

# Every grant expires on the new primary: each expire entry = amount - drawn.
my $before = $s->(q{SELECT string_agg(format('%s=%s', grant_id, remaining), ' ' ORDER BY grant_id) FROM quota.pool_grants});
$s->(q{
UPDATE quota.credit_grants SET expires_at = now() - interval '1 second' WHERE expires_at IS NOT NULL;
UPDATE quota.pool_defs SET next_expiry_at = now() - interval '1 second' WHERE pool = 'Term';
});
$s->(q{SELECT quota_run_due()});
is($s->(q{SELECT string_agg(format('%s=%s', g.grant_id, -l.amount::numeric), ' ' ORDER BY g.grant_id)
            FROM quota.credit_grants g JOIN quota.ledger l ON l.grant_id = g.grant_id AND l.kind = 'expire'}),
   join(' ', grep { !/^2=/ } split / /, $before),
   'each expired grant left with exactly what it had');
is($s->(q{SELECT count(*) FROM quota.ledger WHERE kind = 'expire'}), '2', 'one expire entry per expired grant');
is($s->(q{SELECT (quota._pool_money('Term')).balance = (SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Term')}),
   't', 'balance = ledger after the expiries');
is($s->($verify_sql), 't', 'quota_verify agrees after the expiries');

# Locked mode (quota not preloaded): the same exactness, the pool's lock
# serialising the expirer with the charges.
my $locked = quota_node('grants_locked', preload => 0, conf => "max_connections = 40\n");
my $l = sub { $locked->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
$l->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('Term', 10, reset_policy => 'none');
SELECT quota_set_user('u' || i, '{student}') FROM generate_series(1, 8) i;
SELECT quota_grant_group('Term', 'student');
SELECT quota_grant_credits('Term', 5, now() + interval '1 day', note => 'first expiry');
SELECT quota_grant_credits('Term', 3, priority => 5, note => 'priority');
SELECT quota_grant_credits('Term', 4, now() + interval '2 days', note => 'second expiry');
});
IPC::Run::run(
	[ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', '100', '-f', $script,
	  '-h', $locked->host, '-p', $locked->port, 'postgres' ],
	'>', \$out, '2>', \$err);
like($out, qr/number of transactions actually processed: 800/, 'locked mode: pgbench charged 800 times');
$expected = $l->($expected_sql);
is($l->($shown_sql), $expected, 'locked mode: each grant has left what the charges did not draw');
$before = $l->($shown_sql);
$l->(q{
UPDATE quota.credit_grants SET expires_at = now() - interval '1 second' WHERE expires_at IS NOT NULL;
UPDATE quota.pool_defs SET next_expiry_at = now() - interval '1 second' WHERE pool = 'Term';
});
# the first charge after the expiry time applies it, then draws the allowance part
$l->(q{SELECT quota_charge('m', 0, 1000, 'after-expiry', user_id => 'u1')});
is($l->(q{SELECT string_agg(format('%s=%s', g.grant_id, -l.amount::numeric), ' ' ORDER BY g.grant_id)
            FROM quota.credit_grants g JOIN quota.ledger l ON l.grant_id = g.grant_id AND l.kind = 'expire'}),
   join(' ', grep { !/^2=/ } split / /, $before),
   'locked mode: a charge applied the expiries lazily, each exactly what was left');
is($l->(q{SELECT (quota._pool_money('Term')).balance = (SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Term')}),
   't', 'locked mode: balance = ledger after the expiries');

done_testing();
