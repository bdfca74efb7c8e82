"""Actors for the Dramatiq reference benchmark (see dramatiq_jobs.py).

Two users of this module:

* the driver, dramatiq_jobs.py, which imports it and calls build() to get a
  broker and the actors it sends to (it can build two brokers in one process:
  one with the Results middleware and one without);
* the worker processes, which the `dramatiq` command line starts as
  `python3 -m dramatiq --path <this folder> dramatiq_actors:broker`.
  There the module-level code below builds the broker from environment
  variables, because the command line has no way to pass arguments to it:
    EVY_DRAMATIQ_REDIS    redis URL, e.g. redis://127.0.0.1:6390/0 (required)
    EVY_DRAMATIQ_RESULTS  "1" (default): Results middleware + Redis result
                          backend, actors store_results=True;
                          "0": no result backend, a counter instead.

Both sides must declare the same actors with the same options, which is why
they share build().
"""
import os
import threading
import types

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

#: Redis key the CountDone middleware increments (no-results mode only).
DONE_KEY = "evybench:done"
#: Redis key it increments when an actor raised.
FAILED_KEY = "evybench:failed"


class CountDone(dramatiq.Middleware):
    """Counts finished messages in Redis, for the no-results mode.

    Without a result backend nothing else records that a job ran, so after
    each message the worker INCRs a counter the driver polls.  One Redis
    round trip per job, about what storing a result costs.
    """

    def __init__(self, redis_url):
        self.client = redis.Redis.from_url(redis_url)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.client.incr(FAILED_KEY if exception is not None else DONE_KEY)


# --- the jobs -----------------------------------------------------------

def noop(i):
    """The no-op job: returns its argument, so the driver can check it."""
    return i


# One requests.Session per worker thread: keep-alive connections to the
# server, as a real crawler job would keep them.
_local = threading.local()


def fetch(url):
    """HTTP GET of url; the result is [status, body length]."""
    session = getattr(_local, "session", None)
    if session is None:
        import requests  # only the fetch workers pay for importing requests
        session = _local.session = requests.Session()
    response = session.get(url, timeout=30)
    return [response.status_code, len(response.content)]


# --- broker and actors -------------------------------------------------------

def build(redis_url, with_results=True):
    """Return (broker, actors) where actors has .noop and .fetch.

    with_results=True is the "submit -> recorded" configuration: the Results
    middleware with the Redis result backend and store_results=True, so a job
    counts as done once its result is stored in Redis.
    """
    broker = RedisBroker(url=redis_url)
    options = {"max_retries": 0}  # a failed job is reported, never retried
    if with_results:
        broker.add_middleware(Results(backend=RedisBackend(url=redis_url)))
        options["store_results"] = True
    else:
        broker.add_middleware(CountDone(redis_url))
    actors = types.SimpleNamespace(
        noop=dramatiq.actor(noop, broker=broker, **options),
        fetch=dramatiq.actor(fetch, broker=broker, **options),
    )
    return broker, actors


# Worker side: `dramatiq dramatiq_actors:broker` imports this module and uses
# the attribute `broker`.  The driver imports it without the variable set and
# builds its own brokers.
if os.environ.get("EVY_DRAMATIQ_REDIS"):
    broker, actors = build(
        os.environ["EVY_DRAMATIQ_REDIS"],
        os.environ.get("EVY_DRAMATIQ_RESULTS", "1") == "1",
    )
    dramatiq.set_broker(broker)
