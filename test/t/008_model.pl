# Model-based check: a seeded random sequence of charges (new, retried and
# reused request_ids), reservations, settlements (within and beyond the
# declared maxima), huge token counts, releases, top-ups,
# adjustments and resets runs against the extension and against a model of
# the SPEC written here in Perl (integer nano-credits).  Every call's result
# or SQLSTATE, and every pool's balance and holds along the way, must agree.
# QUOTA_MODEL_SEED and QUOTA_MODEL_OPS change the run; the seed is printed.
use strict;
use warnings;
use QuotaNode;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $seed = $ENV{QUOTA_MODEL_SEED} // 20261126;
my $nops = $ENV{QUOTA_MODEL_OPS}  // 3000;
srand($seed);
note "seed $seed, $nops operations";

my $node = quota_node('model');

my $NANO = 1_000_000_000;
# 'm' costs 0.001 credits per input token; 'free' nothing
my %price = (m => 1_000_000, free => 0);
my %allowance = (P1 => 50 * $NANO, P2 => 30 * $NANO);
my %limit = (P1 => undef, P2 => 10 * $NANO);
my %members = (P1 => { u1 => 1, u2 => 1 }, P2 => { u2 => 1, u3 => 1 });

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;
SELECT quota_set_model('m', 1000, 0);
SELECT quota_set_model('free', 0, 0);
SELECT quota_set_user(u) FROM unnest(ARRAY['u1', 'u2', 'u3']) u;
SELECT quota_create_pool('P1', 50);
SELECT quota_create_pool('P2', 30, member_limit => 10);
SELECT quota_add_member('P1', 'u1'), quota_add_member('P1', 'u2');
SELECT quota_add_member('P2', 'u2'), quota_add_member('P2', 'u3');
-- one operation: its result, or its SQLSTATE
CREATE FUNCTION op(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE sql INTO r;
    RETURN coalesce(r, 'null');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
});

# credits text output: shortest exact form
sub fmt
{
    my ($n) = @_;
    my $sign = $n < 0 ? '-' : '';
    $n = -$n if $n < 0;
    my $int = int($n / $NANO);
    my $frac = $n % $NANO;
    return "$sign$int" if $frac == 0;
    my $f = sprintf('%09d', $frac);
    $f =~ s/0+$//;
    return "$sign$int.$f";
}

# the cost of tokens of a model in nano-credits, or undef when it does not
# fit quota.credits (22003); counts may be huge, so compare before multiplying
my $CREDITS_MAX = 9223372036854775807;
sub cost_of
{
    my ($model, $tokens) = @_;
    return 0 if $price{$model} == 0;
    return undef if $tokens > int($CREDITS_MAX / $price{$model});
    return $tokens * $price{$model};
}

# the model
my %balance = %allowance;
my %held = (P1 => 0, P2 => 0);
my %usage;        # {pool}{user}: charges this period
my %charges;      # rid => {pool, user, model, tokens, cost, balance}
my %resv;         # rid => {pool, user, model, tokens, held, active}

sub user_holds
{
    my ($pool, $user) = @_;
    my $h = 0;
    for my $r (values %resv)
    {
        $h += $r->{held} if $r->{active} && $r->{pool} eq $pool && $r->{user} eq $user;
    }
    return $h;
}

sub fits_limit
{
    my ($pool, $user, $amount) = @_;
    return 1 if !defined $limit{$pool} || $amount == 0;
    return ($usage{$pool}{$user} // 0) + user_holds($pool, $user) + $amount <= $limit{$pool};
}

sub model_charge
{
    my ($user, $pool, $model, $tokens, $rid) = @_;
    if (my $c = $charges{$rid})
    {
        return 'QU005' if $c->{user} ne $user || $c->{model} ne $model
          || $c->{tokens} != $tokens || $c->{pool} ne $pool;
        return fmt($c->{cost}) . '/' . fmt($c->{balance});
    }
    my $cost;
    if (my $r = $resv{$rid})
    {
        return 'QU005' if $r->{user} ne $user || $r->{model} ne $model || $r->{pool} ne $pool;
        $cost = cost_of($model, $tokens) // return '22003';
        # SPEC rule 4 (0.2): within the declared maxima a settlement always
        # succeeds; beyond them it must fit in available plus the freed hold
        # and the member limit
        my $freed = $r->{active} ? $r->{held} : 0;
        if ($tokens > $r->{tokens})
        {
            return 'QU001' if $cost > $freed && !fits_limit($pool, $user, $cost - $freed);
            return 'QU001' if $cost > $balance{$pool} - $held{$pool} + $freed;
        }
        # no figure may leave the type's range
        return '22003' if $balance{$pool} - $held{$pool} - $cost < -$CREDITS_MAX;
        $held{$pool} -= $freed;
        $r->{active} = 0;
        $balance{$pool} -= $cost;
    }
    else
    {
        return 'QU003' unless $members{$pool}{$user};
        $cost = cost_of($model, $tokens) // return '22003';
        if ($cost > 0)
        {
            return 'QU001' unless fits_limit($pool, $user, $cost);
            return 'QU001' if $cost > $balance{$pool} - $held{$pool};
            $balance{$pool} -= $cost;
        }
    }
    $usage{$pool}{$user} += $cost;
    $charges{$rid} = { user => $user, pool => $pool, model => $model,
                       tokens => $tokens, cost => $cost, balance => $balance{$pool} };
    return fmt($cost) . '/' . fmt($balance{$pool});
}

sub model_reserve
{
    my ($user, $pool, $model, $tokens, $rid) = @_;
    if (my $r = $resv{$rid})
    {
        return 'QU005' if $r->{user} ne $user || $r->{model} ne $model
          || $r->{tokens} != $tokens || $r->{pool} ne $pool;
        return fmt($r->{held});
    }
    return 'QU005' if $charges{$rid};
    return 'QU003' unless $members{$pool}{$user};
    my $hold = cost_of($model, $tokens) // return '22003';
    if ($hold > 0)
    {
        return 'QU001' unless fits_limit($pool, $user, $hold);
        return 'QU001' if $hold > $balance{$pool} - $held{$pool};
    }
    $held{$pool} += $hold;
    $resv{$rid} = { user => $user, pool => $pool, model => $model, tokens => $tokens,
                    held => $hold, active => 1 };
    return fmt($hold);
}

sub model_release
{
    my ($rid) = @_;
    my $r = $resv{$rid} or return '42704';
    return 'false' unless $r->{active};
    $held{$r->{pool}} -= $r->{held};
    $r->{active} = 0;
    return 'true';
}

my @users = qw(u1 u2 u3);
my @pools = qw(P1 P2);
my (@ops, @expect);
my $next = 0;
my @rids;
for my $i (1 .. $nops)
{
    my $x = rand();
    my $user = $users[ int(rand(3)) ];
    my $pool = $pools[ int(rand(2)) ];
    my $model = rand() < 0.1 ? 'free' : 'm';
    my $tokens = int(rand(4000));
    # a new request_id, or an earlier one (retry or reuse)
    my $rid = (@rids && rand() < 0.25) ? $rids[ int(rand(@rids)) ] : 'r' . $next++;
    push @rids, $rid;
    # (issue 14) huge token counts, whose cost may not fit the type: a
    # charge, a reservation, or a settlement far beyond the declared maxima
    my @huge = (9_000_000_000_000, 9_223_372_036_854, 9_223_372_036_855,
                10_000_000_000_000, 9_223_372_036_854_775_807);
    if (rand() < 0.06)
    {
        my $y = rand();
        $tokens = $huge[ int(rand(@huge)) ];
        if ($y < 0.35)
        {
            push @ops, "SELECT c.final_cost || '/' || c.balance FROM quota.quota_charge('$model', $tokens, 0, '$rid', user_id => '$user', pool => '$pool') c";
            push @expect, model_charge($user, $pool, $model, $tokens, $rid);
        }
        elsif ($y < 0.6)
        {
            push @ops, "SELECT r.held FROM quota.quota_reserve('$model', $tokens, 0, '$rid', user_id => '$user', pool => '$pool') r";
            push @expect, model_reserve($user, $pool, $model, $tokens, $rid);
        }
        else
        {
            my @open = grep { $resv{$_} } @rids or next;
            my $r = $open[ int(rand(@open)) ];
            my $v = $resv{$r};
            push @ops, "SELECT c.final_cost || '/' || c.balance FROM quota.quota_charge('$v->{model}', $tokens, 0, '$r', user_id => '$v->{user}', pool => '$v->{pool}') c";
            push @expect, model_charge($v->{user}, $v->{pool}, $v->{model}, $tokens, $r);
        }
    }
    elsif ($x < 0.40)
    {
        if (my $c = $charges{$rid}) { ($user, $pool, $model, $tokens) = @$c{qw(user pool model tokens)} if rand() < 0.7 }
        push @ops, "SELECT c.final_cost || '/' || c.balance FROM quota.quota_charge('$model', $tokens, 0, '$rid', user_id => '$user', pool => '$pool') c";
        push @expect, model_charge($user, $pool, $model, $tokens, $rid);
    }
    elsif ($x < 0.62)
    {
        if (my $r = $resv{$rid}) { ($user, $pool, $model, $tokens) = @$r{qw(user pool model tokens)} if rand() < 0.7 }
        push @ops, "SELECT r.held FROM quota.quota_reserve('$model', $tokens, 0, '$rid', user_id => '$user', pool => '$pool') r";
        push @expect, model_reserve($user, $pool, $model, $tokens, $rid);
    }
    elsif ($x < 0.80)
    {
        # settle an earlier reservation (actual usage up to 1.5 x its maximum)
        my @open = grep { $resv{$_} } @rids or next;
        my $r = $open[ int(rand(@open)) ];
        my $v = $resv{$r};
        my $used = int(rand($v->{tokens} * 1.5 + 1));
        $used = $v->{tokens} if $used > $CREDITS_MAX;    # bigint's range too
        $used = $charges{$r}{tokens} if $charges{$r} && rand() < 0.7;
        push @ops, "SELECT c.final_cost || '/' || c.balance FROM quota.quota_charge('$v->{model}', $used, 0, '$r', user_id => '$v->{user}', pool => '$v->{pool}') c";
        push @expect, model_charge($v->{user}, $v->{pool}, $v->{model}, $used, $r);
    }
    elsif ($x < 0.90)
    {
        push @ops, "SELECT quota.quota_release('$rid')::text";
        push @expect, model_release($rid);
    }
    elsif ($x < 0.94)
    {
        my $amount = 1 + int(rand(20));
        push @ops, "SELECT quota.quota_topup('$pool', $amount)::text";
        $balance{$pool} += $amount * $NANO;
        push @expect, fmt($balance{$pool});
    }
    elsif ($x < 0.97)
    {
        my $amount = int(rand(21)) - 10 || 1;
        push @ops, "SELECT quota.quota_adjust('$pool', $amount, 'model check')::text";
        $balance{$pool} += $amount * $NANO;
        push @expect, fmt($balance{$pool});
    }
    else
    {
        push @ops, "SELECT quota.quota_reset('$pool')::text";
        $balance{$pool} = $allowance{$pool};
        $usage{$pool} = {};
        push @expect, fmt($balance{$pool});
    }
    if ($i % 100 == 0)
    {
        push @ops, "SELECT string_agg(pool || ' ' || (quota._pool_money(pool)).balance || ' ' || (quota._pool_money(pool)).held, ', ' ORDER BY pool) FROM quota.pool_defs";
        push @expect, join(', ', map { "$_ " . fmt($balance{$_}) . ' ' . fmt($held{$_}) } @pools);
    }
}

# one session runs them all, each statement its own transaction
my $script = join('', map { my $s = $_; $s =~ s/'/''/g; "SELECT op('$s');\n" } @ops);
my $out = $node->safe_psql('postgres', $script);
my @got = split /\n/, $out;
is(scalar @got, scalar @expect, 'every operation ran');
my $bad = 0;
for my $i (0 .. $#expect)
{
    next if defined $got[$i] && $got[$i] eq $expect[$i];
    diag "operation $i: $ops[$i]\n  extension: " . ($got[$i] // 'nothing') . "\n  model:     $expect[$i]"
      if $bad++ < 5;
}
is($bad, 0, "extension and model agree on all " . scalar(@expect) . " results (seed $seed)");
my %states;
$states{$_}++ for grep { /^[0-9A-Z]{5}$/ } @expect;
note join(', ', map { "$_: $states{$_}" } sort keys %states);
cmp_ok(scalar(keys %states), '>=', 3, 'the run reached several refusals (QU001, QU003, QU005, ...)');
is($node->safe_psql('postgres', q{
    SET search_path = public, quota;
    SELECT bool_and((quota._pool_money(d.pool)).balance
                    = (SELECT quota.sum(amount) FROM quota.ledger l WHERE l.pool = d.pool))
      FROM quota.pool_defs d}), 't', 'balance = sum of the ledger');

# Concurrent sessions at every isolation level (READ COMMITTED, REPEATABLE
# READ, SERIALIZABLE) run transactions of one user's charges, reservations,
# settlements (within the maxima) and releases, while another session resets
# the pools.  Their interleaving is not predictable, so the model is checked
# as invariants: every result is a success, QU001 or 40001 (40001 changes
# nothing; 42704 for the release of a refused hold), a committed success is
# in the tables and a rolled-back one is not, balance = ledger, held = active
# holds, available = balance - held and never below zero, and each member's
# usage in the period plus holds stays within the member limit.
# QUOTA_MODEL_TXNS changes the number of transactions per session.
{
    $node->safe_psql('postgres', q{
        SELECT quota.quota_release(request_id) FROM quota.reservations WHERE settled_at IS NULL;
        SELECT quota.quota_reset('P1'), quota.quota_reset('P2');
        CREATE TABLE model_txns (txn text PRIMARY KEY);
    });
    my $first_reset = $node->safe_psql('postgres',
        q{SELECT max(entry_id) FROM quota.ledger WHERE pool = 'P2' AND kind = 'reset'});
    my %level = (c1 => 'READ COMMITTED', c2 => 'REPEATABLE READ',
                 c3 => 'SERIALIZABLE', c4 => 'REPEATABLE READ', c5 => 'SERIALIZABLE');
    my $ntxn = $ENV{QUOTA_MODEL_TXNS} // 150;
    my (%script, %ops);    # session => SQL; tag => {kind, rid, txn, new}
    for my $s (sort keys %level)
    {
        my %mine;          # this session's reservations: rid => {user, pool, tokens}
        my $sql = '';
        for my $t (1 .. $ntxn)
        {
            my $user = $users[ int(rand(3)) ];
            my $txn = "$s.$t";
            $sql .= "BEGIN ISOLATION LEVEL $level{$s};\n";
            for my $o (1 .. 1 + int(rand(3)))
            {
                my $x = rand();
                my @usable = grep { $members{$_}{$user} } @pools;
                my $pool = $usable[ int(rand(@usable)) ];
                my $tokens = int(rand(2000));
                my @open = grep { $mine{$_}{user} eq $user } sort keys %mine;
                my ($kind, $rid, $call);
                if ($x < 0.45 || ($x >= 0.75 && !@open))
                {
                    ($kind, $rid) = ('charge', "$txn.$o");
                    $call = "SELECT c.final_cost || '/' || c.balance FROM quota.quota_charge('m', $tokens, 0, '$rid', user_id => '$user', pool => '$pool') c";
                }
                elsif ($x < 0.75)
                {
                    ($kind, $rid) = ('reserve', "$txn.$o");
                    $mine{$rid} = { user => $user, pool => $pool, tokens => $tokens };
                    $call = "SELECT r.held FROM quota.quota_reserve('m', $tokens, 0, '$rid', user_id => '$user', pool => '$pool') r";
                }
                elsif ($x < 0.92)
                {
                    $rid = $open[ int(rand(@open)) ];
                    my $r = delete $mine{$rid};
                    my $used = int(rand($r->{tokens} + 1));
                    $kind = 'settle';
                    $call = "SELECT c.final_cost || '/' || c.balance FROM quota.quota_charge('m', $used, 0, '$rid', user_id => '$user', pool => '$r->{pool}') c";
                }
                else
                {
                    $rid = $open[ int(rand(@open)) ];
                    delete $mine{$rid};
                    $kind = 'release';
                    $call = "SELECT quota.quota_release('$rid')::text";
                }
                my $tag = "$txn.$o";
                $ops{$tag} = { kind => $kind, rid => $rid, txn => $txn };
                (my $q = $call) =~ s/'/''/g;
                $sql .= "SELECT '$tag|' || op('$q');\n";
            }
            $sql .= "INSERT INTO model_txns VALUES ('$txn');\nCOMMIT;\n";
        }
        $script{$s} = $sql;
    }
    # resets of both pools meanwhile, in their own transactions
    $script{r} = join('', map { "SELECT pg_sleep(0.01);\nSELECT quota.quota_reset('$pools[$_ % 2]');\n" } 1 .. 100);

    my (%out, %err, @run);
    for my $s (sort keys %script)
    {
        my $file = $node->basedir . "/model_$s.sql";
        open(my $fh, '>', $file) or die "could not write $file: $!";
        print $fh $script{$s};
        close $fh;
        ($out{$s}, $err{$s}) = ('', '');
        push @run, IPC::Run::start(
            [ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0', '-f', $file,
              '-d', $node->connstr('postgres') ],
            '>', \$out{$s}, '2>', \$err{$s});
    }
    $_->finish for @run;

    my %committed = map { $_ => 1 } split /\n/,
      $node->safe_psql('postgres', 'SELECT txn FROM model_txns');
    my %ledger = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
        q{SELECT request_id || '|' || final_cost FROM quota.ledger WHERE kind = 'charge' AND request_id LIKE 'c_.%'});
    my %resvs = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
        q{SELECT request_id || '|' || held FROM quota.reservations WHERE request_id LIKE 'c_.%'});
    my (%seen, @wrong);
    for my $s (grep { $_ ne 'r' } sort keys %script)
    {
        for my $line (split /\n/, $out{$s})
        {
            my ($tag, $res) = split /\|/, $line, 2;
            my $op = $ops{$tag} or next;
            my $ok = $res !~ /^[0-9A-Z]{5}$/;
            $seen{$ok ? 'success' : $res}++;
            push @wrong, "$tag $op->{kind}: unexpected $res"
              unless $ok || $res eq 'QU001' || $res eq '40001'
              || ($res eq '42704' && $op->{kind} eq 'release');    # its hold was refused
            my $kept = $committed{ $op->{txn} };
            if ($op->{kind} eq 'charge' || $op->{kind} eq 'settle')
            {
                my ($cost) = split m{/}, $res;
                push @wrong, "$tag: committed charge $cost missing (ledger: " . ($ledger{ $op->{rid} } // 'none') . ')'
                  if $ok && $kept && ($ledger{ $op->{rid} } // '') ne $cost;
                push @wrong, "$tag: charge of a rolled-back transaction in the ledger"
                  if $op->{kind} eq 'charge' && !$kept && exists $ledger{ $op->{rid} };
            }
            elsif ($op->{kind} eq 'reserve')
            {
                push @wrong, "$tag: committed hold $res missing"
                  if $ok && $kept && ($resvs{ $op->{rid} } // '') ne $res;
                push @wrong, "$tag: hold of a rolled-back transaction kept"
                  if !$kept && exists $resvs{ $op->{rid} };
            }
        }
    }
    note 'concurrent outcomes: ' . join(', ', map { "$_: $seen{$_}" } sort keys %seen)
      . '; committed transactions: ' . scalar(keys %committed);
    is(join("\n", @wrong[ 0 .. ($#wrong < 9 ? $#wrong : 9) ]), '',
       'concurrent sessions: every result allowed, committed successes kept, rolled-back ones gone');
    cmp_ok($seen{success} // 0, '>', 0, 'concurrent sessions: some requests succeeded');
    is($node->safe_psql('postgres', q{
        SET search_path = public, quota;
        SELECT bool_and(m.balance = (SELECT quota.sum(amount) FROM quota.ledger l WHERE l.pool = d.pool)
                        AND m.held = (SELECT coalesce(quota.sum(r.held), '0') FROM quota.reservations r
                                      WHERE r.pool = d.pool AND r.settled_at IS NULL)
                        AND m.available = m.balance - m.held
                        AND m.available >= 0)
          FROM quota.pool_defs d, quota._pool_money(d.pool) m}), 't',
       'concurrent sessions: balance = ledger, held = holds, available = balance - held >= 0');
    is($node->safe_psql('postgres', q{
        SET search_path = public, quota;
        SELECT string_agg(x.user_id || ' ' || x.total, ', ')
          FROM (SELECT u.user_id,
                       (SELECT coalesce(quota.sum(-l.amount), '0') FROM quota.ledger l
                         WHERE l.pool = d.pool AND l.user_id = u.user_id AND l.kind = 'charge'
                           AND l.at >= d.period_start)
                       + (SELECT coalesce(quota.sum(r.held), '0') FROM quota.reservations r
                           WHERE r.pool = d.pool AND r.user_id = u.user_id AND r.settled_at IS NULL) AS total
                  FROM quota.pool_defs d, quota.users u WHERE d.pool = 'P2') x
         WHERE x.total > 10}), '',
       'concurrent sessions: member usage in the period plus holds within the limit');
    # every period since (they begin at the resets' ledger entries)
    is($node->safe_psql('postgres', qq{
        SET search_path = public, quota;
        WITH p AS (SELECT at AS s, lead(at) OVER (ORDER BY at, entry_id) AS e
                     FROM quota.ledger WHERE pool = 'P2' AND kind = 'reset' AND entry_id >= $first_reset)
        SELECT count(*) || ' periods' || coalesce(', over: ' || string_agg(x.user_id || ' ' || x.used, ', '), '')
          FROM p LEFT JOIN LATERAL
               (SELECT l.user_id, quota.sum(-l.amount) AS used FROM quota.ledger l
                 WHERE l.pool = 'P2' AND l.kind = 'charge' AND l.at >= p.s AND (p.e IS NULL OR l.at < p.e)
                 GROUP BY l.user_id HAVING quota.sum(-l.amount) > 10) x ON true}),
       '51 periods', 'concurrent sessions: member usage within the limit in every period');
}
$node->stop;
done_testing();
