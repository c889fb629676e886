# The README's gateway flow, run by its client (test/gateway/gateway.py,
# Python with psycopg2) against a stub model: concurrent users reserve,
# stream, are cancelled mid-stream, time out, lose replies, crash before
# settling (and settle from their journal after the hold expired), and the
# Students Pool runs dry (refused at reserve, then served by the free model).
# Half the students are new: their concurrent first requests register them.
# Every served token is billed exactly once, preloaded and in locked mode.
use strict;
use warnings;
use FindBin;
use JSON::PP;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $client = "$FindBin::RealBin/../gateway/gateway.py";
$client = 'test/gateway/gateway.py' unless -f $client;

for my $preload (1, 0)
{
	my $mode = $preload ? 'preloaded' : 'locked mode';
	my $node = quota_node("gateway_$preload", preload => $preload,
		conf => "max_connections = 40\n");
	my ($out, $err);
	my $ok = IPC::Run::run([ '/usr/bin/python3', $client, '--test',
			$node->connstr('postgres') ], '>', \$out, '2>', \$err);
	# on the console when the client failed: its traceback names the error
	if ($ok) { note $err if $err; } else { diag $err if $err; }
	ok($ok, "$mode: the gateway client ran");
	my ($last) = (split /\n/, $out)[-1];
	my $s = eval { decode_json($last // '') } // {};
	note "$mode: $last";

	is($s->{'client errors'}, 0, "$mode: no gateway worker failed");
	ok($s->{'billed exactly once'}, "$mode: every served request billed exactly once");
	is($s->{'tokens billed'}, $s->{'tokens served'}, "$mode: tokens billed = tokens served ($s->{'tokens served'})");
	is($s->{'requests billed'}, $s->{served}, "$mode: requests billed = requests served");
	ok($s->{'ledger consistent'}, "$mode: every balance equals its ledger");
	is($s->{held}, '0', "$mode: no hold left");
	cmp_ok($s->{'refused QU001'}, '>', 0, "$mode: the pool ran dry: refused at reserve");
	is($s->{'free model'}, $s->{'refused QU001'}, "$mode: each refused request served by the free model");
	cmp_ok($s->{'cancelled streams'}, '>', 0, "$mode: cancelled streams billed for what was streamed");
	cmp_ok($s->{retries}, '>', 0, "$mode: settlements retried after timeouts and lost replies");
	cmp_ok($s->{'crashed before settling'}, '>', 0, "$mode: crashes before settling, settled on recovery");
	is($s->{'holds expired before settling'}, $s->{'crashed before settling'},
		"$mode: every crashed request's hold expired before recovery");
	is($s->{'users registered'}, 24, "$mode: every student registered once, $s->{'users auto-registered'} by their first requests");
	$node->stop;
}
done_testing();
