# With pg_cron in the database, CREATE EXTENSION quota CASCADE leaves the job
# quota-maintenance, and the real pg_cron fires it: a due pool is reset by
# the job (not lazily: nothing touches the pool meanwhile).
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('cron', cron => 1);

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION quota CASCADE;
});
is($node->safe_psql('postgres',
        q{SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'quota-maintenance'}),
   '* * * * * SELECT quota.quota_run_due()', 'the maintenance job is scheduled');

# quota_schedule() re-creates the same job with another schedule, and back
$node->safe_psql('postgres', q{SELECT quota.quota_schedule('*/5 * * * *')});
is($node->safe_psql('postgres',
        q{SELECT count(*) || ' ' || min(schedule) FROM cron.job WHERE jobname = 'quota-maintenance'}),
   '1 */5 * * * *', 'quota_schedule replaces the job');
$node->safe_psql('postgres', q{SELECT quota.quota_schedule()});

$node->safe_psql('postgres', q{
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user('u1');
SELECT quota.quota_create_pool('minutely', 10, reset_cron => '* * * * *');
SELECT quota.quota_add_member('minutely', 'u1');
SELECT quota.quota_charge('m', 0, 4000000, 'r1', user_id => 'u1');
});
is($node->safe_psql('postgres', q{SELECT balance FROM quota.pools WHERE pool = 'minutely'}),
   '6', 'charged before the reset');

# wait (bounded) for pg_cron to run the job after the pool fell due
my $reset = 0;
for (1 .. 150) {
    $reset = $node->safe_psql('postgres',
        q{SELECT count(*) FROM quota.ledger WHERE pool = 'minutely' AND kind = 'reset'});
    last if $reset > 0;
    sleep 1;
}
cmp_ok($reset, '>', 0, 'pg_cron ran quota_run_due and the pool was reset');
is($node->safe_psql('postgres', q{SELECT balance FROM quota.pools WHERE pool = 'minutely'}),
   '10', 'restored to the allowance');
is($node->safe_psql('postgres',
        q{SELECT count(*) > 0 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
          WHERE j.jobname = 'quota-maintenance' AND d.status = 'succeeded'}),
   't', 'the job run succeeded');
$node->stop;
done_testing();
