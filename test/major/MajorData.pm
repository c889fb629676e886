# MajorData: what the major-upgrade tests (test/major) compare and check
# on the university of test/major/source.sql, before and after it moves to
# a newer PostgreSQL major.  Each function takes $psql, a sub that runs SQL
# in the database univ of one server and returns its output.
#
#   my $before = quota_snapshot($old_psql);     # every table and view, as text
#   compare_snapshots($new_psql, $before);      # one test per table and view
#   check_continues($new_psql, $first_a1);      # retry, settlement, new charges
package MajorData;

use strict;
use warnings;
use Exporter 'import';
use Test::More;

our @EXPORT = qw(quota_snapshot compare_snapshots check_continues);

# what users see, as text
my %view_sql = (
	balances => q{SELECT string_agg(format('%s=%s/%s held %s available %s used %s',
	                  pool, balance, allowance, held, available, used), ', ' ORDER BY pool COLLATE "C")
	                FROM quota.pool_status},
	charges => q{SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY charge_id))
	               FROM quota.charges c},
	usage => q{SELECT md5(string_agg(u::text, '|' ORDER BY u::text COLLATE "C")) FROM quota.usage_daily u},
	members => q{SELECT md5(string_agg(m::text, '|' ORDER BY m::text COLLATE "C")) FROM quota.member_usage m},
	limits => q{SELECT md5(string_agg(l::text, '|' ORDER BY l::text COLLATE "C")) FROM quota.pool_limits l},
	alerts => q{SELECT count(*) || ':' || md5(string_agg(a::text, '|' ORDER BY a::text COLLATE "C"))
	              FROM quota.alerts a},
	version => q{SELECT extversion FROM pg_extension WHERE extname = 'quota'},
);

# Every table of schema quota row by row, and the views, as text (a hash).
sub quota_snapshot
{
	my ($psql) = @_;
	my %snap;
	my @tables = split /\n/, $psql->(q{
	    SELECT c.relname FROM pg_class c
	     WHERE c.relnamespace = 'quota'::regnamespace AND c.relkind IN ('r', 'p')
	     ORDER BY c.relname COLLATE "C"});
	for my $t (@tables)
	{
		$snap{"table $t"} = $psql->("SELECT count(*) || ':'
		    || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text COLLATE \"C\")), '')
		    FROM quota.$t t");
	}
	$snap{"view $_"} = $psql->($view_sql{$_}) for keys %view_sql;
	return \%snap;
}

# One test per table and view: the same text on the new server; and the
# source held what the tests need.
sub compare_snapshots
{
	my ($psql, $before) = @_;
	my @tables = grep { /^table / } keys %$before;
	cmp_ok(scalar @tables, '>=', 15, 'the source has quota\'s tables');
	like($before->{'view balances'}, qr/Students Pool=[^,]* held (?!0 )/, 'the source has a held reservation');
	like($before->{'table ledger'}, qr/^[0-9]{4,}:/, 'the source has thousands of ledger entries');
	unlike($before->{'table pool_seals'}, qr/^0:/, 'the source has seals');
	unlike($before->{'table usage_rollup'}, qr/^0:/, 'the source has usage rollups');
	unlike($before->{'table alert_log'}, qr/^0:/, 'the source has alerts');
	like($before->{'table model_prices'}, qr/^[4-9]:/, 'the source has price history');
	my $after = quota_snapshot($psql);
	is($after->{$_}, $before->{$_}, "$_ identical") for sort keys %$before;
	return;
}

# The data keeps working: every balance equals its ledger, a retried request
# (a1, first billed as $first_a1: "charge_id/final_cost") is not billed
# again, the held reservation settles, new charges and reservations work,
# and a restart ($restart, a sub) rebuilds every balance.
sub check_continues
{
	my ($psql, $first_a1, $restart) = @_;
	my $consistent = q{SELECT bool_and(ok) FROM quota.quota_verify()};
	is($psql->($consistent), 't', 'every balance equals its ledger (quota_verify)');
	is($psql->(q{SELECT bool_and((quota._pool_money(pool)).balance
	       = (SELECT coalesce(quota.sum(amount), '0') FROM quota.ledger l WHERE l.pool = d.pool)
	       AND (quota._pool_money(pool)).held
	       = (SELECT coalesce(quota.sum(held), '0') FROM quota.reservations r WHERE r.pool = d.pool))
	       FROM quota.pool_defs d}), 't', 'balances and holds equal the ledger and reservations');

	my $balance = q{SELECT balance FROM quota.pools WHERE pool = 'Students Pool'};
	my $b0 = $psql->($balance);
	is($psql->(q{SELECT charge_id || '/' || final_cost
		FROM quota.quota_charge('gpt-test', 1001, 101, 'a1', 'conv1', cached_input_tokens => 1,
		                        user_id => 'u2')}),
		$first_a1, 'a retried request returns its first charge');
	is($psql->($balance), $b0, 'and is not billed again');
	is($psql->(q{SELECT count(*) FROM quota.ledger WHERE request_id = 'a1'}), '1',
		'one ledger entry for the retried request');

	is($psql->(q{SELECT pool || ' ' || (final_cost > 0)
		FROM quota.quota_charge('gpt-test', 15000, 3000, 'held-1', user_id => 'u3')}),
		'Students Pool true', 'the reservation held before the move settles');
	is($psql->(q{SELECT outcome FROM quota.reservations WHERE request_id = 'held-1'}),
		'charged', 'it is settled');
	is($psql->(q{SELECT held FROM quota.pool_status WHERE pool = 'Students Pool'}), '0',
		'its hold (the pool\'s only one) is freed');

	is($psql->(q{SELECT pool FROM quota.quota_charge('gpt-test', 100, 10, 'new-1', user_id => 'u7')}),
		'Students Pool', 'a new charge on the Students Pool');
	is($psql->(q{SELECT pool FROM quota.quota_charge('gpt-test', 100, 10, 'new-2', user_id => 'u5',
		pool => 'personal:u5')}), 'personal:u5', 'a new charge on a personal pool');
	is($psql->(q{SELECT pool FROM quota.quota_charge('gpt-big', 100, 10, 'new-3', user_id => 'u5')}),
		'Physics', 'the switch to Physics came through');
	is($psql->(q{SELECT pool FROM quota.quota_reserve('gpt-test', 100, 10, 'new-4', user_id => 'u8')}),
		'Students Pool', 'a new reservation');
	is($psql->(q{SELECT count(*) FROM quota.ledger WHERE request_id LIKE 'new-%'}), '3',
		'three new entries');
	is($psql->($consistent), 't', 'every balance still equals its ledger');

	my $after = $psql->($view_sql{balances});
	$restart->();
	is($psql->($view_sql{balances}), $after, 'balances and holds rebuilt after a restart');
	is($psql->($consistent), 't', 'and equal to the ledger');
	return;
}

1;
