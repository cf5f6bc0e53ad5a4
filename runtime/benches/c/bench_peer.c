/* The C side of the channel benchmark's C rows (runtime/benches/channel.rs compiles and runs
 * it): the same message, rings and loops as the Rust rows, through runtime/include/flatipc.h.
 *
 *   bench_peer echo   REQ RESP FINGERPRINT          receive on REQ, send each message back on RESP
 *   bench_peer driver REQ RESP FINGERPRINT WARM N   round trips; prints N latencies (ns), one a line
 *   bench_peer reader NAME FINGERPRINT COUNT        creates NAME, receives COUNT, prints msgs/s
 *   bench_peer writer NAME FINGERPRINT COUNT        sends COUNT messages on NAME
 *
 * Every role prints READY once its rings are attached. FLATIPC_BENCH_CPU=<n> pins the process.
 * The message is the bench's 64-byte `Msg { u64 seq; u64 payload[7]; }` (id 1). */
#include "flatipc.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Msg {
    uint64_t seq;
    uint64_t payload[7];
} Msg;

#define STOP UINT64_MAX

static flatipc_message msg_type(const char *fingerprint) {
    flatipc_message m;
    memset(&m, 0, sizeof m); /* no version steps: "one step (1, size, fingerprint)" */
    m.fingerprint = strtoull(fingerprint, NULL, 16);
    m.id = 1;
    m.size = sizeof(Msg);
    m.align = _Alignof(Msg);
    m.name = "Msg";
    return m;
}

static void pin(void) {
    const char *cpu = getenv("FLATIPC_BENCH_CPU");
    if (cpu != NULL && *cpu != '\0') {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(cpu), &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            perror("sched_setaffinity");
            exit(2);
        }
    }
}

static void ready(void) {
    printf("READY\n");
    fflush(stdout);
}

static void check(int rc, const char *what) {
    if (rc != FLATIPC_OK) {
        fprintf(stderr, "bench_peer: %s: %s\n", what, flatipc_strerror(rc));
        exit(1);
    }
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static flatipc_options spin_options(uint64_t capacity) {
    flatipc_options o = flatipc_options_default();
    o.capacity = capacity;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    return o;
}

/* Receives on req and sends each message back on resp (copy), like the Rust "echo" role. */
static int echo(const char *req, const char *resp, const flatipc_message *type) {
    flatipc_channel_reader r;
    flatipc_channel_writer w;
    flatipc_wait spin = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    check(flatipc_channel_reader_open(&r, req, type, spin), "open request reader");
    check(flatipc_channel_writer_open(&w, resp, type, spin), "open response writer");
    ready();
    for (;;) {
        const void *m = NULL;
        check(flatipc_channel_reader_recv(&r, &m, -1), "echo recv");
        uint64_t seq = ((const Msg *)m)->seq;
        check(flatipc_channel_writer_try_send(&w, m), "echo send");
        check(flatipc_channel_reader_release(&r), "echo release");
        if (seq == STOP) {
            break;
        }
    }
    flatipc_channel_writer_close(&w);
    flatipc_channel_reader_close(&r);
    return 0;
}

/* One round trip: loan + commit on the request ring, recv on the response ring. */
static void round_trip(flatipc_channel_writer *w, flatipc_channel_reader *r, uint64_t seq) {
    void *slot = NULL;
    check(flatipc_channel_writer_loan(w, &slot), "loan");
    ((Msg *)slot)->seq = seq;
    check(flatipc_channel_writer_commit(w), "commit");
    const void *m = NULL;
    check(flatipc_channel_reader_recv(r, &m, -1), "recv");
    if (((const Msg *)m)->seq != seq) {
        fprintf(stderr, "bench_peer: round trip %" PRIu64 " came back as %" PRIu64 "\n", seq,
                ((const Msg *)m)->seq);
        exit(1);
    }
    check(flatipc_channel_reader_release(r), "release");
}

/* Creates both rings, then times n round trips after warm (one clock read per round trip, as
 * the Rust rows do) and prints each latency. */
static int driver(const char *req, const char *resp, const flatipc_message *type, uint64_t warm,
                  uint64_t n) {
    flatipc_channel_writer w;
    flatipc_channel_reader r;
    flatipc_options o = spin_options(64);
    check(flatipc_channel_writer_create(&w, req, type, &o), "create request ring");
    check(flatipc_channel_reader_create(&r, resp, type, &o), "create response ring");
    ready();
    uint64_t *lat = malloc(n * sizeof *lat);
    if (lat == NULL) {
        return 1;
    }
    for (uint64_t seq = 1; seq <= warm; seq++) {
        round_trip(&w, &r, seq);
    }
    uint64_t prev = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        round_trip(&w, &r, warm + 1 + i);
        uint64_t t = now_ns();
        lat[i] = t - prev;
        prev = t;
    }
    round_trip(&w, &r, STOP);
    for (uint64_t i = 0; i < n; i++) {
        printf("%" PRIu64 "\n", lat[i]);
    }
    free(lat);
    flatipc_channel_writer_close(&w);
    flatipc_channel_reader_close(&r);
    return 0;
}

/* Creates the ring, receives count messages (checking each sequence number) and prints the
 * rate from the first one on, as the Rust throughput rows measure it. */
static int reader(const char *name, const flatipc_message *type, uint64_t count) {
    flatipc_channel_reader r;
    flatipc_options o = spin_options(4096);
    check(flatipc_channel_reader_create(&r, name, type, &o), "create ring");
    ready();
    uint64_t t0 = 0;
    for (uint64_t next = 0; next < count; next++) {
        const void *m = NULL;
        check(flatipc_channel_reader_recv(&r, &m, -1), "recv");
        if (((const Msg *)m)->seq != next) {
            fprintf(stderr, "bench_peer: message %" PRIu64 " out of order\n", next);
            return 1;
        }
        check(flatipc_channel_reader_release(&r), "release");
        if (next == 0) {
            t0 = now_ns();
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("%.1f\n", (double)(count - 1) / secs);
    flatipc_channel_reader_close(&r);
    return 0;
}

/* Sends count messages with the blocking send (spinning), like the Rust "writer" role. */
static int writer(const char *name, const flatipc_message *type, uint64_t count) {
    flatipc_channel_writer w;
    check(flatipc_channel_writer_open(&w, name, type, flatipc_wait_make(FLATIPC_WAIT_SPIN, 0)),
          "open ring");
    ready();
    Msg m;
    for (uint64_t seq = 0; seq < count; seq++) {
        m.seq = seq;
        for (int k = 0; k < 7; k++) {
            m.payload[k] = seq;
        }
        check(flatipc_channel_writer_send(&w, &m, -1), "send");
    }
    flatipc_channel_writer_close(&w);
    return 0;
}

int main(int argc, char **argv) {
    pin();
    if (argc == 5 && strcmp(argv[1], "echo") == 0) {
        flatipc_message type = msg_type(argv[4]);
        return echo(argv[2], argv[3], &type);
    }
    if (argc == 7 && strcmp(argv[1], "driver") == 0) {
        flatipc_message type = msg_type(argv[4]);
        return driver(argv[2], argv[3], &type, strtoull(argv[5], NULL, 10),
                      strtoull(argv[6], NULL, 10));
    }
    if (argc == 5 && strcmp(argv[1], "reader") == 0) {
        flatipc_message type = msg_type(argv[3]);
        return reader(argv[2], &type, strtoull(argv[4], NULL, 10));
    }
    if (argc == 5 && strcmp(argv[1], "writer") == 0) {
        flatipc_message type = msg_type(argv[3]);
        return writer(argv[2], &type, strtoull(argv[4], NULL, 10));
    }
    fprintf(stderr, "usage: see the comment at the top of bench_peer.c\n");
    return 2;
}
