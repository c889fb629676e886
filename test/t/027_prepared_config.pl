# A configuration change made in a prepared transaction takes effect at
# COMMIT PREPARED, for a backend that charged (and so cached the old
# configuration) while the change was prepared: a rate limit, a cap, a
# member removed, a model's price, a switch of the active pool (a route);
# also when the COMMIT PREPARED comes from another session after a
# restart; and a ROLLBACK PREPARED change never takes effect
# (invalidation.c).
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('prepared', conf => "max_prepared_transactions = 4\n");
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_set_user(u) FROM unnest(ARRAY['u1', 'u2']) u;
SELECT quota.quota_create_pool(p, 1000) FROM unnest(ARRAY['p', 'q', 'r', 's']) p;
SELECT quota.quota_add_member(p, u) FROM unnest(ARRAY['p', 'q', 'r', 's']) p,
                                         unnest(ARRAY['u1', 'u2']) u;
});

# session A stays connected throughout: its caches are what is tested
my $a = $node->background_psql('postgres', on_error_stop => 0);
my $n = 0;
# a charge by A: 'ok <final cost>' or the error's SQLSTATE
my $charge = sub {
	my ($user, $pool, $out) = @_;
	$n++;
	$a->{stderr} = '';
	my $r = $a->query(qq{\\set VERBOSITY sqlstate
SELECT 'ok ' || final_cost FROM quota.quota_charge('m', 0, $out, 'a-$n', user_id => '$user', pool => '$pool');});
	return $r =~ /^ok (\S+)/ ? "ok $1" : ($a->{stderr} =~ /ERROR:\s+(\w{5})/ ? $1 : "?$r");
};
$charge->('u1', 'p', 1);

# a rate limit of 2 a minute, prepared while A charges, committed by another session
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_set_rate_limit('p', 2); PREPARE TRANSACTION 'rl';});
is($charge->('u1', 'p', 1), 'ok 0.000001', 'rate limit: prepared, not yet in force');
$node->safe_psql('postgres', q{COMMIT PREPARED 'rl'});
is(join(' ', map { $charge->('u1', 'p', 1) } 1 .. 3), 'ok 0.000001 ok 0.000001 QU006',
	'rate limit: in force for that backend at COMMIT PREPARED (the third of the minute refused)');

# a daily cap of 5
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_set_cap('q', 'day', 5); PREPARE TRANSACTION 'cap';});
is($charge->('u2', 'q', 1000000), 'ok 1', 'cap: prepared, not yet in force');
$node->safe_psql('postgres', q{COMMIT PREPARED 'cap'});
is(join(' ', map { $charge->('u2', 'q', 3000000) } 1 .. 2), 'ok 3 QU001',
	'cap: in force at COMMIT PREPARED (1 + 3 fit in 5, 3 more do not)');

# a member removed
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_remove_member('r', 'u1'); PREPARE TRANSACTION 'member';});
is($charge->('u1', 'r', 1), 'ok 0.000001', 'member: prepared, still a member');
$node->safe_psql('postgres', q{COMMIT PREPARED 'member'});
is($charge->('u1', 'r', 1), 'QU003', 'member: removed at COMMIT PREPARED');

# a model's price
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_set_model('m', 0, 2); PREPARE TRANSACTION 'price';});
is($charge->('u2', 's', 1000000), 'ok 1', 'price: prepared, the old price bills');
$node->safe_psql('postgres', q{COMMIT PREPARED 'price'});
is($charge->('u2', 's', 1000000), 'ok 2', 'price: the new price bills from COMMIT PREPARED');

# a route: the pool a user's charges go to without a pool argument
my $active = sub {
	my ($user) = @_;
	$n++;
	return $a->query(qq{SELECT pool FROM quota.quota_charge('m', 0, 0, 'a-$n', user_id => '$user');});
};
$node->safe_psql('postgres', q{SELECT quota.quota_switch('q', 'u2')});
is($active->('u2'), 'q', 'route: the active pool is the one switched to');
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_switch('r', 'u2'); PREPARE TRANSACTION 'route';});
is($active->('u2'), 'q', 'route: a prepared switch is not yet in force');
$node->safe_psql('postgres', q{COMMIT PREPARED 'route'});
is($active->('u2'), 'r', 'route: the switch is in force at COMMIT PREPARED');

# a rolled-back change never takes effect
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_set_rate_limit('s', 1); PREPARE TRANSACTION 'rb';});
$charge->('u1', 's', 1);
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'rb'});
is(join(' ', map { $charge->('u1', 's', 1) } 1 .. 3), 'ok 0.000002 ok 0.000002 ok 0.000002',
	'ROLLBACK PREPARED: the limit never applies');
$a->quit;

# prepared before a restart, committed by another session after it
$node->safe_psql('postgres', q{BEGIN; SELECT quota.quota_set_rate_limit('s', 1); PREPARE TRANSACTION 'restart';});
$node->restart;
$a = $node->background_psql('postgres', on_error_stop => 0);
is($charge->('u1', 's', 1), 'ok 0.000002', 'after a restart, still prepared: not in force');
$node->safe_psql('postgres', q{COMMIT PREPARED 'restart'});
is(join(' ', map { $charge->('u1', 's', 1) } 1 .. 2), 'ok 0.000002 QU006',
	'committed by another session after the restart: in force');
$a->quit;

is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM quota.quota_verify()}), 't',
	'every balance equals its ledger');
$node->stop;
done_testing();
