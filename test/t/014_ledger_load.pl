# Rows enter quota.ledger through quota's functions only (issue 14, item 10),
# or by the load of a restore: with row_security off (as pg_dump's scripts and
# pg_restore run), into an empty ledger.  A load is booked into the shared
# balances at once, also for a pool whose balance this server already knows,
# so balance = sum of the ledger before and after a restart; any later direct
# INSERT is refused (42501), by a superuser too.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = quota_node('load');
$node->safe_psql('postgres', 'CREATE DATABASE univ');
$node->safe_psql('univ', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 0, 1000000, 'api');
SELECT quota.quota_set_user('ann');
});

my $money = q{SELECT (quota._pool_money('P')).balance || ' ' ||
                     coalesce((SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'P'), '0')};

# the pool's configuration comes first (as in a restore); its balance is 0
# and this server's shared memory now knows it
$node->safe_psql('univ', q{
SET row_security = off;
INSERT INTO quota.pool_defs (pool_id, pool, kind, allowance)
    OVERRIDING SYSTEM VALUE VALUES (7, 'P', 'shared', 100);
INSERT INTO quota.pool_members (pool, user_id) VALUES ('P', 'ann');
});
is($node->safe_psql('univ', $money), '0 0', 'a pool without ledger rows has balance 0');

# without row_security off, an empty ledger is not loaded either
my ($rc, $out, $err) = $node->psql('univ',
    q{INSERT INTO quota.ledger (pool, kind, amount) VALUES ('P', 'grant', 100)});
like($err, qr/permission denied: insert of "ledger" is not allowed/,
     'a direct INSERT with row_security on is refused, even into an empty ledger');

# the load: one transaction, row_security off, into the empty ledger
$node->safe_psql('univ', q{
SET row_security = off;
COPY quota.ledger (entry_id, pool, kind, amount, user_id, request_id) FROM stdin;
1	P	grant	100	\N	\N
2	P	charge	-30	ann	r1
3	P	topup	5.5	\N	\N
\.
SELECT pg_catalog.setval('quota.ledger_entry_id_seq', 3, true);
});
is($node->safe_psql('univ', $money), '75.5 75.5', 'the load is booked into the balance');
is($node->safe_psql('univ', q{SELECT balance FROM quota.pool_status WHERE pool = 'P'}),
   '75.5', 'pool_status shows it');

# the ledger is no longer empty: no second load, for a superuser neither
($rc, $out, $err) = $node->psql('univ', q{SET row_security = off;
    COPY quota.ledger (pool, kind, amount) FROM stdin;
P	topup	1000
\.
});
like($err, qr/permission denied: insert of "ledger" is not allowed/,
     'a second load into a ledger in use is refused');
is($node->safe_psql('univ', $money), '75.5 75.5', 'nothing changed');

# quota goes on from there: a retried request is not billed again, a new one is
is($node->safe_psql('univ', q{SELECT final_cost FROM quota.quota_charge('m', 0, 5, 'r2', user_id => 'ann')}),
   '5', 'a charge after the load');
is($node->safe_psql('univ', q{SELECT count(*) FROM quota.ledger WHERE request_id = 'r1'}),
   '1', 'the loaded request id is known');
is($node->safe_psql('univ', $money), '70.5 70.5', 'balance = sum of the ledger');

$node->restart;
is($node->safe_psql('univ', $money), '70.5 70.5', 'the same after a restart (rebuilt from the ledger)');

$node->stop;
done_testing();
