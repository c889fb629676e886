# Promotion under load after the standby served reads (SPEC rule 10), with
# an asynchronous and with a synchronous standby.  The standby reads pool_status, my_pools and quota_check while
# four clients charge on the primary, each request with its own
# request_id; the primary is then killed (immediate stop) mid-load and the
# standby promoted.  On the new primary: every acknowledged charge is in
# the ledger exactly once (with the synchronous standby; the asynchronous
# one may lose the last acknowledged charges, counted and never billed
# twice), every request in doubt (sent, no answer) is
# retried once and then billed exactly once, balance = ledger and
# available = balance - holds for every pool, and the switch and group
# change made before the failover are honoured, as are new ones; a pool
# that the standby read cannot be overspent.
use strict;
use warnings;
use IPC::Run;
use POSIX ();
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

# One failover; $sync: the standby is synchronous.
sub failover
{
	my ($name, $sync) = @_;
	my ($primary, $standby) = quota_pair($name, sync => $sync, conf => "max_connections = 40\n");

	my $p = sub { $primary->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };
	my $s = sub { $standby->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };

	$p->(q{
	SET client_min_messages = warning;
	CREATE EXTENSION quota;
	SELECT quota_set_model('m', 0, 1);
	SELECT quota_create_pool('Chemistry', 20);
	SELECT quota_create_pool('Physics', 1000);
	SELECT quota_create_pool('Students Pool', 100);
	SELECT quota_create_pool('Load', 100000);
	SELECT quota_set_user('u' || i, '{chem,phys,student}') FROM generate_series(1, 3) i;
	SELECT quota_set_user('l' || i, '{load}') FROM generate_series(1, 4) i;
	SELECT quota_grant_group('Chemistry', 'chem');
	SELECT quota_grant_group('Physics', 'phys');
	SELECT quota_grant_group('Students Pool', 'student');
	SELECT quota_grant_group('Load', 'load');
	});

	# The dashboards read everything on the standby first.
	my $reads = q{
	SELECT count(*) FROM quota.pool_status;
	SELECT c.allowed FROM generate_series(1, 3) i, quota_check('m', 'u' || i) c;
	SELECT c.allowed FROM generate_series(1, 4) i, quota_check('m', 'l' || i) c;
	SELECT quota_active_pool('u' || i) FROM generate_series(1, 3) i;
	SET quota.user_id = 'u1';
	SELECT count(*) FROM quota.my_pools;
	};
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	$s->($reads);

	# Before the failover: u2 switches to Students Pool, u3 leaves chem, and
	# Chemistry is spent down to 5 (all of it synchronously replicated).
	$p->(q{
	SELECT quota_switch('Students Pool', 'u2');
	SELECT quota_set_user('u3', '{phys,student}');
	SELECT quota_charge('m', 0, 15000000, 'chem-1', user_id => 'u1');
	});
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	$s->($reads);

	# Four clients charge l1..l4 on Load, one psql per request, recording
	# each request before it is sent and each answer after it arrives.
	my $dir = $primary->basedir;
	my $connstr = $primary->connstr('postgres');
	my @pids;
	for my $c (1 .. 4)
	{
		my $pid = fork();
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			open(my $log, '>', "$dir/client$c.log") or die;
			$log->autoflush(1);
			for my $i (1 .. 100000)
			{
				my $rid = "c$c-$i";
				print $log "sent $rid\n";
				my $ok = IPC::Run::run(
					[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c',
					  "SELECT charge_id FROM quota.quota_charge('m', 0, 1000000, '$rid', user_id => 'l$c')" ],
					'>', \my $o, '2>', \my $e);
				last unless $ok;
				print $log "ack $rid\n";
			}
			# not exit: the parent's END blocks (node teardown) must not run here
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}

	# The standby keeps reading during the load.
	for my $round (1 .. 10)
	{
		$s->($reads);
	}
	$primary->poll_query_until('postgres',
		q{SELECT count(*) >= 80 FROM quota.ledger WHERE pool = 'Load' AND kind = 'charge'})
	  or die 'no load';
	$s->($reads);

	# The primary dies mid-load; the standby is promoted.
	$primary->stop('immediate');
	waitpid($_, 0) for @pids;
	$standby->promote;
	$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
	  or die 'no promotion';
	my $n = sub { $standby->safe_psql('postgres', "SET search_path = public, quota; $_[0]") };

	# What the clients saw.
	my (%acked, %doubt);
	for my $c (1 .. 4)
	{
		open(my $log, '<', "$dir/client$c.log") or die;
		my %sent;
		while (<$log>)
		{
			$sent{$1} = 1 if /^sent (\S+)/;
			if (/^ack (\S+)/) { $acked{$1} = 1; delete $sent{$1}; }
		}
		$doubt{$_} = 1 for keys %sent;
	}
	# the requests in doubt are retried once, on the new primary
	for my $rid (sort keys %doubt)
	{
		my ($c) = $rid =~ /^c(\d+)-/;
		$n->("SELECT quota_charge('m', 0, 1000000, '$rid', user_id => 'l$c')");
	}
	my %count = map { split /\|/ } split /\n/, $n->(q{
	SELECT request_id || '|' || count(*) FROM quota.ledger
	 WHERE kind = 'charge' AND request_id ~ '^c[0-9]+-' GROUP BY request_id});
	my $lost = grep { !$count{$_} } keys %acked;
	my $dup = grep { $count{$_} > 1 } keys %count;
	my $doubt_billed = grep { ($count{$_} // 0) == 1 } keys %doubt;
	my $unknown = grep { !$acked{$_} && !$doubt{$_} } keys %count;
	diag(sprintf('failover figures (%s standby): acknowledged %d, in doubt %d, retried %d, lost %d, duplicated %d',
		$sync ? 'synchronous' : 'asynchronous',
		scalar(keys %acked), scalar(keys %doubt), scalar(keys %doubt), $lost, $dup));
	ok(scalar(keys %acked) >= 80, 'the clients were acknowledged charges before the failover');
	is($lost, 0, 'no acknowledged charge was lost (synchronous standby)') if $sync;
	is($dup, 0, 'no request was billed twice');
	is($doubt_billed, scalar(keys %doubt), 'every request in doubt is billed once after its retry');
	is($unknown, 0, 'nothing was billed that no client sent');

	my $inv = q{
	SELECT bool_and(m.balance = (SELECT coalesce(sum(l.amount), '0') FROM quota.ledger l WHERE l.pool = d.pool)
	            AND m.held = (SELECT coalesce(sum(r.held), '0') FROM quota.reservations r
	                           WHERE r.pool = d.pool AND r.settled_at IS NULL)
	            AND m.available = m.balance - m.held)
	  FROM quota.pool_defs d, LATERAL quota._pool_money(d.pool) m;
	};
	is($n->($inv), 't', 'new primary: balance = ledger, available = balance - holds for every pool');
	is($n->(q{SELECT (quota._pool_money('Load')).balance = 100000 - (SELECT count(*) FROM quota.ledger WHERE pool = 'Load' AND kind = 'charge')}),
		't', 'new primary: the Load pool lost exactly its charges');

	# routing as changed before the failover
	is($n->(q{SELECT pool FROM quota_charge('m', 0, 1000, 'after-u2', user_id => 'u2')}),
		'Students Pool', 'the switch before the failover is honoured');
	is($n->(q{SELECT pool FROM quota_charge('m', 0, 1000, 'after-u3', user_id => 'u3')}),
		'Physics', 'the group change before the failover is honoured');
	my ($ret, $out, $err) = $standby->psql('postgres',
		q{SELECT quota.quota_charge('m', 0, 1000, 'after-u3b', user_id => 'u3', pool => 'Chemistry')});
	like($err, qr/cannot use pool "Chemistry"/, 'u3 cannot charge Chemistry any more');

	# Chemistry, read on the standby at 20 and then spent to 5, admits 5 and no more
	is($n->(q{SELECT available FROM quota_check('m', 'u1')}), '5', 'Chemistry: 5 available');
	($ret, $out, $err) = $standby->psql('postgres',
		q{SELECT quota.quota_charge('m', 0, 6000000, 'chem-2', user_id => 'u1')});
	like($err, qr/QU001|insufficient quota/, 'Chemistry: a charge beyond its balance is refused');
	$n->(q{SELECT quota_charge('m', 0, 5000000, 'chem-3', user_id => 'u1')});
	is($n->(q{SELECT balance FROM quota.pool_status WHERE pool = 'Chemistry'}), '0',
		'Chemistry: spent to exactly 0');

	# new switches and group changes on the new primary are honoured at once
	$n->(q{SELECT quota_switch('Physics', 'u2')});
	is($n->(q{SELECT pool FROM quota_charge('m', 0, 1000, 'after-u2b', user_id => 'u2')}),
		'Physics', 'a switch on the new primary is honoured');
	$n->(q{SELECT quota_set_user('u1', '{student}')});
	is($n->(q{SELECT pool FROM quota_charge('m', 0, 1000, 'after-u1', user_id => 'u1')}),
		'Students Pool', 'a group change on the new primary is honoured');
	is($n->($inv), 't', 'new primary: still balance = ledger and available = balance - holds');

	$standby->stop;
	return;
}

failover('fa', 0);
failover('fs', 1);

done_testing();
