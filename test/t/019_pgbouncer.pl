# Behind pgbouncer in transaction mode (SPEC rule 11).  The test starts
# pgbouncer itself (Debian's package; skipped when it is not installed) on
# a free local port with a pool of 2 server connections.  8 clients charge,
# and reserve and settle, with the user_id argument and with SET LOCAL
# quota.user_id: every user is billed exactly their own requests, no hold
# is left, balance = ledger.  Then what the README warns about: a
# session-level SET quota.user_id stays on the server connection and bills
# the next client of the pool to that user (documented, not fixed).
use strict;
use warnings;
use File::Temp ();
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my ($pgbouncer) = grep { -x $_ } map { "$_/pgbouncer" }
  (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/bin');
plan skip_all => 'pgbouncer is not installed (Debian package "pgbouncer")'
  unless $pgbouncer;

my $node = quota_node('pgb', conf => "max_connections = 40\n");
my $q = sub { $node->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
$q->(q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota_set_model('m', 0, 1);
SELECT quota_create_pool('Shared', 100000);
SELECT quota_set_user('u' || i, '{all}') FROM generate_series(1, 4) i;
SELECT quota_grant_group('Shared', 'all');
});

# pgbouncer on a free port, its socket in a temporary directory
my $dir = File::Temp::tempdir('pgbouncer_XXXX', TMPDIR => 1, CLEANUP => 1);
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $user = $ENV{USER} // getpwuid($<);
my ($host, $pgport) = ($node->host, $node->port);
open(my $fh, '>', "$dir/userlist.txt") or die;
print $fh qq{"$user" ""\n};
close $fh;
open($fh, '>', "$dir/pgbouncer.ini") or die;
print $fh <<"EOF";
[databases]
postgres = host=$host port=$pgport dbname=postgres pool_size=2
leak = host=$host port=$pgport dbname=postgres pool_size=1
[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 50
logfile = $dir/pgbouncer.log
EOF
close $fh;
my $bouncer = IPC::Run::start([ $pgbouncer, "$dir/pgbouncer.ini" ],
	'>', \my $bout, '2>', \my $berr);
my $via = sub { "host=$dir port=$port dbname=$_[0]" };
for (my $tries = 0;; $tries++)
{
	last if IPC::Run::run([ 'psql', '-XAtq', '-d', $via->('postgres'), '-c', 'SELECT 1' ],
		'>', \my $o, '2>', \my $e);
	die "pgbouncer did not start: $berr" if $tries > 100;
	select(undef, undef, undef, 0.1);
}

# 8 clients, 25 runs each, each run 4 credits for user u(client % 4 + 1)
open($fh, '>', "$dir/run.sql") or die;
print $fh <<'EOF';
\set r random(1, 1000000000000)
\set u 1 + :client_id % 4
SELECT quota.quota_charge('m', 0, 1000000, 'a-' || :client_id || '-' || :r, user_id => 'u' || :u);
BEGIN;
SET LOCAL quota.user_id = 'u:u';
SELECT quota.quota_charge('m', 0, 1000000, 'b-' || :client_id || '-' || :r);
COMMIT;
SELECT quota.quota_reserve('m', 0, 3000000, 'c-' || :client_id || '-' || :r, user_id => 'u' || :u);
SELECT quota.quota_charge('m', 0, 1000000, 'c-' || :client_id || '-' || :r, user_id => 'u' || :u);
BEGIN;
SET LOCAL quota.user_id = 'u:u';
SELECT quota.quota_reserve('m', 0, 3000000, 'd-' || :client_id || '-' || :r);
COMMIT;
BEGIN;
SET LOCAL quota.user_id = 'u:u';
SELECT quota.quota_charge('m', 0, 1000000, 'd-' || :client_id || '-' || :r);
COMMIT;
EOF
close $fh;
my ($ok, $out, $err);
$ok = IPC::Run::run([ 'pgbench', '-n', '-c', '8', '-t', '25', '-f', "$dir/run.sql",
		$via->('postgres') ], '>', \$out, '2>', \$err);
ok($ok, 'pgbench through pgbouncer ran') or diag($err);
like($out, qr/number of failed transactions: 0|number of transactions actually processed: 200\/200/,
	'every run succeeded');

is($q->(q{
SELECT string_agg(format('%s %s %s', user_id, n, total), ',' ORDER BY user_id)
  FROM (SELECT user_id, count(*) AS n, -sum(amount) AS total
          FROM quota.ledger WHERE kind = 'charge' GROUP BY user_id) x}),
	'u1 200 200,u2 200 200,u3 200 200,u4 200 200',
	'each user billed exactly their own 200 requests');
is($q->(q{
SELECT bool_and(substr(request_id, 3, 1) IS NOT NULL
                AND user_id = 'u' || (1 + split_part(request_id, '-', 2)::int % 4))
  FROM quota.ledger WHERE kind = 'charge'}), 't',
	'every charge is billed to the user of the client that sent it');
is($q->(q{SELECT count(*) FROM quota.reservations WHERE settled_at IS NULL}), '0',
	'no hold is left');
is($q->(q{
SELECT format('%s %s %s', m.balance, m.held, m.available) || ' '
       || (m.balance = (SELECT sum(amount) FROM quota.ledger WHERE pool = 'Shared'))
  FROM quota._pool_money('Shared') m}),
	'99200 0 99200 true', 'balance = ledger, nothing held');

# A session-level SET leaks: pool_size=1, so the next client gets the same
# server connection, and with it quota.user_id.
my $leak = sub {
	my $out = '';
	IPC::Run::run([ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $via->('leak'), '-c', $_[0] ],
		'>', \$out, '2>', \$out) or die "psql: $out";
	chomp $out;
	return $out;
};
$leak->(q{SET quota.user_id = 'u1'});
is($leak->(q{SELECT quota.current_user_id()}), 'u1',
	'a session SET leaks to the next client of the pool (documented)');
$leak->(q{SELECT quota.quota_charge('m', 0, 1000000, 'leaked')});
is($q->(q{SELECT user_id FROM quota.ledger WHERE request_id = 'leaked'}), 'u1',
	'and bills that client\'s charge to the other user');
# SET LOCAL does not leak
$leak->(q{RESET quota.user_id});
$leak->(q{BEGIN; SET LOCAL quota.user_id = 'u2'; SELECT quota.current_user_id(); COMMIT;});
is($leak->(q{SELECT quota.current_user_id()}), $user, 'SET LOCAL ends with its transaction');

$bouncer->kill_kill;
$bouncer->finish;
done_testing();
