#!/usr/bin/env python3
"""Reference green-thread benchmarks for Eventlet and gevent.

Usage: python3 green_reference.py LIB SCENARIO [N]

  LIB       eventlet | gevent   (only that library is imported; eventlet is
                                 NOT monkey-patched)
  SCENARIO  spawn | spawn_n | switch_channel | switch_queue | memory | imap
  N         iteration / green-thread count (default 100000)

Prints exactly one JSON line on stdout, e.g.
  {"name": "spawn", "lib": "gevent", "value": 1.23, "unit": "us", "n": 100000}
or, on failure,
  {"name": "spawn", "lib": "gevent", "n": 100000, "error": "..."}

The scenarios mirror the Swift `evy-bench` ones so the two can be compared.
Install the references with: pip install eventlet gevent
"""
import json
import os
import sys
import time

# Default N for every scenario; each then runs in about 0.5-4 s on 2 cores.
DEFAULT_N = 100_000


def load_lib(lib):
    """Return a small namespace of the primitives each scenario needs."""
    ns = {}
    if lib == "eventlet":
        import warnings
        # eventlet warns on import that it is deprecated; keep stderr quiet.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet
        import eventlet.event
        import eventlet.queue
        ns["spawn"] = eventlet.spawn
        ns["join"] = lambda gt: gt.wait()            # returns the value
        ns["spawn_raw"] = eventlet.spawn_n
        ns["sleep"] = eventlet.sleep
        ns["channel"] = lambda: eventlet.queue.Queue(0)  # maxsize 0 = rendezvous
        ns["queue"] = lambda: eventlet.queue.Queue()     # unbounded
        ns["pool"] = lambda size: eventlet.GreenPool(size)
        ns["event"] = eventlet.event.Event
        ns["fire"] = lambda ev: ev.send(None)        # wake every waiter
    elif lib == "gevent":
        import gevent
        import gevent.event
        import gevent.pool
        import gevent.queue
        ns["spawn"] = gevent.spawn
        ns["join"] = lambda g: g.get()               # returns the value
        ns["spawn_raw"] = gevent.spawn_raw
        ns["sleep"] = gevent.sleep
        ns["channel"] = gevent.queue.Channel         # synchronous channel
        ns["queue"] = gevent.queue.Queue             # unbounded
        ns["pool"] = lambda size: gevent.pool.Pool(size)
        ns["event"] = gevent.event.Event
        ns["fire"] = lambda ev: ev.set()             # wake every waiter
    else:
        raise ValueError("unknown LIB %r (expected eventlet or gevent)" % lib)
    return ns


def bench_spawn(g, n):
    """Spawn n green threads returning a value, then join each: us per spawn+wait."""
    start = time.perf_counter()
    threads = [g["spawn"](lambda i: i, i) for i in range(n)]
    total = 0
    for t in threads:
        total += g["join"](t)
    elapsed = time.perf_counter() - start
    assert total == n * (n - 1) // 2
    return elapsed / n * 1e6, "us"


def bench_spawn_n(g, n):
    """Fire-and-forget spawns that bump a counter; yield until all ran: us per spawn."""
    counter = [0]

    def bump():
        counter[0] += 1

    start = time.perf_counter()
    for _ in range(n):
        g["spawn_raw"](bump)
    while counter[0] < n:        # let the hub run every queued green thread
        g["sleep"](0)
    elapsed = time.perf_counter() - start
    return elapsed / n * 1e6, "us"


def ping_pong(g, n, make_chan):
    """Ping-pong an int n round trips over a pair of channels: ns per switch.

    One round trip = 2 switches (main -> pong -> main).
    """
    to_pong, to_ping = make_chan(), make_chan()

    def pong():
        for _ in range(n):
            to_ping.put(to_pong.get() + 1)

    worker = g["spawn"](pong)
    start = time.perf_counter()
    x = 0
    for _ in range(n):
        to_pong.put(x)
        x = to_ping.get()
    elapsed = time.perf_counter() - start
    g["join"](worker)
    assert x == n
    return elapsed / (2 * n) * 1e9, "ns"


def bench_switch_channel(g, n):
    return ping_pong(g, n, g["channel"])


def bench_switch_queue(g, n):
    return ping_pong(g, n, g["queue"])


def rss_bytes():
    """Current resident set size, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def bench_memory(g, n):
    """RSS growth per parked green thread (each blocked on one Event): bytes.

    An Event is used rather than sleep(1000) + kill: one wake-up that lets all
    of them return frees them much faster than killing 100k one by one.
    """
    started, finished = [0], [0]
    gate = g["event"]()

    def parked():
        started[0] += 1
        gate.wait()
        finished[0] += 1

    g["sleep"](0)                 # warm up the hub before the baseline
    before = rss_bytes()
    threads = [g["spawn"](parked) for _ in range(n)]
    while started[0] < n:         # yield until every thread has started and parked
        g["sleep"](0)
    after = rss_bytes()
    # Free them again: open the gate, let all of them run to completion.
    g["fire"](gate)
    while finished[0] < n:
        g["sleep"](0)
    del threads
    return (after - before) / n, "bytes"


def bench_imap(g, n):
    """GreenPool(100).imap of (sleep(0); return x*2) over range(n): items/s."""
    def work(x):
        g["sleep"](0)
        return x * 2

    pool = g["pool"](100)
    start = time.perf_counter()
    count = 0
    for _ in pool.imap(work, range(n)):
        count += 1
    elapsed = time.perf_counter() - start
    assert count == n
    return n / elapsed, "items/s"


SCENARIOS = {
    "spawn": bench_spawn,
    "spawn_n": bench_spawn_n,
    "switch_channel": bench_switch_channel,
    "switch_queue": bench_switch_queue,
    "memory": bench_memory,
    "imap": bench_imap,
}


def main(argv):
    lib = argv[1] if len(argv) > 1 else "?"
    name = argv[2] if len(argv) > 2 else "?"
    result = {"name": name, "lib": lib}
    try:
        if len(argv) not in (3, 4):
            raise ValueError("usage: green_reference.py LIB SCENARIO [N]")
        if name not in SCENARIOS:
            raise ValueError("unknown SCENARIO %r (expected one of %s)"
                             % (name, ", ".join(SCENARIOS)))
        n = int(argv[3]) if len(argv) == 4 else DEFAULT_N
        if n <= 0:
            raise ValueError("N must be positive")
        result["n"] = n
        g = load_lib(lib)
        value, unit = SCENARIOS[name](g, n)
        result = {"name": name, "lib": lib, "value": round(value, 3),
                  "unit": unit, "n": n}
    except Exception as e:  # report any failure as a JSON line, never a traceback
        result["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
