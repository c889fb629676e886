# pg_upgrade of a cluster using quota, with Debian's pg_upgradecluster, from
# PostgreSQL 15 to 17 installed side by side (a Debian 12 machine upgraded to
# 13; test/scripts/run-pg-upgrade.sh makes one and runs this as root, with
# quota installed for both majors).  The cluster keeps every table of quota
# identical, every balance equal to its ledger, a retried request unbilled,
# and its held reservation settles (MajorData.pm).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use MajorData;
use Test::More;

plan skip_all => 'needs root and PostgreSQL 15 and 17 (test/scripts/run-pg-upgrade.sh)'
  unless $> == 0 && -x '/usr/lib/postgresql/15/bin/postgres'
  && -x '/usr/lib/postgresql/17/bin/postgres' && -x '/usr/bin/pg_upgradecluster';

my $cluster = 'quota_upgrade';
my $port = 58000 + int(rand(2000));

# run a command, its output in the test's log; true on success
sub run
{
	note "# @_";
	my $out = qx{@_ 2>&1};
	note $out;
	return $? == 0;
}

# psql as postgres in database univ of the cluster on $port
my $psql = sub {
	my ($sql) = @_;
	open(my $fh, '-|', 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-A', '-t', '-q',
		'-v', 'ON_ERROR_STOP=1', '-p', $port, '-d', 'univ', '-c', $sql)
	  or die "psql: $!";
	local $/;
	my $out = <$fh>;
	close($fh) or die "psql failed: $sql";
	$out =~ s/\n\z//;
	return $out;
};

# leftovers of an earlier run
run("pg_dropcluster --stop $_ $cluster") for grep { -d "/etc/postgresql/$_/$cluster" } (15, 17);

ok(run("pg_createcluster -p $port 15 $cluster -- -A trust"), 'pg_createcluster 15');
ok(run("pg_conftool 15 $cluster set shared_preload_libraries quota")
	&& run("pg_conftool 15 $cluster set timezone UTC"), 'quota preloaded');
ok(run("pg_ctlcluster 15 $cluster start"), 'the 15 cluster starts');
ok(run("runuser -u postgres -- createdb -p $port univ")
	&& run("runuser -u postgres -- psql -X -q -p $port -d univ -f $FindBin::RealBin/source.sql"),
	'the university is loaded on 15');
is(int($psql->('SHOW server_version_num') / 10000), 15, 'on PostgreSQL 15');

my $before = quota_snapshot($psql);
my $first_a1 = $psql->(q{SELECT charge_id || '/' || final_cost FROM quota.charges
                          WHERE request_id = 'a1'});

ok(run("pg_upgradecluster -v 17 -m upgrade 15 $cluster"), 'pg_upgradecluster -m upgrade 15 -> 17');
is(int($psql->('SHOW server_version_num') / 10000), 17, 'the upgraded cluster runs 17 on the old port');
is($psql->(q{SHOW shared_preload_libraries}), 'quota', 'with quota preloaded');

compare_snapshots($psql, $before);
check_continues($psql, $first_a1, sub { run("pg_ctlcluster 17 $cluster restart") or die; });

ok(run("pg_dropcluster --stop 17 $cluster") && run("pg_dropcluster --stop 15 $cluster"),
	'both clusters dropped');
done_testing();
