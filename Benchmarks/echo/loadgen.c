/* The load generator of `evy-bench echo`: CONNECTIONS clients over loopback, each sending a
   SIZE-byte request and waiting for its echo, again and again for SECONDS. One thread, epoll,
   so that it is not the bottleneck. Prints one JSON line: requests per second and latencies.
   Usage: loadgen PORT CONNECTIONS SECONDS SIZE [lines]   (lines: each request ends with \n) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: loadgen PORT CONNECTIONS SECONDS SIZE\n"); return 2; }
    int port = atoi(argv[1]), connections = atoi(argv[2]), size = atoi(argv[4]);
    double seconds = atof(argv[3]);
    char request[65536];
    memset(request, 'x', size);
    if (argc > 5 && strcmp(argv[5], "lines") == 0) request[size - 1] = '\n';
    int *fds = calloc(connections, sizeof *fds);
    int *received = calloc(connections, sizeof *received);
    uint64_t *sent_at = calloc(connections, sizeof *sent_at);
    size_t capacity = 1 << 20, samples = 0;
    uint32_t *latencies = malloc(capacity * sizeof *latencies);
    int epoll = epoll_create1(0), one = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < connections; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&address, sizeof address)) { perror("connect"); return 1; }
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fds[i], &event);
    }
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < connections; i++) {
        sent_at[i] = now_ns();
        if (write(fds[i], request, size) != size) { perror("write"); return 1; }
    }
    uint64_t completed = 0;
    struct epoll_event events[512];
    char buffer[65536];
    while (now_ns() < end) {
        int count = epoll_wait(epoll, events, 512, 100);
        for (int e = 0; e < count; e++) {
            int i = events[e].data.u32;
            ssize_t n = read(fds[i], buffer, sizeof buffer);
            if (n <= 0) { fprintf(stderr, "server closed a connection\n"); return 1; }
            received[i] += n;
            if (received[i] < size) continue;
            received[i] = 0;
            uint64_t t = now_ns();
            if (samples == capacity) { capacity *= 2; latencies = realloc(latencies, capacity * sizeof *latencies); }
            latencies[samples++] = (uint32_t)((t - sent_at[i]) / 1000);
            completed++;
            sent_at[i] = t;
            if (write(fds[i], request, size) != size) { perror("write"); return 1; }
        }
    }
    double elapsed = (now_ns() - start) / 1e9;
    qsort(latencies, samples, sizeof *latencies, compare);
    uint32_t p50 = samples ? latencies[samples / 2] : 0, p99 = samples ? latencies[(size_t)(samples * 0.99)] : 0;
    printf("{\"requests\": %llu, \"rps\": %.1f, \"p50_us\": %u, \"p99_us\": %u}\n",
           (unsigned long long)completed, completed / elapsed, p50, p99);
    return 0;
}
