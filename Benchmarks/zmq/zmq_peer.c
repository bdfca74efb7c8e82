/* The blocking C reference of `evy-bench zmq-pushpull` and `zmq-reqrep`: one role per process.
   Usage: zmq_peer push|pull|req|rep ENDPOINT COUNT SIZE
   pull and rep bind (ENDPOINT may be tcp://127.0.0.1:* for a port the system picks) and print
   "ready ENDPOINT" with the port resolved; push and req connect. pull prints {"msgs_per_s": ...} over the COUNT messages
   (timed from the first); req prints {"round_trip_us": ...}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: zmq_peer push|pull|req|rep ENDPOINT COUNT SIZE\n"); return 2; }
    const char *role = argv[1], *endpoint = argv[2];
    long count = atol(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    char *buffer = calloc(1, size > 256 ? size : 256);
    void *context = zmq_ctx_new();
    int type = !strcmp(role, "push") ? ZMQ_PUSH : !strcmp(role, "pull") ? ZMQ_PULL
             : !strcmp(role, "req") ? ZMQ_REQ : ZMQ_REP;
    void *socket = zmq_socket(context, type);
    int linger = 1000;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_PULL || type == ZMQ_REP) {
        if (zmq_bind(socket, endpoint)) { perror("bind"); return 1; }
        char bound[256];
        size_t length = sizeof bound;
        if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, bound, &length)) { perror("ZMQ_LAST_ENDPOINT"); return 1; }
        printf("ready %s\n", bound);
        fflush(stdout);
    } else if (zmq_connect(socket, endpoint)) { perror("connect"); return 1; }
    if (type == ZMQ_PUSH) {
        for (long i = 0; i < count; i++) zmq_send(socket, buffer, size, 0);
    } else if (type == ZMQ_PULL) {
        zmq_recv(socket, buffer, size, 0);
        double start = now();
        for (long i = 1; i < count; i++) zmq_recv(socket, buffer, size, 0);
        printf("{\"msgs_per_s\": %.1f}\n", (count - 1) / (now() - start));
    } else if (type == ZMQ_REP) {
        for (long i = 0; i < count; i++) {
            int n = zmq_recv(socket, buffer, size, 0);
            zmq_send(socket, buffer, n < 0 ? 0 : (size_t)n, 0);
        }
    } else {
        zmq_send(socket, buffer, size, 0);
        zmq_recv(socket, buffer, size, 0);
        double start = now();
        for (long i = 1; i < count; i++) {
            zmq_send(socket, buffer, size, 0);
            zmq_recv(socket, buffer, size, 0);
        }
        printf("{\"round_trip_us\": %.2f}\n", (now() - start) * 1e6 / (count - 1));
    }
    zmq_close(socket);
    zmq_ctx_term(context);
    return 0;
}
