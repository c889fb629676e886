# QuotaNode: the cluster every TAP test starts from.
#
#   my $node = quota_node('name');                      # quota preloaded
#   my $node = quota_node('name', cron => 1);           # pg_cron and quota
#   my $node = quota_node('name', preload => 0);        # quota not preloaded
#   my $node = quota_node('name', cron => 1, preload => 0);  # pg_cron only
#   my $node = quota_node('name', conf => "max_connections = 100\n");
#   $node->safe_psql('db', university_sql(member_limit => 8));  # a small university
#   my ($primary, $standby) = quota_pair('name');       # streaming, hot standby
#   my ($primary, $standby) = quota_pair('name', sync => 1);  # synchronous standby
#   pgbench_burst($node, $script_text, 8, 40, 'test name');  # 8 clients x 40
#
# Every node runs in UTC; the node is initialised and started.
package QuotaNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(quota_node quota_pair university_sql pgbench_burst);

# Create, configure and start a test cluster for quota.
sub quota_node
{
	my ($name, %opt) = @_;
	my $preload = $opt{preload} // 1;
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $conf = "timezone = 'UTC'\n";

	if ($opt{cron})
	{
		$conf .= "shared_preload_libraries = 'pg_cron" . ($preload ? ",quota" : "") . "'\n"
		  . "cron.database_name = 'postgres'\n"
		  . "cron.use_background_workers = on\n"
		  . "max_worker_processes = 16\n";
	}
	elsif ($preload)
	{
		$conf .= "shared_preload_libraries = 'quota'\n";
	}
	$conf .= $opt{conf} if defined $opt{conf};
	$node->init(allows_streaming => $opt{streaming} ? 1 : 0);
	$node->append_conf('postgresql.conf', $conf);
	$node->start;
	return $node;
}

# A primary (quota preloaded, allows_streaming) and a hot standby streaming
# from it, made from a base backup (so quota is preloaded there too); with
# sync => 1 the standby is the primary's synchronous standby (its
# application_name is its node name).  Both are started.
sub quota_pair
{
	my ($name, %opt) = @_;
	my $primary = quota_node("${name}_primary", %opt, streaming => 1);
	my $standby = PostgreSQL::Test::Cluster->new("${name}_standby");

	$primary->backup('base');
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->start;
	if ($opt{sync})
	{
		$primary->append_conf('postgresql.conf',
			"synchronous_standby_names = '${name}_standby'\n");
		$primary->reload;
	}
	return ($primary, $standby);
}

# Run a pgbench script (its text) on the node's postgres database: clients
# clients, transactions each, as one passing test of that name.
sub pgbench_burst
{
	my ($node, $text, $clients, $transactions, $name) = @_;
	my $script = $node->basedir . '/burst.sql';

	open(my $fh, '>', $script) or die "could not write $script: $!";
	print $fh $text;
	close($fh);
	$node->command_ok([ 'pgbench', '-n', '-c', $clients, '-j', '2', '-t', $transactions,
			'-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ], $name);
	return;
}

# SQL that loads a small university into a database with quota: models, a
# discount, a personal-account policy, two users, the Students Pool (with a
# member limit if given), a top-up, 40 charges, a held reservation, a switch.
sub university_sql
{
	my (%opt) = @_;
	my $limit = defined $opt{member_limit} ? ", member_limit => $opt{member_limit}" : '';
	return qq{
SELECT quota.quota_set_model('gpt-test', 2.5, 10);
SELECT quota.quota_set_model('qwen3-moe-onprem', 0, 0);
SELECT quota.quota_set_discount('chat', 0.8);
SELECT quota.quota_personal_policy('staff', 100, '0 1 * * 5', 'Asia/Hong_Kong');
SELECT quota.quota_set_user('ann', '{student}');
SELECT quota.quota_set_user('ben', '{staff}');
SELECT quota.quota_create_pool('Students Pool', 10, reset_cron => '0 1 * * 5',
                               reset_timezone => 'Asia/Hong_Kong'$limit);
SELECT quota.quota_grant_group('Students Pool', 'student');
SELECT quota.quota_topup('Students Pool', 2.5, 'bonus');
SELECT quota.quota_charge('gpt-test', 1000 * i, 200 * i, 'r' || i, 'c' || (i % 3),
                          user_id => CASE WHEN i % 2 = 0 THEN 'ann' ELSE 'ben' END)
  FROM generate_series(1, 40) i;
SELECT quota.quota_reserve('gpt-test', 1000, 1000, 'held-1', user_id => 'ann');
SELECT quota.quota_switch('personal:ben', 'ben');
};
}

1;
