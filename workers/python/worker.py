"""A worker written from docs/protocol.md with pyzmq alone.

    python3 worker.py DISPATCHER_WORKER_ENDPOINT COLLECTOR_RESULT_ENDPOINT [SLOTS]

Serves `py-echo` (returns the payload) and `py-upper` (returns it in upper case). Prints "ready"
once it has its WELCOME; stops on SIGTERM.
"""
import os, signal, socket, sys, time
import zmq
from evy_protocol import *

HANDLERS = {"py-echo": lambda data: data, "py-upper": lambda data: data.upper()}


def main():
    dispatcher_endpoint, collector_endpoint = sys.argv[1], sys.argv[2]
    slots = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    context = zmq.Context()
    dispatcher = context.socket(zmq.DEALER)
    collector = context.socket(zmq.DEALER)
    for s in (dispatcher, collector):
        s.setsockopt(zmq.LINGER, 0)
    dispatcher.connect(dispatcher_endpoint)
    collector.connect(collector_endpoint)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))

    def ready():
        header = (Writer().u8(1).string("python-%d" % os.getpid()).string(socket.gethostname()).u32(os.getpid())
                  .u32(slots).u32(1000).strings(sorted(HANDLERS)).u32(0).bytes())
        dispatcher.send_multipart(frames(READY, header))

    ready()
    poller = zmq.Poller()
    poller.register(dispatcher, zmq.POLLIN)
    poller.register(collector, zmq.POLLIN)
    unrecorded, attempts, last_beat, welcomed = {}, {}, time.time(), False
    while running[0]:
        for sock, _ in poller.poll(100):
            command, header, payload = split(sock.recv_multipart())
            if command == WELCOME and not welcomed:
                welcomed = True
                print("ready", flush=True)
            elif command == JOB:
                job, attempt, handler, _timeout = header.u64(), header.u32(), header.string(), header.u32()
                token = header.u64() if header.remaining() >= 8 else 0  # echoed: proof the job was given
                started = time.time()
                output = HANDLERS[handler](payload)
                writer = Writer().u64(job).u32(attempt).string(handler).u8(0).u64(int((time.time() - started) * 1e6))
                if token:
                    writer.u64(token)
                result = frames(RESULT, writer.bytes(), output)
                unrecorded[job] = result
                attempts[job] = attempt
                collector.send_multipart(result)
                dispatcher.send_multipart(frames(CREDIT, Writer().u32(1).bytes()))
            elif command == RECORDED:
                for job in header.u64s():
                    unrecorded.pop(job, None)
                    attempts.pop(job, None)
            elif command == ERROR:
                request, code = header.u64(), header.u16()
                if code == 409 and sock is dispatcher:
                    ready()  # the dispatcher does not know us (it restarted): introduce ourselves again
                elif code == 409 and request in unrecorded:
                    # The collector refused the result (its lease token): give the job back to be run again.
                    unrecorded.pop(request)
                    failed = Writer().u64(request).u32(attempts.pop(request)).u8(1).string("result refused by the collector")
                    dispatcher.send_multipart(frames(FAILED, failed.bytes()))
        if time.time() - last_beat >= 1.0:
            last_beat = time.time()
            dispatcher.send_multipart(frames(HEARTBEAT, b""))
            for result in unrecorded.values():  # not confirmed yet: send again
                collector.send_multipart(result)
    context.destroy(linger=0)


if __name__ == "__main__":
    main()
