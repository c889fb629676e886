# QuotaNode: the cluster every TAP test starts from.
#
#   my $node = quota_node('name');                      # quota preloaded
#   my $node = quota_node('name', cron => 1);           # pg_cron and quota
#   my $node = quota_node('name', preload => 0);        # quota not preloaded
#   my $node = quota_node('name', cron => 1, preload => 0);  # pg_cron only
#   my $node = quota_node('name', conf => "max_connections = 100\n");
#
# Every node runs in UTC; the node is initialised and started.
package QuotaNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(quota_node);

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
	$node->init;
	$node->append_conf('postgresql.conf', $conf);
	$node->start;
	return $node;
}

1;
