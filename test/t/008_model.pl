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
$node->stop;
done_testing();
