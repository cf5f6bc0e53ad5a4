/* A ThreadSanitizer stress run of the broadcast rings in one C process: a writer thread, a
 * tethered reader thread and a lossy reader thread on a named typed ring, then on a named
 * broadcast stream. Built with -fsanitize=thread by build.rs; run by tests/broadcast.rs.
 *
 *   tsan NAME COUNT    -> "TSAN <kind> <tethered received> <lossy received> <lossy missed>"
 *
 * Every handle maps the segment itself, and ThreadSanitizer tracks memory by virtual address,
 * so three handles with three mappings would never look shared to it. The ends are therefore
 * pointed at one common mapping of the same file (identical bytes: it is MAP_SHARED) once
 * they have attached, and given back their own before they close. Exit status 0, or 3 when a
 * message differs, 4 on an unexpected flatipc error. */
#include "flatipc.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "market_data.h"

static const flatipc_message QUOTE = FLATIPC_MESSAGE(market_data_Quote);
static const flatipc_message LIBRARY[2] = {
    FLATIPC_MESSAGE(market_data_Quote),
    FLATIPC_MESSAGE(market_data_Trade),
};

static uint64_t count;
static uint8_t *common_map;

static void fail(int code, const char *what) {
    printf("ERR %d %s: %s\n", code, what, flatipc_strerror(code));
    fflush(stdout);
    exit(4);
}

static void make(market_data_Quote *q, uint64_t seq) {
    memset(q, 0, sizeof *q);
    q->sequence = seq;
    q->exchange_ts_ns = seq * 3 + 1;
    q->bid_size = (uint32_t)seq;
    q->symbol.len = (uint32_t)(seq % 16);
}

/* Points a handle's segment at the common mapping (returns its own base). */
static uint8_t *use_common(flatipc_segment *s, uint8_t **data) {
    uint8_t *own = s->base;
    s->base = common_map;
    *data = common_map + FLATIPC_DATA_OFFSET;
    return own;
}

static void use_own(flatipc_segment *s, uint8_t **data, uint8_t *own) {
    s->base = own;
    *data = own + FLATIPC_DATA_OFFSET;
}

typedef struct ends {
    int framed;
    flatipc_broadcast_writer w;
    flatipc_broadcast_reader t, l;
    flatipc_broadcast_stream_writer sw;
    flatipc_broadcast_stream_reader st, sl;
    market_data_Quote copy;
    uint64_t tethered, lossy, missed;
} ends;

static void *writer(void *arg) {
    ends *e = (ends *)arg;
    flatipc_segment *s = e->framed ? &e->sw.end.seg : &e->w.end.seg;
    uint8_t **data = e->framed ? &e->sw.end.data : &e->w.end.data;
    uint8_t *own = use_common(s, data);
    market_data_Quote q, staging;
    for (uint64_t seq = 0; seq < count; seq++) {
        int rc;
        make(&q, seq);
        if (seq % 2 == 0) {
            rc = e->framed ? flatipc_broadcast_stream_writer_send(&e->sw, QUOTE.id, QUOTE.size, &q,
                                                                  -1)
                           : flatipc_broadcast_writer_send(&e->w, &q, -1);
        } else {
            rc = e->framed ? flatipc_broadcast_stream_writer_loan(&e->sw, QUOTE.id, QUOTE.size,
                                                                  &staging)
                           : flatipc_broadcast_writer_loan(&e->w, &staging);
            if (rc == FLATIPC_OK) {
                make(&staging, seq);
                rc = e->framed ? flatipc_broadcast_stream_writer_commit(&e->sw, -1)
                               : flatipc_broadcast_writer_commit(&e->w, -1);
            }
        }
        if (rc != FLATIPC_OK) {
            fail(rc, "send");
        }
    }
    use_own(s, data, own);
    if (e->framed) {
        flatipc_broadcast_stream_writer_close(&e->sw);
    } else {
        flatipc_broadcast_writer_close(&e->w);
    }
    return NULL;
}

/* Receives until the disconnect; checks each message against its position. */
static void *reader(void *arg, int lossy) {
    ends *e = (ends *)arg;
    flatipc_broadcast_reader *r = lossy ? &e->l : &e->t;
    flatipc_broadcast_stream_reader *sr = lossy ? &e->sl : &e->st;
    flatipc_segment *s = e->framed ? &sr->end.seg : &r->end.seg;
    uint8_t **data = e->framed ? &sr->end.data : &r->end.data;
    uint8_t *own = use_common(s, data);
    uint64_t received = 0, next = 0;
    for (;;) {
        const void *msg;
        uint64_t position, missed;
        int rc;
        if (e->framed) {
            flatipc_broadcast_frame f;
            rc = flatipc_broadcast_stream_reader_recv(sr, &f, INT64_C(30000000000));
            msg = flatipc_broadcast_frame_get(&f, &QUOTE);
            position = f.position;
            missed = f.missed;
        } else {
            flatipc_broadcast_message m;
            rc = flatipc_broadcast_reader_recv(r, &m, INT64_C(30000000000));
            msg = m.data;
            position = m.position;
            missed = m.missed;
        }
        if (rc == FLATIPC_E_DISCONNECTED) {
            break;
        }
        if (rc != FLATIPC_OK) {
            fail(rc, lossy ? "lossy recv" : "tethered recv");
        }
        market_data_Quote want;
        make(&want, position);
        if (msg == NULL || memcmp(msg, &want, sizeof want) != 0 || position != next + missed ||
            (!lossy && missed != 0)) {
            printf("MISMATCH at %" PRIu64 " (expected %" PRIu64 ")\n", position, next);
            exit(3);
        }
        received++;
        next = position + 1;
        rc = e->framed ? flatipc_broadcast_stream_reader_release(sr)
                       : flatipc_broadcast_reader_release(r);
        if (rc != FLATIPC_OK) {
            fail(rc, "release");
        }
    }
    if (lossy) {
        e->lossy = received;
        e->missed = e->framed ? flatipc_broadcast_stream_reader_missed(sr)
                              : flatipc_broadcast_reader_missed(r);
    } else {
        e->tethered = received;
    }
    use_own(s, data, own);
    if (e->framed) {
        flatipc_broadcast_stream_reader_close(sr);
    } else {
        flatipc_broadcast_reader_close(r);
    }
    return NULL;
}

static void *tethered(void *arg) { return reader(arg, 0); }
static void *lossy(void *arg) { return reader(arg, 1); }

static int run(const char *name, int framed) {
    static ends e;
    memset(&e, 0, sizeof e);
    e.framed = framed;
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 64;
    o.max_readers = 4;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 200);
    flatipc_broadcast_reader_options ro = flatipc_broadcast_reader_options_default();
    ro.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 200);
    flatipc_broadcast_reader_options lo = ro;
    lo.policy = FLATIPC_POLICY_LOSSY;
    lo.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_YIELD, 10);
    lo.buffer = &e.copy;
    lo.buffer_size = sizeof e.copy;
    int rc;
    if (framed) {
        rc = flatipc_broadcast_stream_writer_create(&e.sw, name, LIBRARY, 2, &o);
        if (rc == FLATIPC_OK) {
            rc = flatipc_broadcast_stream_reader_open(&e.st, name, LIBRARY, 2, &ro);
        }
        if (rc == FLATIPC_OK) {
            rc = flatipc_broadcast_stream_reader_open(&e.sl, name, LIBRARY, 2, &lo);
        }
    } else {
        rc = flatipc_broadcast_writer_create(&e.w, name, &QUOTE, &o);
        if (rc == FLATIPC_OK) {
            rc = flatipc_broadcast_reader_open(&e.t, name, &QUOTE, &ro);
        }
        if (rc == FLATIPC_OK) {
            rc = flatipc_broadcast_reader_open(&e.l, name, &QUOTE, &lo);
        }
    }
    if (rc != FLATIPC_OK) {
        fail(rc, "attach");
    }
    const flatipc_segment *s = framed ? &e.sw.end.seg : &e.w.end.seg;
    common_map =
        (uint8_t *)mmap(NULL, (size_t)s->len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (common_map == MAP_FAILED) {
        fail(FLATIPC_E_IO, "mmap");
    }
    size_t len = (size_t)s->len;
    pthread_t threads[3];
    pthread_create(&threads[0], NULL, tethered, &e);
    pthread_create(&threads[1], NULL, lossy, &e);
    pthread_create(&threads[2], NULL, writer, &e);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
    }
    (void)munmap(common_map, len);
    (void)flatipc_segment_remove(name);
    printf("TSAN %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", framed ? "stream" : "typed",
           e.tethered, e.lossy, e.missed);
    if (e.tethered != count || e.lossy + e.missed != count) {
        printf("COUNTS DIFFER\n");
        return 3;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME COUNT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    count = strtoull(argv[2], NULL, 10);
    char name[128];
    snprintf(name, sizeof name, "%s-typed", argv[1]);
    int rc = run(name, 0);
    if (rc == 0) {
        snprintf(name, sizeof name, "%s-stream", argv[1]);
        rc = run(name, 1);
    }
    return rc;
}
