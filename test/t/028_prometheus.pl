# Monitoring with Prometheus: the real prometheus-postgres-exporter, started
# here on loopback with monitoring/postgres_exporter.yaml as a login role in
# pg_monitor, scrapes a database holding pools, personal pools in each
# state, charges, a refusal, a reservation and a maintenance run; every
# metric equals what quota's views and tables say.  promtool checks and
# unit-tests monitoring/quota.rules.yaml where it is installed.
use strict;
use warnings;
use FindBin;
use HTTP::Tiny;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => 'prometheus-postgres-exporter is not installed' unless -x $exporter;
my $monitoring = "$FindBin::RealBin/../../monitoring";

my $node = quota_node('prometheus');
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user(u, '{staff}') FROM unnest(ARRAY['s1', 's2', 's3']) u;
SELECT quota.quota_set_user(u, '{student}') FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_personal_policy('staff', 10);
SELECT quota.quota_create_pool('Students Pool', 100, reset_cron => '0 1 * * 5',
                               reset_timezone => 'Asia/Hong_Kong');
SELECT quota.quota_grant_group('Students Pool', 'student');
SELECT quota.quota_create_pool('Physics', 50);
SELECT quota.quota_add_member('Physics', 'u1');
-- personal pools: s1 exhausted, s2 low (90 % used), s3 ok
SELECT quota.quota_charge('m', 0, 10000000, 'c1', user_id => 's1');
SELECT quota.quota_charge('m', 0, 9000000, 'c2', user_id => 's2');
SELECT quota.quota_charge('m', 0, 1000000, 'c3', user_id => 's3');
-- shared pools: charges, an active reservation
SELECT quota.quota_charge('m', 0, 12500000, 'c4', user_id => 'u1', pool => 'Students Pool');
SELECT quota.quota_charge('m', 0, 40000000, 'c5', user_id => 'u1', pool => 'Physics');
SELECT quota.quota_reserve('m', 0, 2000000, 'r1', user_id => 'u2');
SELECT quota.quota_run_due();
CREATE ROLE regress_exporter LOGIN IN ROLE pg_monitor;
});
# a refusal (QU001), counted although it rolled back
my ($rc) = $node->psql('postgres', q{SELECT quota.quota_charge('m', 0, 20000000, 'c6', user_id => 'u1', pool => 'Physics')});
isnt($rc, 0, 'a charge the pool cannot pay is refused');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ $exporter, "--extend.query-path=$monitoring/postgres_exporter.yaml",
		"--web.listen-address=127.0.0.1:$port", '--disable-default-metrics',
		'--disable-settings-metrics' ],
	'>', \$out, '2>', \$err,
	init => sub {
		$ENV{DATA_SOURCE_NAME} = 'host=' . $node->host . ' port=' . $node->port
		  . ' user=regress_exporter dbname=postgres sslmode=disable';
	});
my $http = HTTP::Tiny->new(timeout => 10);
my $body = '';
for (1 .. 100)
{
	my $res = $http->get("http://127.0.0.1:$port/metrics");
	$body = $res->{content} if $res->{success};
	last if $body =~ /^quota_ledger_consistent/m;
	select(undef, undef, undef, 0.1);
}
$h->kill_kill;
$h->finish;
like($body, qr/^quota_ledger_consistent/m, 'the exporter serves quota\'s metrics') or diag $err;
unlike($err, qr/level=error/, 'no query failed');

# the samples, without the exporter's server label: "name{labels}" => value
my %m;
for my $line (split /\n/, $body)
{
	next unless $line =~ /^(quota_\w+)(?:\{(.*)\})? (\S+)$/;
	my ($name, $labels, $value) = ($1, $2 // '', $3);
	$labels = join(',', grep { !/^server=/ } split /,(?=\w+=)/, $labels);
	$m{"$name\{$labels\}"} = $value;
}
note join("\n", map { "$_ $m{$_}" } sort keys %m);

# every figure of the pools but personal ones, as pool_status shows it
for my $row (split /\n/, $node->safe_psql('postgres', q{
	SELECT format('%s|%s|%s|%s|%s|%s|%s', s.pool, s.balance, s.available, s.held, s.allowance,
	              s.used, coalesce(extract(epoch FROM s.next_reset_at)::text, 'NaN'))
	  FROM quota.pool_status s WHERE s.kind <> 'personal' ORDER BY s.pool}))
{
	my ($pool, %want);
	($pool, @want{qw(balance available held allowance used next_reset_timestamp_seconds)}) =
	  split /\|/, $row;
	for my $k (sort keys %want)
	{
		my $got = $m{"quota_pool_$k\{pool=\"$pool\"}"};
		ok(defined $got && ($want{$k} eq 'NaN' ? $got eq 'NaN' : abs($got - $want{$k}) < 1e-6),
			"quota_pool_$k of $pool: " . ($got // 'missing') . " = $want{$k}");
	}
}
is($m{'quota_pool_low_threshold{pool="Students Pool"}'}, 20,
	'low threshold: 20 % of 100 available (warnings at 80 and 95 %)');
ok(!grep({ /pool="personal:/ } keys %m), 'no series names a personal pool');

# personal pools by state
is(join(' ', map { $m{"quota_personal_pools{state=\"$_\"}"} } qw(ok low exhausted)), '1 1 1',
	'personal pools: one ok, one low, one exhausted');
# refusals, reservations, grants, maintenance, the ledger
is($m{'quota_refusals_total{pool="Physics",sqlstate="QU001"}'},
	$node->safe_psql('postgres', q{SELECT sum(refused) FROM quota.refusals WHERE pool = 'Physics' AND sqlstate = 'QU001'}),
	'refusals counted as quota.refusals shows them');
is($m{'quota_reservations_active{pool="Students Pool"}'},
	$node->safe_psql('postgres', q{SELECT count(*) FROM quota.reservations WHERE pool = 'Students Pool' AND settled_at IS NULL}),
	'active reservations');
is($m{'quota_grants_expiring_7d{pool="Physics"}'}, 0, 'no credits expire');
my $last = $node->safe_psql('postgres', q{SELECT extract(epoch FROM last_success_at) FROM quota.maintenance});
ok(abs($m{'quota_maintenance_last_success_timestamp_seconds{}'} - $last) < 1e-3,
	"maintenance last succeeded at $last");
is($m{'quota_ledger_consistent{}'}, 1, 'the ledger is consistent');
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM quota.quota_verify()}), 't',
	'as quota_verify() says');

# the alerting rules, where promtool is installed
SKIP:
{
	skip 'promtool is not installed', 2 unless -x '/usr/bin/promtool';
	ok(system('promtool', 'check', 'rules', "$monitoring/quota.rules.yaml") == 0,
		'promtool check rules');
	ok(system("cd '$monitoring' && promtool test rules quota.rules.test.yaml") == 0,
		'promtool test rules');
}
$node->stop;
done_testing();
