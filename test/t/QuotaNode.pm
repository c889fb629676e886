# QuotaNode: the cluster every TAP test starts from.
#
#   my $node = quota_node('name');                      # quota preloaded
#   my $node = quota_node('name', cron => 1);           # pg_cron and quota
#   my $node = quota_node('name', preload => 0);        # quota not preloaded
#   my $node = quota_node('name', cron => 1, preload => 0);  # pg_cron only
#   my $node = quota_node('name', conf => "max_connections = 100\n");
#   my ($primary, $standby) = quota_pair('name');       # streaming, hot standby
#   my ($primary, $standby) = quota_pair('name', sync => 1);  # synchronous standby
#
# Every node runs in UTC; the node is initialised and started.
package QuotaNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(quota_node quota_pair);

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

1;
