# DROP EXTENSION quota leaves no pg_cron job behind, whether quota is
# preloaded or not and whether or not the session used quota before; a
# rolled-back DROP keeps the job; another database's job is not touched.
# Without preloading, CREATE EXTENSION says that quota runs in locked mode.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $jobs = q{SELECT coalesce(string_agg(database || ':' || jobname, ',' ORDER BY database), '')
               FROM cron.job};

for my $preload (1, 0)
{
	my $mode = $preload ? 'preloaded' : 'not preloaded';
	my $node = quota_node("uninstall_$preload", cron => 1, preload => $preload);

	my ($rc, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION pg_cron; CREATE EXTENSION quota');
	is($rc, 0, "$mode: installed");
	if ($preload)
	{
		unlike($err, qr/locked mode/, 'preloaded: no locked-mode notice');
	}
	else
	{
		like($err, qr/NOTICE:  quota is not in shared_preload_libraries: it runs in locked mode/,
			 'not preloaded: CREATE EXTENSION says quota runs in locked mode');
	}
	$node->safe_psql('postgres', 'CREATE DATABASE other');
	$node->safe_psql('other', 'CREATE EXTENSION quota');
	# pg_cron's job names are unique per user: the other database's job is
	# another user's
	$node->safe_psql('postgres', q{CREATE ROLE regress_other LOGIN;
	    SELECT cron.schedule_in_database('quota-maintenance', '* * * * *',
	                                     'SELECT quota.quota_run_due()', 'other', 'regress_other')});
	is($node->safe_psql('postgres', $jobs), 'other:quota-maintenance,postgres:quota-maintenance',
	   "$mode: a job per database");

	# a rolled-back DROP keeps the job
	$node->safe_psql('postgres', 'BEGIN; DROP EXTENSION quota; ROLLBACK;');
	is($node->safe_psql('postgres', $jobs), 'other:quota-maintenance,postgres:quota-maintenance',
	   "$mode: a rolled-back DROP EXTENSION keeps the job");

	# a fresh session that never called quota drops the extension
	$node->safe_psql('postgres', 'DROP EXTENSION quota');
	is($node->safe_psql('postgres', $jobs), 'other:quota-maintenance',
	   "$mode: DROP EXTENSION quota removed this database's job, not the other's");
	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_event_trigger WHERE evtname = 'quota_drop_extension'}),
	   '0', "$mode: nothing of quota is left");

	# dropping another extension leaves quota's job alone
	$node->safe_psql('postgres', 'CREATE EXTENSION quota');
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_trgm; DROP EXTENSION pg_trgm');
	is($node->safe_psql('postgres', $jobs), 'other:quota-maintenance,postgres:quota-maintenance',
	   "$mode: dropping another extension keeps quota's job");

	# quota and pg_cron in one command
	$node->safe_psql('postgres', 'DROP EXTENSION quota, pg_cron');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname IN ('quota', 'pg_cron')}),
	   '0', "$mode: DROP EXTENSION quota, pg_cron works");
	$node->stop;
}
done_testing();
