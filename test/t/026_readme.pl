# Every SQL example of the README runs as written, in the README's order, in
# one psql session, on a cluster set up as its Install section says
# (pg_cron and quota preloaded, cron.database_name = 'university'): each
# ```sql block (also those indented in lists) and each statement quoted
# inline in the text.  The README cannot drift from what quota does.
#
# What the harness adds, and why: the login roles the Install section grants
# to (alice, gateway, s1234567) exist; the directory-sync example reads a
# staging table, which the harness fills first; the archive recipe runs as
# alice (a quota_admin), as the README says; the troubleshooting answer for
# a job left behind by 0.1 (cron.unschedule) is not run, as no job is left
# behind.  The tour's results shown in comments are checked.
use strict;
use warnings;
use FindBin;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme_path = -f 'README.md' ? 'README.md' : "$FindBin::RealBin/../../README.md";
open(my $fh, '<', $readme_path) or die "README.md: $!";
my $readme = do { local $/; <$fh> };
close($fh);

# the examples, in order: [position, text]
my @examples;
while ($readme =~ /^( *)```sql\n(.*?)^\1```/msg)
{
	my ($indent, $body, $pos) = ($1, $2, $-[0]);
	$body =~ s/^$indent//mg;
	push @examples, [ $pos, $body ];
}
while ($readme =~ /`((?:SELECT|ALTER|CREATE|DROP|REINDEX|VACUUM|GRANT|REVOKE|UPDATE|TRUNCATE)\b[^`]*;)`/g)
{
	my ($sql, $pos) = ($1, $-[0]);
	$sql =~ s/\s*\n\s*/ /g;
	push @examples, [ $pos, "$sql\n" ];
}
@examples = sort { $a->[0] <=> $b->[0] } @examples;
cmp_ok(scalar @examples, '>=', 15, scalar(@examples) . ' SQL examples in the README');

my $script = "\\set ON_ERROR_STOP 1\n"
  . "CREATE ROLE alice LOGIN; CREATE ROLE gateway LOGIN; CREATE ROLE s1234567 LOGIN;\n";
my $n = 0;
for my $ex (@examples)
{
	my $sql = $ex->[1];
	$n++;
	if ($sql =~ /cron\.unschedule\('quota-maintenance'\)/)
	{
		note "example $n not run: only for a job 0.1 left behind";
		next;
	}
	$script .= "CREATE TEMP TABLE staging AS SELECT 'dir' || i AS user_id,"
	  . " '{student}'::text[] AS groups FROM generate_series(1, 3) i;\n"
	  if $sql =~ /FROM staging/;
	$script .= "SET ROLE alice;\n" if $sql =~ /quota_archive\(/;
	$script .= "\\echo ==== example $n\n$sql";
	$script .= "RESET ROLE;\n" if $sql =~ /quota_archive\(/;
}

my $node = quota_node('readme', cron => 1,
	conf => "cron.database_name = 'university'\n");
my ($out, $err);
my $ok = IPC::Run::run([ 'psql', '-X', '-d', $node->connstr('postgres') ],
	'<', \$script, '>', \$out, '2>', \$err, init => sub { chdir $node->basedir });
note $out;
ok($ok, 'every SQL example of the README runs, in order') or diag $err;
unlike($err, qr/ERROR/, 'no example raised an error');

# the tour's results, as its comments show them
like($out, qr/req-0001\s*\|\s*Students Pool\s*\|\s*0\.00896/, 'the tour\'s reservation holds 0.00896');
like($out, qr/^\s*3\s*\|\s*Students Pool\s*\|\s*0\.0096\s*\|\s*0\.8\s*\|\s*0\.00768\s*\|\s*4\.99232/m,
	'the tour\'s settlement row is as shown');
like($out, qr/^\s*COMP3001\s*\|\s*0\.00896\s*$/m, 'the tour\'s course charge draws the course pool');
like($out, qr/^\s*COMP3001\s*\|\s*500\s*\|\s*499\.99104\s*\|\s*live\s*$/m, 'the tour\'s grant has what the charge left');
like($out, qr/^\s*Students Pool\s*\|\s*0\.00896\s*$/m, 'the tour\'s next charge falls back to the Students Pool');
# and the removal left nothing
is($node->safe_psql('university', q{SELECT count(*) FROM pg_namespace WHERE nspname = 'quota'}), '0',
	'the removal dropped schema quota');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname LIKE 'quota\_%'}), '0',
	'and quota\'s roles');
$node->stop;
done_testing();
