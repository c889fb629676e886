# pg_dump of a database using quota, restored into an empty database, gives
# identical balances, ledger and configuration (caps included); balances
# survive a restart (rebuilt from the ledger) and a retried request is not
# billed again after the restore.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('dump');

$node->safe_psql('postgres', 'CREATE DATABASE univ');
$node->safe_psql('univ', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
}
    . university_sql()
    . q{SELECT quota.quota_set_rate_limit('Students Pool', 20, 100000);
SELECT quota.quota_set_cap('Students Pool', 'day', 5);
SELECT quota.quota_set_cap('Students Pool', 'month', 50, 'pool');
SELECT quota.quota_set_model('gpt-test', 5, 20, request_price => 0.001);
SELECT quota.quota_charge('gpt-test', 1000, 100, 'price-2', user_id => 'ann');});

my $balances = q{SELECT string_agg(format('%s=%s/%s', pool, balance, allowance), ', '
                                   ORDER BY pool) FROM quota.pools};
my $ledger = q{SELECT count(*) || ':' || md5(string_agg(l::text, '|' ORDER BY entry_id))
               FROM quota.ledger l};
my $rest = q{SELECT (SELECT md5(string_agg(r::text, '|' ORDER BY request_id)) FROM quota.reservations r)
             || (SELECT md5(string_agg(s.user_id || s.active_pool, '|' ORDER BY user_id)) FROM quota.user_state s)
             || (SELECT md5(string_agg(d::text, '|' ORDER BY discount_id)) FROM quota.discounts d)
             || (SELECT string_agg(format('%s/%s=%s,%s', pool, scope, requests_per_minute, tokens_per_minute), '|')
                   FROM quota.rate_limits)
             || (SELECT count(*) || md5(string_agg(c::text, '|' ORDER BY per, scope)) FROM quota.pool_caps c)
             || (SELECT count(*) || md5(string_agg(p::text, '|' ORDER BY price_id)) FROM quota.model_prices p)
             || (SELECT md5(string_agg(m.model || ':' || m.price_id, '|' ORDER BY model)) FROM quota.models m)
             || (SELECT md5(string_agg(concat_ws(',', c.charge_id, c.input_price, c.cached_input_price,
                                                 c.output_price, c.request_price), '|' ORDER BY charge_id))
                   FROM quota.charges c)};
my $held = q{SELECT string_agg(format('%s=%s', pool, held), ', ' ORDER BY pool) FROM quota.pool_status};

my %before = map { $_ => $node->safe_psql('univ', $_) } ($balances, $ledger, $rest, $held);
like($before{$balances}, qr/Students Pool=/, 'source has balances');

my $dump = $node->basedir . '/univ.sql';
$node->command_ok([ 'pg_dump', '--no-sync', '-d', $node->connstr('univ'), '-f', $dump ],
    'pg_dump of a quota database');
$node->safe_psql('postgres', 'CREATE DATABASE univ2');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('univ2'),
        '-f', $dump ], 'restore into an empty database');

for my $q ($balances, $ledger, $rest, $held) {
    is($node->safe_psql('univ2', $q), $before{$q}, "restored: $q");
}

# the restored database continues: a retried request returns its first charge
$node->safe_psql('univ2', q{SELECT quota.quota_charge('gpt-test', 1000, 200, 'r1', 'c1', user_id => 'ben')});
is($node->safe_psql('univ2', q{SELECT count(*) FROM quota.ledger WHERE request_id = 'r1'}),
   '1', 'retry after restore is not billed again');
# new entries continue the sequence
is($node->safe_psql('univ2', q{SELECT (quota.quota_charge('gpt-test', 1, 1, 'new-1', user_id => 'ann')).charge_id
                                      > (SELECT max(entry_id) FROM quota.ledger WHERE request_id <> 'new-1')}),
   't', 'entry ids continue after restore');
# and a charge after the restore names the model's restored prices
is($node->safe_psql('univ2', q{SELECT format('%s/%s/%s %s', c.input_price, c.output_price, c.request_price,
                                             (SELECT count(*) FROM quota.model_prices))
                                 FROM quota.charges c WHERE c.request_id = 'new-1'}),
   '5/20/0.001 ' . $node->safe_psql('univ', q{SELECT count(*) FROM quota.model_prices}),
   'a charge after restore bills the restored prices and adds no row of prices');

# a restart loses shared memory; balances are rebuilt from the ledger
my $after_charge = $node->safe_psql('univ2', $balances);
$node->restart;
is($node->safe_psql('univ2', $balances), $after_charge, 'balances rebuilt after restart');
is($node->safe_psql('univ', $balances), $before{$balances}, 'source balances rebuilt after restart');
is($node->safe_psql('univ2', q{SET search_path = public, quota; SELECT bool_and((quota._pool_money(pool)).balance
       = (SELECT coalesce(quota.sum(amount), '0') FROM quota.ledger l WHERE l.pool = d.pool))
       FROM quota.pool_defs d}), 't', 'balance = sum(ledger) for every pool');

$node->stop;
done_testing();
