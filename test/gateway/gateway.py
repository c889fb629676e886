#!/usr/bin/python3
"""A gateway's use of quota, runnable: the safe flow for every model call.

    1. reserve  quota_reserve(model, max_input, max_output, request_id, user_id)
                holds the worst case; QU001 here means the request is refused
                before the model runs (show the HINT, offer the free model);
    2. call     the model, streaming;
    3. settle   quota_charge(model, input, output, request_id, ..., user_id)
                with the tokens actually served, even when the client went away
                mid-stream (never release a request that produced tokens).
                Within the reserved maxima a settlement always succeeds.

The request_id makes every step safe to repeat: after a timeout or a lost
reply the gateway sends the same call again (in a new transaction, on a new
connection when the old one's state is uncertain: Gateway.recover), and
quota returns the first result without billing twice.  A gateway that
crashed between 2 and 3 settles from its journal on restart, with the same
request_id, even after the hold expired.

Run as a test (test/t/025_gateway.pl does): gateway.py --test DSN, against a
database with quota, as a superuser.  It sets up a university, runs
concurrent users against a stub model with cancelled streams, timeouts, lost
replies and crashes until the Students Pool runs dry, and checks that every
served token is billed exactly once.  Its last line is a JSON summary.

Needs Debian's python3-psycopg2.
"""
import json
import random
import sys
import threading
import time
import traceback
import uuid

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

REFUSALS = {'QU001', 'QU002', 'QU003', 'QU004', 'QU006'}


class Refused(Exception):
    """quota refused a new request: its SQLSTATE, message and hint."""

    def __init__(self, error):
        super().__init__(error.diag.message_primary)
        self.sqlstate = error.pgcode
        self.hint = error.diag.message_hint


class Gateway:
    """One gateway worker: a connection, a journal of served requests."""

    # a call is repeated at most this often before the error is raised
    ATTEMPTS = 20

    def __init__(self, dsn, journal):
        self.dsn = dsn
        self.conn = psycopg2.connect(dsn)
        self.journal = journal
        self.retries = 0
        self.timeouts = 0
        self.replaced = 0

    def reconnect(self):
        try:
            self.conn.close()
        except psycopg2.Error:
            pass
        self.conn = psycopg2.connect(self.dsn)

    def recover(self):
        """After an error: end the transaction, or replace the connection.

        PostgreSQL can report a statement timeout that fired after the
        statement's last check for interrupts as the answer to the next
        command, the driver's COMMIT, which it then does not run.  psycopg2
        raises it from commit() and takes the transaction for ended, while
        the server still holds it aborted, so its rollback() sends nothing
        and the next BEGIN fails.  libpq's own status still says "in error":
        then only a new connection is known to be clean."""
        try:
            self.conn.rollback()
            if self.conn.get_transaction_status() == TRANSACTION_STATUS_IDLE:
                return
        except psycopg2.Error:
            pass
        self.replaced += 1
        self.reconnect()

    def call(self, sql, args, timeout_ms=None):
        """One statement in its own transaction; the first row."""
        with self.conn.cursor() as cur:
            if timeout_ms is not None:
                cur.execute("SET LOCAL statement_timeout = %s", (timeout_ms,))
            cur.execute(sql, args)
            row = cur.fetchone()
        self.conn.commit()
        return row

    def repeat(self, sql, args, first_timeout_ms=None, lose_reply=False):
        """call() until quota answers: after a timeout or a lost connection
        the same call again (its request_id makes that safe).  Refusals
        (psycopg2.Error with a SQLSTATE of quota's) are raised."""
        timeout = first_timeout_ms
        for _ in range(self.ATTEMPTS):
            try:
                row = self.call(sql, args, timeout)
                if lose_reply:
                    # the call committed, but the reply never reached us
                    lose_reply = False
                    self.reconnect()
                    self.retries += 1
                    continue
                return row
            except psycopg2.errors.QueryCanceled:
                # a timeout: the call rolled back, or never ran; send it again
                self.recover()
                self.timeouts += 1
                self.retries += 1
                timeout = None
            except psycopg2.OperationalError:
                self.reconnect()
                self.retries += 1
            except psycopg2.Error:
                self.recover()
                raise
        raise RuntimeError('no answer after %d attempts: %s' % (self.ATTEMPTS, sql))

    def reserve(self, user, model, max_input, max_output, request_id, ttl='15 minutes'):
        """Hold the worst case; raises Refused (QU001: not enough quota)."""
        try:
            return self.repeat(
                "SELECT pool, held FROM quota.quota_reserve(%s, %s, %s, %s, user_id => %s,"
                " ttl => %s::interval)", (model, max_input, max_output, request_id, user, ttl))
        except psycopg2.Error as e:
            if e.pgcode in REFUSALS:
                raise Refused(e) from None
            raise

    def settle(self, user, model, input_tokens, output_tokens, request_id, conversation,
               first_timeout_ms=None, lose_reply=False):
        """Bill what was served; repeat the same call until quota answers."""
        return self.repeat(
            "SELECT charge_id, pool, final_cost FROM quota.quota_charge("
            "%s, %s, %s, %s, %s, user_id => %s)",
            (model, input_tokens, output_tokens, request_id, conversation, user),
            first_timeout_ms, lose_reply)


def stub_model(rng, max_output):
    """A streaming model: yields output tokens, at most max_output."""
    for _ in range(rng.randint(1, max_output)):
        yield 'tok'


def serve(gw, rng, user, conversation, stats, crash=False):
    """One chat request through the gateway; returns what happened."""
    model = 'gpt-4.1-mini'
    prompt = rng.randint(200, 4000)
    max_output = rng.randint(100, 2000)
    request_id = 'gw-' + uuid.uuid4().hex
    # a gateway about to crash: its holds expire before it restarts
    ttl = '1 second' if crash else '15 minutes'
    try:
        gw.reserve(user, model, prompt, max_output, request_id, ttl=ttl)
    except Refused as refusal:
        stats['refused ' + refusal.sqlstate] += 1
        if refusal.sqlstate != 'QU001':
            return
        # the pool cannot pay: offer the free on-premise model instead
        model = 'qwen3-moe-onprem'
        request_id = 'gw-' + uuid.uuid4().hex
        gw.reserve(user, model, prompt, max_output, request_id, ttl=ttl)
        stats['free model'] += 1
    # the client may close the stream before the end: bill what was streamed
    cancel_at = rng.randint(1, max_output) if rng.random() < 0.25 else None
    streamed = 0
    for _ in stub_model(rng, max_output):
        streamed += 1
        if cancel_at is not None and streamed >= cancel_at:
            stats['cancelled streams'] += 1
            break
    entry = {'request_id': request_id, 'user': user, 'model': model,
             'input': prompt, 'output': streamed, 'conversation': conversation,
             'crashed': crash}
    gw.journal.append(entry)    # durable in a real gateway, before settling
    stats['served'] += 1
    if crash:
        stats['crashed before settling'] += 1
        return
    gw.settle(user, model, prompt, streamed, request_id, conversation,
              first_timeout_ms=1 if rng.random() < 0.1 else None,
              lose_reply=rng.random() < 0.1)


def setup(conn, users):
    """A university: a paid and a free model, a small Students Pool, and
    auto-registration of students the directory has not synced yet."""
    with conn.cursor() as cur:
        cur.execute("""
            SET client_min_messages = warning;
            CREATE EXTENSION IF NOT EXISTS quota;
            SELECT quota.quota_set_model('gpt-4.1-mini', 0.4, 1.6, cached_input_price => 0.1);
            SELECT quota.quota_set_model('qwen3-moe-onprem', 0, 0);
            SELECT quota.quota_set_discount('chat', 0.8);
            SELECT quota.quota_create_pool('Students Pool', 0.25, reset_cron => '0 1 * * 5',
                                           reset_timezone => 'Asia/Hong_Kong');
            SELECT quota.quota_grant_group('Students Pool', 'student');
            SELECT quota.quota_auto_register('{student}');""")
        # half the students come from the directory; the others are new:
        # their first requests, from several workers at once, register them
        for user in users[::2]:
            cur.execute("SELECT quota.quota_set_user(%s, '{student}')", (user,))
    conn.commit()


def test(dsn, workers=6, requests=40, seed=20261206):
    """Concurrent users until the pool runs dry; check exactly-once billing."""
    users = ['s%03d' % i for i in range(24)]
    admin = psycopg2.connect(dsn)
    setup(admin, users)
    journal = []
    stats = {k: 0 for k in ('served', 'refused QU001', 'refused QU002', 'refused QU003',
                            'refused QU004', 'refused QU006', 'free model',
                            'cancelled streams', 'crashed before settling')}
    lock = threading.Lock()
    gateways = []
    errors = []

    def worker(n):
        rng = random.Random(seed + n)
        gw = Gateway(dsn, [])
        local = {k: 0 for k in stats}
        try:
            for i in range(requests):
                # the first gateway's first request crashes: at least one
                # crash holds credits, whenever the pool runs dry
                serve(gw, rng, rng.choice(users), 'conv-%d-%d' % (n, i % 5), local,
                      crash=rng.random() < 0.05 or n == i == 0)
        except Exception:
            # a failed worker stops; what it served is settled on recovery
            traceback.print_exc()
            errors.append(n)
        with lock:
            journal.extend(gw.journal)
            gateways.append(gw)
            for k, v in local.items():
                stats[k] += v

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # the crashed gateway restarts after the holds expired: settle from the
    # journal.  Its holds were expired by a later request that found the pool
    # short (it releases expired holds first) or by quota_run_due here:
    # either way before the settlement.
    time.sleep(1.2)
    crashed = [e['request_id'] for e in journal if e['crashed']]
    with admin.cursor() as cur:
        cur.execute("SELECT holds_expired FROM quota.quota_run_due()")
        expired_by_run = cur.fetchone()[0]
        cur.execute("""SELECT count(*) FROM quota.reservations
                        WHERE request_id = ANY (%s) AND outcome = 'expired'""", (crashed,))
        expired = cur.fetchone()[0]
    admin.commit()
    recovery = Gateway(dsn, [])
    for e in journal:
        recovery.settle(e['user'], e['model'], e['input'], e['output'], e['request_id'],
                        e['conversation'])

    # every served token billed exactly once, and nothing else billed
    with admin.cursor() as cur:
        cur.execute("""SELECT request_id, count(*), sum(input_tokens + cached_input_tokens),
                              sum(output_tokens)
                         FROM quota.ledger WHERE kind = 'charge' AND request_id LIKE 'gw-%'
                        GROUP BY request_id""")
        billed = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in cur.fetchall()}
        cur.execute("SELECT count(*) FROM quota.users WHERE user_id = ANY (%s)", (users,))
        registered = cur.fetchone()[0]
        cur.execute("SELECT bool_and(ok) FROM quota.quota_verify()")
        consistent = cur.fetchone()[0]
        cur.execute("""SELECT balance::text, held::text FROM quota.pool_status
                        WHERE pool = 'Students Pool'""")
        balance, held = cur.fetchone()
    served = {e['request_id']: (1, e['input'], e['output']) for e in journal}
    summary = dict(stats)
    summary.update({
        'requests': workers * requests,
        'retries': sum(g.retries for g in gateways) + recovery.retries,
        'timeouts': sum(g.timeouts for g in gateways) + recovery.timeouts,
        'connections replaced after an error':
            sum(g.replaced for g in gateways) + recovery.replaced,
        'client errors': len(errors),
        'holds expired before settling': expired,
        'holds expired by quota_run_due': expired_by_run,
        'tokens served': sum(v[1] + v[2] for v in served.values()),
        'tokens billed': sum(v[1] + v[2] for v in billed.values()),
        'requests billed': len(billed),
        'billed exactly once': billed == served,
        'balance': balance,
        'held': held,
        'ledger consistent': consistent,
        'users registered': registered,
        'users auto-registered': len(users) - len(users[::2]),
    })
    print(json.dumps(summary, sort_keys=True))
    return 0 if billed == served and consistent and not errors else 1


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--test':
        sys.exit(test(sys.argv[2]))
    print(__doc__)
    sys.exit(2)
