# The README's whole removal: quota installed in two databases with data,
# login roles granted its three roles, pg_cron jobs.  The roles cannot be
# dropped while a database still has schema quota (it is not a member of
# the extension, so DROP EXTENSION leaves it); after DROP EXTENSION and
# DROP SCHEMA in every database, DROP ROLE works and nothing of quota is
# left in the cluster.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('uninstall_all', cron => 1);
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pg_cron; CREATE EXTENSION quota');
$node->safe_psql('other', 'SET client_min_messages = warning; CREATE EXTENSION quota');
for my $db ('postgres', 'other')
{
	$node->safe_psql($db, university_sql());
}
$node->safe_psql('postgres', q{
CREATE ROLE regress_dba LOGIN IN ROLE quota_admin;
CREATE ROLE regress_gateway LOGIN IN ROLE quota_app;
CREATE ROLE regress_s1 LOGIN IN ROLE quota_user;
});

my $databases = q{SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE datallowconn};
my @dbs = split / /, $node->safe_psql('postgres', $databases);

# DROP EXTENSION alone leaves the schema, which keeps the roles
$node->safe_psql('other', 'DROP EXTENSION quota');
is($node->safe_psql('other', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'quota'}), '1',
	'DROP EXTENSION leaves schema quota');
my ($rc, $out, $err) = $node->psql('postgres', 'DROP ROLE quota_admin, quota_app, quota_user');
isnt($rc, 0, 'the roles cannot be dropped yet');
like($err, qr/privileges for schema quota/, 'because of schema quota: ' . (split /\n/, $err)[0]);

# the README's removal, in every database, then the roles
for my $db (@dbs)
{
	$node->safe_psql($db, 'DROP EXTENSION IF EXISTS quota; DROP SCHEMA IF EXISTS quota;');
}
$node->safe_psql('postgres', 'DROP ROLE quota_admin, quota_app, quota_user');

for my $db (@dbs)
{
	is($node->safe_psql($db, q{SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'quota')}
		  . q{ + (SELECT count(*) FROM pg_extension WHERE extname = 'quota')}
		  . q{ + (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'quota%')}
		  . q{ + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'quota\_%')}),
		'0', "database $db: nothing of quota is left");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname LIKE 'quota\_%'}), '0',
	'no role of quota is left');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE command LIKE '%quota%'}), '0',
	'no pg_cron job of quota is left');
is($node->safe_psql('postgres', q{SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles
                                  WHERE rolname LIKE 'regress\_%'}),
	'regress_dba regress_gateway regress_s1', 'the login roles stay, without quota\'s roles');

# and quota can be installed again afresh
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION quota');
is($node->safe_psql('postgres', q{SELECT count(*) FROM quota.pools}), '0', 'a fresh install after removal');
$node->stop;
done_testing();
