#!/usr/bin/env python3
"""Reference job-system benchmarks: Dramatiq with Redis.

Usage:
  python3 dramatiq_jobs.py --redis redis://127.0.0.1:PORT/0 SCENARIO [N]
                           [--url URL] [--processes 2] [--threads 8]
                           [--deadline 300]

The scenarios mirror EvyJobs' `evy-bench jobs-*` ones.  "Submit -> recorded"
maps onto Dramatiq like this: submit = `actor.send(...)` (the message is in
the Redis queue when it returns); recorded = the worker has run the actor and
the Results middleware has stored its return value in the Redis result
backend (actors declared with store_results=True).  The driver learns that a
job is recorded by reading its result, `message.get_result(block=True)`, the
way a Dramatiq user waits for jobs (it is what `group.wait()` does), and it
checks every value.

  noop      N no-op jobs (default 20000).  All N are enqueued first (not
            timed), then the workers start: `python3 -m dramatiq` with
            --processes/--threads, the usual way to run Dramatiq workers.
            Timed from just before the worker command starts until the last
            result has been read, so it includes the workers' start (an
            extra field, first_result_s, says how long that took).
            -> jobs-noop, jobs/s.
            Then the same with no result backend: the actors store nothing
            and a middleware INCRs a Redis counter after each job; timed until
            the counter reaches N.  -> jobs-noop-noresults, jobs/s.
  enqueue   N acknowledged enqueues (default 20000) from this one process,
            no workers running, Redis flushed first:
            `actor.send(i)` in a loop -> jobs-enqueue, enqueues/s;
            `group([actor.message(i) ...]).run()` -> jobs-enqueue-group.
            Dramatiq has no batched enqueue: group.run() calls
            broker.enqueue once per message, one Redis round trip (one Lua
            script call) each, like send().  The group line shows that.
  fetch     N jobs (default 5000) that each GET --url (keep-alive, one
            requests.Session per worker thread); result [status, length].
            Timed end to end as noop. -> jobs-fetch, jobs/s.
  latency   one job at a time: send a no-op, block on its result, N rounds
            (default 1000) after 20 warm-up rounds, workers already running.
            -> jobs-latency-p50 and jobs-latency-p99, microseconds.

Output: one JSON object per line on stdout, e.g.
  {"name": "jobs-noop", "value": 1888.0, "unit": "jobs/s", "source": "dramatiq", "n": 20000, ...}
On failure: {"name": ..., "source": "dramatiq", "error": "..."} and exit 1.

Redis is flushed (FLUSHDB on the URL's database) before every measurement.
Worker processes are started in their own session and stopped by pid at the
end, even on error: SIGTERM, then SIGKILL to their process group after 5 s.
Each scenario, as a whole (both parts of noop), has a hard deadline
(--deadline, default 300 s): the waiting loops check it at least once a
second and SIGALRM 5 s past it interrupts anything still blocked.  The
workers' logs go to a temporary file, not to stderr; an error quotes their
last lines.

Install the reference with: python3 -m pip install 'dramatiq[redis]' requests
"""
import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # so the driver can import dramatiq_actors too
# Leave no __pycache__ in the source tree (the workers get the same through
# PYTHONDONTWRITEBYTECODE).
sys.dont_write_bytecode = True

SOURCE = "dramatiq"
DEFAULT_N = {"noop": 20000, "enqueue": 20000, "fetch": 5000, "latency": 1000}
PRIMARY_NAME = {"noop": "jobs-noop", "enqueue": "jobs-enqueue",
                "fetch": "jobs-fetch", "latency": "jobs-latency-p50"}
LATENCY_WARMUP = 20
STOP_GRACE_S = 5.0


class BenchError(Exception):
    """A failure to report as an error line."""


class DeadlineExceeded(BenchError):
    pass


# --- signals ------------------------------------------------------------------
# The deadline's SIGALRM and a caller's SIGTERM raise an exception in the main
# thread, so that the finally blocks stop the workers.  While the workers are
# being started or stopped the exception is held back and raised afterwards,
# so that no worker escapes stop().  (Blocking the signals with sigmask would
# not do: the workers would inherit the mask and ignore our SIGTERM.)

_hold = {"depth": 0, "pending": None}


def raise_or_hold(exc):
    if _hold["depth"]:
        _hold["pending"] = _hold["pending"] or exc
    else:
        raise exc


@contextlib.contextmanager
def signals_held():
    _hold["depth"] += 1
    try:
        yield
    finally:
        _hold["depth"] -= 1
        if not _hold["depth"] and _hold["pending"] is not None:
            exc, _hold["pending"] = _hold["pending"], None
            raise exc


def emit(name, value, unit, n, **extra):
    line = {"name": name, "value": round(value, 1), "unit": unit, "source": SOURCE, "n": n}
    line.update(extra)
    print(json.dumps(line), flush=True)


# --- deadline --------------------------------------------------------------

class Deadline:
    """A hard limit: SIGALRM interrupts whatever blocks, and remaining() lets
    the waiting loops give Redis timeouts that never pass it."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def __enter__(self):
        def on_alarm(signum, frame):
            raise_or_hold(DeadlineExceeded("deadline of %d s exceeded" % self.seconds))
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(math.ceil(self.seconds)) + 5)  # backstop
        return self

    def __exit__(self, *exc):
        signal.alarm(0)
        return False

    def remaining(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("deadline of %d s exceeded" % self.seconds)
        return left


# --- worker processes -----------------------------------------------------------

class Workers:
    """The `dramatiq` command line as a subprocess: one master process that
    forks --processes worker processes, each with --threads threads.

    The actor module is made importable by --path HERE (the command line puts
    it on sys.path before importing `dramatiq_actors`); the broker URL and the
    results mode reach the module through environment variables.
    """

    def __init__(self, redis_url, with_results, processes, threads, log_dir):
        self.cmd = [
            sys.executable, "-m", "dramatiq",
            "--processes", str(processes), "--threads", str(threads),
            "--path", HERE,
            "--worker-shutdown-timeout", "5000",  # default is 10 minutes
            "dramatiq_actors:broker",
        ]
        self.env = dict(os.environ)
        self.env["EVY_DRAMATIQ_REDIS"] = redis_url
        self.env["EVY_DRAMATIQ_RESULTS"] = "1" if with_results else "0"
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.log_path = os.path.join(log_dir, "workers-%s.log" % ("results" if with_results else "noresults"))
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "wb")
        # No exception between the fork and self.proc being set: stop() must
        # know every process it has to end.
        with signals_held():
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, cwd=HERE, stdin=subprocess.DEVNULL,
                stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, id = its pid
            )
        return self

    def check(self):
        """Raise if the master process has exited (import error, crash)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError("dramatiq workers exited with status %s: %s"
                             % (self.proc.returncode, self.log_tail()))

    def log_tail(self, lines=3, chars=400):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
        return tail[-chars:]

    def stop(self):
        """SIGTERM the master (it stops its workers), SIGKILL the whole
        process group if anything is still there after 5 s."""
        if self.proc is None:
            return
        pid = self.proc.pid
        # Neither the deadline's SIGALRM nor a SIGTERM may cut this clean-up
        # short (see signals_held).
        with signals_held():
            self._stop(pid)

    def _stop(self, pid):
        try:
            if self.proc.poll() is None:
                os.kill(pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass
            # The group is ours (start_new_session): kill what is left in it,
            # the master if it ignored SIGTERM, or orphaned worker children.
            try:
                os.killpg(pid, 0)
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait(timeout=STOP_GRACE_S)
        finally:
            self.proc = None
            self.log.close()


# --- helpers ---------------------------------------------------------------

def flush(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


def wait_results(messages, expected, workers, deadline, backend):
    """Block on each message's result in send order; check each value.

    Returns the perf_counter time at which the first result was read.
    Timeouts of 1 s (the Redis backend's smallest blocking timeout) so that a
    dead worker or the deadline is noticed while waiting.
    """
    from dramatiq.results import ResultFailure, ResultTimeout
    first = None
    for i, message in enumerate(messages):
        while True:
            try:
                value = message.get_result(backend=backend, block=True, timeout=1000)
                break
            except ResultTimeout:
                workers.check()
                deadline.remaining()
            except ResultFailure as e:
                raise BenchError("job %d failed: %s" % (i, e))
        if first is None:
            first = time.perf_counter()
        deadline.remaining()
        if not expected(i, value):
            raise BenchError("job %d: unexpected result %r" % (i, value))
    return first


def wait_counter(client, n, workers, deadline):
    """Poll the CountDone counter until it reaches n (no-results mode)."""
    from dramatiq_actors import DONE_KEY, FAILED_KEY
    first = None
    while True:
        done, failed = client.mget(DONE_KEY, FAILED_KEY)
        done, failed = int(done or 0), int(failed or 0)
        if failed:
            raise BenchError("%d jobs failed" % failed)
        if done and first is None:
            first = time.perf_counter()
        if done >= n:
            if done > n:
                raise BenchError("counter %d > %d jobs" % (done, n))
            return first
        workers.check()
        deadline.remaining()
        time.sleep(0.002)


def end_to_end(args, n, deadline, log_dir, actor_name, make_args, expected, with_results):
    """Enqueue n jobs, start the workers, time until all are recorded.

    Returns (seconds, first_result_seconds, enqueue_seconds)."""
    import dramatiq_actors
    client = flush(args.redis)
    broker, actors = dramatiq_actors.build(args.redis, with_results)
    actor = getattr(actors, actor_name)
    t = time.perf_counter()
    messages = []
    for i in range(n):
        messages.append(actor.send(*make_args(i)))
        if i % 1000 == 0:
            deadline.remaining()
    enqueue_s = time.perf_counter() - t
    workers = Workers(args.redis, with_results, args.processes, args.threads, log_dir)
    try:
        t0 = time.perf_counter()
        workers.start()
        if with_results:
            first = wait_results(messages, expected, workers, deadline,
                                 broker.get_results_backend())
        else:
            first = wait_counter(client, n, workers, deadline)
        t1 = time.perf_counter()
    finally:
        workers.stop()
        broker.close()
    return t1 - t0, first - t0, enqueue_s


def common_fields(args, seconds, first, enqueue_s):
    return {"seconds": round(seconds, 3), "first_result_s": round(first, 3),
            "enqueue_s": round(enqueue_s, 3),
            "processes": args.processes, "threads": args.threads}


# --- scenarios ----------------------------------------------------------------

def scenario_noop(args, n, deadline, log_dir):
    seconds, first, enq = end_to_end(args, n, deadline, log_dir, "noop", lambda i: (i,),
                                     lambda i, v: v == i, with_results=True)
    emit("jobs-noop", n / seconds, "jobs/s", n, results=True, **common_fields(args, seconds, first, enq))
    current[0] = "jobs-noop-noresults"
    seconds, first, enq = end_to_end(args, n, deadline, log_dir, "noop", lambda i: (i,),
                                     None, with_results=False)
    emit("jobs-noop-noresults", n / seconds, "jobs/s", n, results=False,
         **common_fields(args, seconds, first, enq))


def scenario_fetch(args, n, deadline, log_dir):
    if not args.url:
        raise BenchError("fetch needs --url")
    url = args.url
    seconds, first, enq = end_to_end(args, n, deadline, log_dir, "fetch", lambda i: (url,),
                                     lambda i, v: v[0] == 200, with_results=True)
    emit("jobs-fetch", n / seconds, "jobs/s", n, results=True, **common_fields(args, seconds, first, enq))


def scenario_enqueue(args, n, deadline, log_dir):
    import dramatiq
    import dramatiq_actors
    broker, actors = dramatiq_actors.build(args.redis, with_results=True)
    client = flush(args.redis)
    try:
        # send() returns once Redis has run the enqueue script: acknowledged.
        t = time.perf_counter()
        for i in range(n):
            actors.noop.send(i)
            if i % 1000 == 0:
                deadline.remaining()
        seconds = time.perf_counter() - t
        queued = client.hlen("dramatiq:default.msgs")  # the queue's message hash
        if queued != n:
            raise BenchError("%d messages in Redis after %d sends" % (queued, n))
        emit("jobs-enqueue", n / seconds, "enqueues/s", n, seconds=round(seconds, 3))

        current[0] = "jobs-enqueue-group"
        client.flushdb()
        deadline.remaining()
        t = time.perf_counter()
        dramatiq.group([actors.noop.message(i) for i in range(n)], broker=broker).run()
        seconds = time.perf_counter() - t
        queued = client.hlen("dramatiq:default.msgs")
        if queued != n:
            raise BenchError("%d messages in Redis after group of %d" % (queued, n))
        emit("jobs-enqueue-group", n / seconds, "enqueues/s", n, seconds=round(seconds, 3))
    finally:
        client.flushdb()
        broker.close()


def scenario_latency(args, n, deadline, log_dir):
    import dramatiq_actors
    flush(args.redis)
    broker, actors = dramatiq_actors.build(args.redis, with_results=True)
    workers = Workers(args.redis, True, args.processes, args.threads, log_dir)
    backend = broker.get_results_backend()
    samples = []
    try:
        workers.start()
        for i in range(LATENCY_WARMUP + n):
            t = time.perf_counter_ns()
            message = actors.noop.send(i)
            wait_results([message], lambda _, v, i=i: v == i, workers, deadline, backend)
            if i >= LATENCY_WARMUP:
                samples.append((time.perf_counter_ns() - t) / 1000.0)
    finally:
        workers.stop()
        broker.close()
    samples.sort()
    for name, q in (("jobs-latency-p50", 0.50), ("jobs-latency-p99", 0.99)):
        value = samples[max(0, math.ceil(q * len(samples)) - 1)]
        emit(name, value, "us", n, processes=args.processes, threads=args.threads)


SCENARIOS = {"noop": scenario_noop, "enqueue": scenario_enqueue,
             "fetch": scenario_fetch, "latency": scenario_latency}
current = [None]  # the name an error line carries


def main():
    parser = argparse.ArgumentParser(description="Dramatiq reference for evy-bench jobs-*")
    parser.add_argument("--redis", required=True, help="redis://127.0.0.1:PORT/0")
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("n", nargs="?", type=int)
    parser.add_argument("--url", help="page the fetch jobs GET")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds per scenario")
    args = parser.parse_args()
    n = args.n or DEFAULT_N[args.scenario]
    current[0] = PRIMARY_NAME[args.scenario]

    # Killed by the caller: raise, so that the finally blocks stop the
    # workers (they are in their own session and would not get the signal
    # sent to the caller's process group).
    def on_term(signum, frame):
        raise_or_hold(BenchError("terminated by SIGTERM"))
    signal.signal(signal.SIGTERM, on_term)
    try:
        with tempfile.TemporaryDirectory(prefix="evy-dramatiq-") as log_dir:
            with Deadline(args.deadline) as deadline:
                SCENARIOS[args.scenario](args, n, deadline, log_dir)
    except Exception as e:  # one error line, whatever went wrong
        message = str(e) or type(e).__name__
        print(json.dumps({"name": current[0], "source": SOURCE, "error": message[:500]}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
