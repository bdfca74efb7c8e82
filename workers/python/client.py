"""A client written from docs/protocol.md with pyzmq alone.

    python3 client.py DISPATCHER_CLIENT_ENDPOINT COLLECTOR_CLIENT_ENDPOINT HANDLER PAYLOAD...

Submits one job per payload (all in flight at once), waits for every outcome, and prints one line
per job in submission order: `job-id status result`.
"""
import sys
import zmq
from evy_protocol import *


def options():
    # priority, not-before, max-retries (255: the dispatcher's default), timeout, dedup key,
    # concurrency key, concurrency limit, spacing
    return Writer().u8(0).u64(0).u8(255).u32(0).string("").string("").u16(0).u32(0).bytes()


def main():
    dispatcher_endpoint, collector_endpoint, handler = sys.argv[1:4]
    payloads = [p.encode() for p in sys.argv[4:]]
    context = zmq.Context()
    dispatcher, collector = context.socket(zmq.DEALER), context.socket(zmq.DEALER)
    for s in (dispatcher, collector):
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 20000)
    dispatcher.connect(dispatcher_endpoint)
    collector.connect(collector_endpoint)
    for request, payload in enumerate(payloads, start=1):
        header = Writer().u64(request).string(handler).raw(options()).bytes()
        dispatcher.send_multipart(frames(SUBMIT, header, payload))
    ids = {}
    while len(ids) < len(payloads):
        command, header, _ = split(dispatcher.recv_multipart())
        if command == ERROR:
            raise SystemExit("refused: %r" % (header.data,))
        assert command == SUBMITTED
        request, job, _duplicate = header.u64(), header.u64(), header.u8()
        ids[request] = job
    order = [ids[request] for request in range(1, len(payloads) + 1)]
    collector.send_multipart(frames(WAIT, Writer().u64(1000).u32(len(order)).raw(b"".join(
        Writer().u64(job).bytes() for job in order)).bytes()))
    outcomes = {}
    while len(outcomes) < len(order):
        command, header, payload = split(collector.recv_multipart())
        if command != OUTCOME:
            continue
        _request, job, _attempt, status = header.u64(), header.u64(), header.u32(), header.u8()
        outcomes[job] = (status, payload.decode())
    for job in order:
        print(job, outcomes[job][0], outcomes[job][1])
    context.destroy(linger=0)


if __name__ == "__main__":
    main()
