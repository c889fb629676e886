# pg_dump and restore of a database that has pg_cron and quota, into a new
# cluster: the restore runs without an error, the maintenance job exists
# once with the schedule it had (not the default one CREATE EXTENSION would
# make), and balances and the ledger are identical.  (That pg_cron runs
# the job is 004_pg_cron.pl.)
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $old = quota_node('old', cron => 1);
$old->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION quota;
SELECT quota.quota_schedule('*/2 * * * *');
SELECT quota.quota_set_model('m', 1000, 0);
SELECT quota.quota_set_user('ann', '{student}');
SELECT quota.quota_create_pool('Students Pool', 10);
SELECT quota.quota_grant_group('Students Pool', 'student');
SELECT quota.quota_charge('m', 10 * i, 0, 'r' || i, user_id => 'ann')
  FROM generate_series(1, 20) i;
});
my $state = q{SELECT (SELECT string_agg(pool || '=' || balance, ',' ORDER BY pool) FROM quota.pools)
                     || ' ' || (SELECT count(*) || '/' || quota.sum(amount) FROM quota.ledger)};
my $job = q{SELECT count(*) || ' ' || string_agg(schedule || ' ' || command, ',')
              FROM cron.job WHERE jobname = 'quota-maintenance'};
my $before = $old->safe_psql('postgres', $state);
is($old->safe_psql('postgres', $job), '1 */2 * * * * SELECT quota.quota_run_due()',
   'the old cluster runs the job every two minutes');

my $dump = $old->basedir . '/univ.dump';
$old->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $old->connstr('postgres') ],
                 'pg_dump');
$old->stop;

my $new = quota_node('new', cron => 1);
my ($stdout, $stderr) = ('', '');
my $ok = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('postgres'), $dump ],
                       '>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_restore without an error') or diag $stderr;

is($new->safe_psql('postgres', $state), $before, 'identical balances and ledger');
is($new->safe_psql('postgres', $job), '1 */2 * * * * SELECT quota.quota_run_due()',
   'the job exists once, with its schedule');
$new->stop;
done_testing();
