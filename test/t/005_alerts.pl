# Usage warnings as a listener sees them: NOTIFY quota_alert with a JSON
# payload, exactly one per threshold per period, first from one session and
# then under 16 concurrent pgbench clients charging one pool until it is
# empty.
use strict;
use warnings;
use IPC::Run;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('alerts');

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;
SELECT quota_set_model('m', 1000000, 0);          -- 1 credit per input token
SELECT quota_set_user('u' || i, '{student}') FROM generate_series(1, 16) i;
SELECT quota_create_pool('Lab', 1000);
SELECT quota_grant_group('Lab', 'student');
CREATE SEQUENCE rid;
-- one charge of 1 to 9 credits; a refusal (the pool is empty) counts 0
CREATE FUNCTION try_charge(client int, tokens int) RETURNS int
LANGUAGE plpgsql SET search_path = public, quota AS $$
BEGIN
    PERFORM quota_charge('m', tokens, 0, 'r' || nextval('rid'),
                         user_id => 'u' || (client % 16 + 1));
    RETURN 1;
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    RETURN 0;
END
$$;
});

# The notifications in psql's output, as [payload] lists.
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

# One session listens and charges: its own notifications come back to it.
my $out = $node->safe_psql('postgres', q{
LISTEN quota_alert;
SELECT quota.quota_charge('m', 700, 0, 's1', user_id => 'u1') IS NOT NULL;
SELECT quota.quota_charge('m', 100, 0, 's2', user_id => 'u1') IS NOT NULL;
SELECT quota.quota_charge('m', 100, 0, 's3', user_id => 'u1') IS NOT NULL;
SELECT quota.quota_charge('m', 60, 0, 's4', user_id => 'u1') IS NOT NULL;
SELECT quota.quota_charge('m', 10, 0, 's5', user_id => 'u1') IS NOT NULL;
SELECT quota.quota_charge('m', 10, 0, 's5', user_id => 'u1') IS NOT NULL;
});
my @p = payloads($out);
is(scalar @p, 2, 'one notification per threshold');
like($p[0], qr/^\{"pool" : "Lab", "threshold" : 0\.8, "used" : 800, "allowance" : 1000, "at" : "[-0-9T:.+]+"\}$/,
     'the 80 % payload');
like($p[1], qr/"threshold" : 0\.95, "used" : 960,/, 'the 95 % payload');

# A new period; 16 clients charge 1 to 9 credits until the pool is empty
# while a separate session listens.
$node->safe_psql('postgres', q{SELECT quota.quota_reset('Lab')});
my ($in, $lout, $lerr) = ("LISTEN quota_alert;\n", '', '');
my $listener = IPC::Run::start(
    [ 'psql', '-X', '-q', '-d', $node->connstr('postgres') ],
    '<', \$in, '>', \$lout, '2>', \$lerr);
$listener->pump while length $in;

pgbench_burst($node, "\\set tokens random(1, 9)\nSELECT try_charge(:client_id, :tokens);\n",
	16, 150, 'pgbench: 16 clients x 150 charges');

# a query makes psql print what arrived meanwhile
$in .= "SELECT 'done';\n\\q\n";
$listener->finish;
@p = payloads($lout);
is(scalar @p, 2, 'exactly two notifications under concurrent charges');
like($p[0], qr/"threshold" : 0\.8,/, 'the first is the 80 % warning');
like($p[1], qr/"threshold" : 0\.95,/, 'the second is the 95 % warning');

my $q = sub { $node->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
is($q->(q{SELECT count(*) FROM alerts a JOIN pool_defs d USING (pool)
          WHERE a.period_start = d.period_start}), '2', 'two alert rows in this period');
is($q->(q{SELECT bool_and(used >= allowance * threshold) FROM alerts}), 't',
   'each was written when its threshold had been reached');
is($q->(q{SELECT balance < 10 FROM pools WHERE pool = 'Lab'}), 't', 'the pool ran dry');
is($q->(q{SELECT count(*) FROM alerts}), '4', 'four alerts over both periods');
$node->stop;
done_testing();
