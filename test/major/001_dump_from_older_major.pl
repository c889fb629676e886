# The dump-and-restore major upgrade: a database of an older major (15),
# served by test/scripts/run-major.sh at 127.0.0.1:QUOTA_SOURCE_PORT
# (database univ, loaded from test/major/source.sql), dumped with this
# major's pg_dump as the PostgreSQL documentation advises and restored into
# an empty database of this major.  Every table of quota comes through
# identical; every balance equals its ledger; a retried request is not
# billed again; the held reservation settles; new charges work at once and
# after a restart (MajorData.pm).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use MajorData;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $port = $ENV{QUOTA_SOURCE_PORT};
plan skip_all => 'no source server (test/scripts/run-major.sh sets QUOTA_SOURCE_PORT)'
  unless $port;
my $source = "host=127.0.0.1 port=$port user=postgres dbname=univ";

my $node = quota_node('major');

# psql against the source server
my $source_psql = sub {
	my ($sql) = @_;
	my ($stdout, $stderr);
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $source,
			'-c', $sql ], '>', \$stdout, '2>', \$stderr)
	  or die "source: $stderr";
	chomp $stdout;
	return $stdout;
};
my $target_psql = sub { return $node->safe_psql('univ', $_[0]); };

my $from = int($source_psql->('SHOW server_version_num') / 10000);
my $to = int($node->safe_psql('postgres', 'SHOW server_version_num') / 10000);
cmp_ok($from, '<', $to, "from PostgreSQL $from to $to");

my $before = quota_snapshot($source_psql);
my $first_a1 = $source_psql->(q{SELECT charge_id || '/' || final_cost FROM quota.charges
                                 WHERE request_id = 'a1'});

# this major's pg_dump reads the older server; restore into an empty database
my $dump = $node->basedir . '/univ.sql';
$node->command_ok([ 'pg_dump', '--no-sync', '-d', $source, '-f', $dump ],
	"pg_dump $to of a $from database");
$node->safe_psql('postgres', 'CREATE DATABASE univ');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('univ'),
		'-f', $dump ], "restore into an empty $to database");

compare_snapshots($target_psql, $before);
check_continues($target_psql, $first_a1, sub { $node->restart; });

$node->stop;
done_testing();
