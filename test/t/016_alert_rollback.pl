# A usage warning whose first crossing rolled back is still announced, once:
# on one connection, a transaction (then a savepoint, then an exception
# block) charges across 80 % twice and rolls back; the same charges again
# must send exactly one NOTIFY quota_alert, and later charges none.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('alert_rollback');

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 1000000, 0);          -- 1 credit per input token
SELECT quota.quota_set_user('u', '{}');
SELECT quota.quota_create_pool(p, 100) FROM unnest('{Undo,Savepoint,Block}'::text[]) p;
SELECT quota.quota_add_member(p, 'u') FROM unnest('{Undo,Savepoint,Block}'::text[]) p;
});

# The notifications in psql's output, as payloads.
sub payloads
{
	my ($out) = @_;
	my @p;
	while ($out =~ /Asynchronous notification "quota_alert" with payload "(.*?)" received/g)
	{
		push @p, $1;
	}
	return @p;
}

# a charge of the pool as a psql line
sub charge
{
	my ($pool, $tokens, $request) = @_;
	return "SELECT quota.quota_charge('m', $tokens, 0, '$request', user_id => 'u', pool => '$pool') IS NOT NULL;\n";
}

my %undo = (
	Undo => ["BEGIN;\n", "ROLLBACK;\n"],
	Savepoint => ["BEGIN;\nSAVEPOINT s;\n", "ROLLBACK TO SAVEPOINT s;\nCOMMIT;\n"]);
for my $pool (sort keys %undo)
{
	my $sql = "LISTEN quota_alert;\n" . $undo{$pool}[0]
	  . charge($pool, 85, "$pool-1") . charge($pool, 1, "$pool-2")
	  . $undo{$pool}[1]
	  . charge($pool, 85, "$pool-3") . charge($pool, 1, "$pool-4")
	  . charge($pool, 1, "$pool-5");
	my @p = payloads($node->safe_psql('postgres', $sql));
	is(scalar @p, 1, "$pool: one notification after the rolled-back crossing");
	like($p[0] // '', qr/^\{"pool" : "$pool", "threshold" : 0\.8, "used" : 85,/,
		"$pool: it is the 80 % warning of the charge that crossed again");
}

my $sql = q{LISTEN quota_alert;
DO $$
BEGIN
    PERFORM quota.quota_charge('m', 85, 0, 'Block-1', user_id => 'u', pool => 'Block');
    PERFORM quota.quota_charge('m', 1, 0, 'Block-2', user_id => 'u', pool => 'Block');
    RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
    NULL;
END
$$;
} . charge('Block', 85, 'Block-3') . charge('Block', 1, 'Block-4') . charge('Block', 1, 'Block-5');
my @p = payloads($node->safe_psql('postgres', $sql));
is(scalar @p, 1, 'Block: one notification after the exception block');
like($p[0] // '', qr/^\{"pool" : "Block", "threshold" : 0\.8, "used" : 85,/,
	'Block: it is the 80 % warning of the charge that crossed again');

is($node->safe_psql('postgres', q{
SELECT string_agg(pool || ' ' || threshold || ' ' || used::numeric || ' ' || request_id, ', '
                  ORDER BY pool COLLATE "C")
  FROM quota.alerts}),
	'Block 0.8 85 Block-3, Savepoint 0.8 85 Savepoint-3, Undo 0.8 85 Undo-3',
	'one alert row per pool, written by the charge that crossed again');

# The library still serves a 0.1 installation (alerts in the table
# quota.alerts), and after ALTER EXTENSION UPDATE the rows kept and the new
# ones are read through the view.
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{
SET client_min_messages = warning;
CREATE EXTENSION quota VERSION '0.1';
SELECT quota.quota_set_model('m', 1000000, 0);
SELECT quota.quota_set_user('u', '{}');
SELECT quota.quota_create_pool('Old', 100);
SELECT quota.quota_add_member('Old', 'u');
SELECT quota.quota_charge('m', 85, 0, 'old-1', user_id => 'u') IS NOT NULL;
});
is($node->safe_psql('old', q{SELECT count(*) FROM quota.alerts}), '1',
	'0.1: the alert is written to the table quota.alerts');
$node->safe_psql('old', q{
ALTER EXTENSION quota UPDATE TO '0.2';
SELECT quota.quota_reset('Old');
SELECT quota.quota_charge('m', 85, 0, 'old-2', user_id => 'u') IS NOT NULL;
});
is($node->safe_psql('old', q{
SELECT string_agg(request_id, ', ' ORDER BY alert_id) FROM quota.alerts}), 'old-1, old-2',
	'after the update, old and new alerts are read through the view');

$node->stop;
done_testing();
