/* The C side of the cross-language tests: one program, one role per invocation.
 *
 *   chan-write  NAME COUNT WAIT CAP   send COUNT quotes (half by copy, half loaned in place),
 *                                     print "SENT <count> <checksum>"
 *   chan-read   NAME COUNT WAIT CAP   receive COUNT quotes in place, check every byte, then
 *                                     wait for the writer's disconnect;
 *                                     print "RECV <count> <checksum> DISCONNECTED"
 *   chan-drain  NAME WAIT             read until disconnected; print "FIRST <seq>" at the first
 *                                     message and "DRAINED <count> <last seq>" at the end
 *   chan-endless NAME                 send forever (until killed), slowly; "READY" once attached
 *   park-read   NAME ROUNDS           receive ROUNDS quotes with a parking reader; "GOT <seq>"
 *   park-write  NAME ROUNDS           send one quote per line read from stdin; "SENT <seq>"
 *   stream-write NAME COUNT WAIT CAP  COUNT messages of four types interleaved on a stream
 *   stream-read  NAME COUNT WAIT CAP  the same, read in place and checked, then disconnect
 *   chan-corrupt NAME                 open a (scribbled) channel and read what it yields;
 *   stream-corrupt NAME               print "RESULT <code>" and exit 0 unless it crashed
 *   stream-fuzz NAME SEED ITERS       scribble random bytes over an open stream and read,
 *                                     re-opening after header scribbles; "FUZZED <n>"
 *
 * Exit status: 0 success, 2 usage, 3 a message differs from what the writer must have sent,
 * 4 an unexpected flatipc error (printed as "ERR <code> <text>").
 * Message contents are a function of their sequence number, defined identically in
 * tests/crosslang/src/lib.rs.
 */
#include "flatipc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market_data.h"

static const flatipc_message QUOTE = FLATIPC_MESSAGE(market_data_Quote);
static const flatipc_message LIBRARY[4] = {
    FLATIPC_MESSAGE(market_data_Trade),
    FLATIPC_MESSAGE(market_data_Quote),
    FLATIPC_MESSAGE(market_data_BookSnapshot),
    FLATIPC_MESSAGE(market_data_StatusChange),
};

#define TIMEOUT_NS INT64_C(30000000000)

static void fail(int code, const char *what) {
    printf("ERR %d %s: %s\n", code, what, flatipc_strerror(code));
    fflush(stdout);
    exit(4);
}

static uint64_t fold(uint64_t h, uint64_t x) { return (h ^ x) * UINT64_C(0x100000001b3); }

/* Folds `size` bytes (a multiple of 8) as little-endian 64-bit words. */
static uint64_t fold_bytes(uint64_t h, const void *p, size_t size) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i + 8 <= size; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = fold(h, w);
    }
    return h;
}

#define FOLD_INIT UINT64_C(0xcbf29ce484222325)

static void make_symbol(market_common_Symbol *s, uint64_t seq) {
    s->len = (uint32_t)(1 + seq % 16);
    for (uint32_t i = 0; i < s->len; i++) {
        s->data[i] = (char)('A' + (seq + i) % 26);
    }
}

static void make_quote(market_data_Quote *q, uint64_t seq) {
    memset(q, 0, sizeof *q);
    q->exchange_ts_ns = seq * 1000 + 7;
    q->receive_ts_ns = seq ^ 0x5555u;
    q->sequence = seq;
    make_symbol(&q->symbol, seq);
    q->bid.mantissa = (int64_t)(seq * 3) - 1000;
    q->bid.exponent = -2;
    q->ask.mantissa = q->bid.mantissa + 1 + (int64_t)(seq % 5);
    q->ask.exponent = -2;
    q->bid_size = (uint32_t)seq;
    q->ask_size = (uint32_t)(seq >> 3) ^ 0xABCDu;
    q->venue = (market_data_Venue)(1 + seq % 4);
    q->status = (market_data_TradingStatus)(seq % 4);
}

static void make_trade(market_data_Trade *t, uint64_t seq) {
    memset(t, 0, sizeof *t);
    t->exchange_ts_ns = seq * 10 + 1;
    t->receive_ts_ns = seq * 10 + 2;
    t->sequence = seq;
    make_symbol(&t->symbol, seq);
    t->price.mantissa = (int64_t)(seq * 7) - 3;
    t->price.exponent = -4;
    t->quantity = (uint32_t)(seq % 1000 + 1);
    t->venue = (market_data_Venue)(1 + seq % 4);
    t->flags = (market_data_TradeFlags)(seq & 0xFu);
    t->is_block = (uint8_t)(seq & 1u);
}

static void make_ladder(market_data_Ladder *l, uint32_t len, int64_t base) {
    l->len = len;
    for (uint32_t i = 0; i < len; i++) {
        l->items[i].price.mantissa = base + (int64_t)i;
        l->items[i].price.exponent = -2;
        l->items[i].quantity = i + 1;
        l->items[i].order_count = (uint16_t)i;
    }
}

static void make_book(market_data_BookSnapshot *b, uint64_t seq) {
    memset(b, 0, sizeof *b);
    b->exchange_ts_ns = seq;
    b->sequence = seq;
    make_symbol(&b->symbol, seq);
    b->venue = (market_data_Venue)(1 + seq % 4);
    make_ladder(&b->bids, (uint32_t)(seq % 11), (int64_t)seq);
    make_ladder(&b->asks, (uint32_t)((seq / 11) % 11), (int64_t)seq + 100);
    b->auction_prices[0].mantissa = (int64_t)seq;
    b->auction_prices[1].mantissa = (int64_t)seq + 1;
}

static void make_status(market_data_StatusChange *s, uint64_t seq) {
    memset(s, 0, sizeof *s);
    s->exchange_ts_ns = seq;
    make_symbol(&s->symbol, seq);
    s->status = (market_data_TradingStatus)(seq % 4);
    s->reason.len = (uint32_t)(seq % 65);
    for (uint32_t i = 0; i < s->reason.len; i++) {
        s->reason.data[i] = (char)('a' + (seq + i) % 26);
    }
    s->expected_resume_ns = seq * 3;
}

/* The stream's message number `seq`: which type, built into `buf` (>= 568 bytes, aligned). */
static const flatipc_message *make_any(void *buf, uint64_t seq) {
    switch ((seq ^ (seq >> 3) ^ (seq >> 7)) % 4) {
    case 0: make_trade((market_data_Trade *)buf, seq); return &LIBRARY[0];
    case 1: make_quote((market_data_Quote *)buf, seq); return &LIBRARY[1];
    case 2: make_book((market_data_BookSnapshot *)buf, seq); return &LIBRARY[2];
    default: make_status((market_data_StatusChange *)buf, seq); return &LIBRARY[3];
    }
}

typedef union any_message {
    market_data_Trade trade;
    market_data_Quote quote;
    market_data_BookSnapshot book;
    market_data_StatusChange status;
} any_message;

static flatipc_wait parse_wait(const char *s) {
    if (strcmp(s, "spin") == 0) {
        return flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    }
    if (strcmp(s, "yield") == 0) {
        return flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_YIELD, 100);
    }
    return flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 2000);
}

static flatipc_options options(const char *wait, const char *cap) {
    flatipc_options o = flatipc_options_default();
    o.wait = parse_wait(wait);
    o.capacity = strtoull(cap, NULL, 10);
    return o;
}

/* ---------------------------------------------------------------------------------------- */

static int chan_write(const char *name, uint64_t count, flatipc_options o) {
    flatipc_channel_writer w;
    int rc = flatipc_channel_writer_open_or_create(&w, name, &QUOTE, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "writer attach");
    }
    uint64_t start = flatipc_channel_writer_position(&w);
    uint64_t h = FOLD_INIT;
    for (uint64_t seq = start; seq < start + count; seq++) {
        if (seq % 2 == 0) {
            market_data_Quote q;
            make_quote(&q, seq);
            rc = flatipc_channel_writer_send(&w, &q, TIMEOUT_NS);
            h = fold_bytes(h, &q, sizeof q);
        } else {
            void *slot = NULL;
            rc = flatipc_channel_writer_loan_timeout(&w, &slot, TIMEOUT_NS);
            if (rc == FLATIPC_OK) {
                make_quote((market_data_Quote *)slot, seq);
                h = fold_bytes(h, slot, sizeof(market_data_Quote));
                rc = flatipc_channel_writer_commit(&w);
            }
        }
        if (rc != FLATIPC_OK) {
            fail(rc, "send");
        }
    }
    printf("SENT %" PRIu64 " %016" PRIx64 "\n", count, h);
    flatipc_channel_writer_close(&w);
    return 0;
}

static int chan_read(const char *name, uint64_t count, flatipc_options o) {
    flatipc_channel_reader r;
    int rc = flatipc_channel_reader_open_or_create(&r, name, &QUOTE, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "reader attach");
    }
    uint64_t h = FOLD_INIT;
    uint64_t expected_seq = flatipc_channel_reader_position(&r);
    for (uint64_t n = 0; n < count; n++) {
        const void *msg;
        rc = flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS);
        if (rc != FLATIPC_OK) {
            fail(rc, "recv");
        }
        market_data_Quote want;
        make_quote(&want, expected_seq);
        if (memcmp(msg, &want, sizeof want) != 0) {
            printf("MISMATCH at %" PRIu64 " (sequence field %" PRIu64 ")\n", expected_seq,
                   ((const market_data_Quote *)msg)->sequence);
            return 3;
        }
        h = fold_bytes(h, msg, sizeof want);
        expected_seq++;
        flatipc_channel_reader_release(&r);
    }
    const void *msg;
    rc = flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS);
    printf("RECV %" PRIu64 " %016" PRIx64 " %s\n", count, h,
           rc == FLATIPC_E_DISCONNECTED ? "DISCONNECTED" : flatipc_strerror(rc));
    flatipc_channel_reader_close(&r);
    return 0;
}

static int chan_drain(const char *name, flatipc_wait wait) {
    flatipc_channel_reader r;
    flatipc_options o = flatipc_options_default();
    o.wait = wait;
    o.capacity = 64;
    int rc = flatipc_channel_reader_open_or_create(&r, name, &QUOTE, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "reader attach");
    }
    printf("READY\n");
    fflush(stdout);
    uint64_t n = 0, next = 0;
    for (;;) {
        const void *msg;
        rc = flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS);
        if (rc == FLATIPC_E_DISCONNECTED) {
            break;
        }
        if (rc != FLATIPC_OK) {
            fail(rc, "recv");
        }
        uint64_t seq = ((const market_data_Quote *)msg)->sequence;
        market_data_Quote want;
        make_quote(&want, seq);
        if (memcmp(msg, &want, sizeof want) != 0 || (n > 0 && seq != next)) {
            printf("MISMATCH at %" PRIu64 " (expected %" PRIu64 ")\n", seq, next);
            return 3;
        }
        if (n == 0) {
            printf("FIRST %" PRIu64 "\n", seq);
            fflush(stdout);
        }
        n++;
        next = seq + 1;
        flatipc_channel_reader_release(&r);
    }
    printf("DRAINED %" PRIu64 " %" PRIu64 "\n", n, next);
    flatipc_channel_reader_close(&r);
    return 0;
}

static int chan_endless(const char *name) {
    flatipc_channel_writer w;
    flatipc_options o = flatipc_options_default();
    o.capacity = 64;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 2000);
    int rc = flatipc_channel_writer_open_or_create(&w, name, &QUOTE, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "writer attach");
    }
    printf("READY\n");
    fflush(stdout);
    for (uint64_t seq = flatipc_channel_writer_position(&w);; seq++) {
        market_data_Quote q;
        make_quote(&q, seq);
        rc = flatipc_channel_writer_send(&w, &q, -1);
        if (rc != FLATIPC_OK) {
            fail(rc, "send");
        }
        if (seq % 64 == 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static int park_read(const char *name, uint64_t rounds) {
    flatipc_channel_reader r;
    flatipc_options o = flatipc_options_default();
    o.capacity = 64;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 100);
    int rc = flatipc_channel_reader_open_or_create(&r, name, &QUOTE, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "reader attach");
    }
    printf("READY\n");
    fflush(stdout);
    for (uint64_t i = 0; i < rounds; i++) {
        const void *msg;
        rc = flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS);
        if (rc != FLATIPC_OK) {
            fail(rc, "recv");
        }
        printf("GOT %" PRIu64 "\n", ((const market_data_Quote *)msg)->sequence);
        fflush(stdout);
        flatipc_channel_reader_release(&r);
    }
    flatipc_channel_reader_close(&r);
    return 0;
}

static int park_write(const char *name, uint64_t rounds) {
    flatipc_channel_writer w;
    flatipc_options o = flatipc_options_default();
    o.capacity = 64;
    int rc = flatipc_channel_writer_open_or_create(&w, name, &QUOTE, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "writer attach");
    }
    printf("READY\n");
    fflush(stdout);
    char line[64];
    for (uint64_t i = 0; i < rounds && fgets(line, sizeof line, stdin) != NULL; i++) {
        market_data_Quote q;
        make_quote(&q, i);
        rc = flatipc_channel_writer_try_send(&w, &q);
        if (rc != FLATIPC_OK) {
            fail(rc, "send");
        }
        printf("SENT %" PRIu64 "\n", i);
        fflush(stdout);
    }
    flatipc_channel_writer_close(&w);
    return 0;
}

static int stream_write(const char *name, uint64_t count, flatipc_options o) {
    flatipc_stream_writer w;
    int rc = flatipc_stream_writer_open_or_create(&w, name, LIBRARY, 4, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "stream writer attach");
    }
    uint64_t h = FOLD_INIT;
    any_message m;
    for (uint64_t seq = 0; seq < count; seq++) {
        const flatipc_message *type = make_any(&m, seq);
        if (seq % 3 == 0) {
            void *dst = NULL;
            rc = flatipc_stream_writer_loan_timeout(&w, type->id, type->size, &dst, TIMEOUT_NS);
            if (rc == FLATIPC_OK) {
                make_any(dst, seq);
                rc = flatipc_stream_writer_commit(&w);
            }
        } else {
            rc = flatipc_stream_writer_send(&w, type->id, type->size, &m, TIMEOUT_NS);
        }
        if (rc != FLATIPC_OK) {
            fail(rc, "stream send");
        }
        h = fold(h, type->id);
        h = fold_bytes(h, &m, type->size);
    }
    printf("SENT %" PRIu64 " %016" PRIx64 "\n", count, h);
    flatipc_stream_writer_close(&w);
    return 0;
}

static int stream_read(const char *name, uint64_t count, flatipc_options o) {
    flatipc_stream_reader r;
    int rc = flatipc_stream_reader_open_or_create(&r, name, LIBRARY, 4, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "stream reader attach");
    }
    uint64_t h = FOLD_INIT;
    any_message want;
    for (uint64_t seq = 0; seq < count; seq++) {
        flatipc_frame f;
        rc = flatipc_stream_reader_recv(&r, &f, TIMEOUT_NS);
        if (rc != FLATIPC_OK) {
            fail(rc, "stream recv");
        }
        const flatipc_message *type = make_any(&want, seq);
        const void *got = flatipc_frame_get(&f, type);
        if (got == NULL || memcmp(got, &want, type->size) != 0 || f.version != 0) {
            printf("MISMATCH at %" PRIu64 " (id 0x%" PRIx32 " size %" PRIu32 ")\n", seq, f.id,
                   f.size);
            return 3;
        }
        h = fold(h, f.id);
        h = fold_bytes(h, got, f.size);
        flatipc_stream_reader_release(&r);
    }
    flatipc_frame f;
    rc = flatipc_stream_reader_recv(&r, &f, TIMEOUT_NS);
    printf("RECV %" PRIu64 " %016" PRIx64 " %s\n", count, h,
           rc == FLATIPC_E_DISCONNECTED ? "DISCONNECTED" : flatipc_strerror(rc));
    flatipc_stream_reader_close(&r);
    return 0;
}

/* Reads every byte of a message so that the sanitizers check the access. */
static volatile unsigned char sink;
static void touch(const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    unsigned char x = 0;
    for (size_t i = 0; i < n; i++) {
        x ^= b[i];
    }
    sink = x;
}

static int chan_corrupt(const char *name) {
    flatipc_channel_reader r;
    int rc = flatipc_channel_reader_open(&r, name, &QUOTE, flatipc_wait_default());
    if (rc != FLATIPC_OK) {
        printf("RESULT %d %s\n", rc, r.end.seg.detail.field ? r.end.seg.detail.field : "-");
        return 0;
    }
    for (int i = 0; i < 100000; i++) {
        const void *msg;
        rc = flatipc_channel_reader_try_recv(&r, &msg);
        if (rc != FLATIPC_OK) {
            break;
        }
        touch(msg, sizeof(market_data_Quote));
        flatipc_channel_reader_release(&r);
    }
    printf("RESULT %d %s\n", rc, rc == FLATIPC_E_CORRUPT ? "positions" : "-");
    flatipc_channel_reader_close(&r);
    return 0;
}

static int stream_corrupt(const char *name) {
    flatipc_stream_reader r;
    int rc = flatipc_stream_reader_open(&r, name, LIBRARY, 4, flatipc_wait_default());
    if (rc != FLATIPC_OK) {
        printf("RESULT %d %s\n", rc, r.end.seg.detail.field ? r.end.seg.detail.field : "-");
        return 0;
    }
    for (int i = 0; i < 100000; i++) {
        flatipc_frame f;
        rc = flatipc_stream_reader_try_recv(&r, &f);
        if (rc != FLATIPC_OK) {
            break;
        }
        touch(f.data, f.size);
        flatipc_stream_reader_release(&r);
    }
    printf("RESULT %d %s\n", rc, r.end.seg.detail.field ? r.end.seg.detail.field : "-");
    flatipc_stream_reader_close(&r);
    return 0;
}

static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Puts the segment back as it was (through `raw`, while no handle is open) and re-opens it. */
static void fuzz_restore(flatipc_stream_reader *r, const char *name, uint8_t *raw,
                         const uint8_t *pristine, size_t size) {
    flatipc_stream_reader_close(r);
    memcpy(raw, pristine, size);
    int rc = flatipc_stream_reader_open(r, name, LIBRARY, 4, flatipc_wait_default());
    if (rc != FLATIPC_OK) {
        fail(rc, "re-open of the restored segment");
    }
}

static int valid_code(int rc) { return rc <= 0 && rc >= FLATIPC_E_IO; }

/* Scribbles random values over a stream (positions, frame headers, header bytes) through a
 * mapping of its own and reads after each scribble with a reader handle: every call must
 * return a valid code, and every frame it yields must lie in the ring (ASan checks the reads).
 * After an error the segment is sometimes restored from a pristine copy, so that the run keeps
 * exploring instead of staying on the first corruption. */
static int stream_fuzz(const char *name, uint64_t seed, uint64_t iters) {
    char path[160];
    flatipc_i_path(path, sizeof path, name);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fail(FLATIPC_E_IO, "fuzz open");
    }
    size_t size = (size_t)st.st_size;
    uint8_t *raw = (uint8_t *)mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint8_t *pristine = (uint8_t *)malloc(size);
    if (raw == MAP_FAILED || pristine == NULL) {
        fail(FLATIPC_E_IO, "fuzz map");
    }
    memcpy(pristine, raw, size);
    rng_state = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    flatipc_stream_reader r;
    int rc = flatipc_stream_reader_open(&r, name, LIBRARY, 4, flatipc_wait_default());
    if (rc != FLATIPC_OK) {
        fail(rc, "fuzz reader open");
    }
    uint64_t reopened = 0, refused = 0, frames = 0, errors = 0;
    for (uint64_t it = 0; it < iters; it++) {
        uint64_t what = rng() % 8;
        uint64_t value = rng();
        uint64_t capacity = r.end.seg.capacity;
        if (what <= 1) {
            /* The writer's position (the reader's own is cached in its handle). */
            uint64_t pos = flatipc_stream_reader_position(&r);
            uint64_t v = what == 0 ? pos + value % (2 * capacity) : value;
            __atomic_store_n((uint64_t *)(void *)(raw + FLATIPC_I_OFF_WRITE_POS), v,
                             __ATOMIC_RELAXED);
        } else if (what <= 4) {
            /* A frame header word somewhere in the data area. */
            uint64_t off = FLATIPC_DATA_OFFSET + (rng() % (size - FLATIPC_DATA_OFFSET)) / 4 * 4;
            uint32_t v = (uint32_t)value;
            if (what == 3) {
                v = (uint32_t)(value % 1200);
            } else if (what == 4) {
                v = FLATIPC_PADDING_ID;
            }
            __atomic_store_n((uint32_t *)(void *)(raw + off), v, __ATOMIC_RELAXED);
        } else {
            /* A header byte (identity, geometry, message table, peers, positions), then a
             * re-open: validation must refuse it with a code or accept it cleanly. */
            uint64_t off = rng() % 2700;
            __atomic_store_n(raw + off, (uint8_t)value, __ATOMIC_RELAXED);
            flatipc_stream_reader_close(&r);
            rc = flatipc_stream_reader_open(&r, name, LIBRARY, 4, flatipc_wait_default());
            reopened++;
            if (rc != FLATIPC_OK) {
                if (!valid_code(rc)) {
                    printf("BAD CODE %d\n", rc);
                    return 3;
                }
                refused++;
                memcpy(raw, pristine, size);
                rc = flatipc_stream_reader_open(&r, name, LIBRARY, 4, flatipc_wait_default());
                if (rc != FLATIPC_OK) {
                    fail(rc, "re-open of the restored segment");
                }
                continue;
            }
        }
        for (int k = 0; k < 64; k++) {
            flatipc_frame f;
            rc = flatipc_stream_reader_try_recv(&r, &f);
            if (rc != FLATIPC_OK) {
                if (!valid_code(rc)) {
                    printf("BAD CODE %d\n", rc);
                    return 3;
                }
                errors++;
                if (rc != FLATIPC_E_EMPTY && rc != FLATIPC_E_DISCONNECTED && rng() % 4 == 0) {
                    fuzz_restore(&r, name, raw, pristine, size);
                }
                break;
            }
            if ((const uint8_t *)f.data < r.end.data ||
                (const uint8_t *)f.data + f.size > r.end.data + r.end.seg.data_size) {
                printf("FRAME OUTSIDE THE RING\n");
                return 3;
            }
            touch(f.data, f.size);
            frames++;
            flatipc_stream_reader_release(&r);
        }
        if (it % 97 == 96) {
            fuzz_restore(&r, name, raw, pristine, size);
        }
    }
    printf("FUZZED %" PRIu64 " iterations: %" PRIu64 " re-opens (%" PRIu64 " refused), %" PRIu64
           " frames, %" PRIu64 " errors\n",
           iters, reopened, refused, frames, errors);
    flatipc_stream_reader_close(&r);
    free(pristine);
    (void)munmap(raw, size);
    (void)close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROLE NAME ...\n", argv[0]);
        return 2;
    }
    const char *role = argv[1];
    const char *name = argv[2];
    uint64_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 6 && strcmp(role, "chan-write") == 0) {
        return chan_write(name, n, options(argv[4], argv[5]));
    }
    if (argc == 6 && strcmp(role, "chan-read") == 0) {
        return chan_read(name, n, options(argv[4], argv[5]));
    }
    if (argc == 4 && strcmp(role, "chan-drain") == 0) {
        return chan_drain(name, parse_wait(argv[3]));
    }
    if (strcmp(role, "chan-endless") == 0) {
        return chan_endless(name);
    }
    if (argc == 4 && strcmp(role, "park-read") == 0) {
        return park_read(name, n);
    }
    if (argc == 4 && strcmp(role, "park-write") == 0) {
        return park_write(name, n);
    }
    if (argc == 6 && strcmp(role, "stream-write") == 0) {
        return stream_write(name, n, options(argv[4], argv[5]));
    }
    if (argc == 6 && strcmp(role, "stream-read") == 0) {
        return stream_read(name, n, options(argv[4], argv[5]));
    }
    if (strcmp(role, "chan-corrupt") == 0) {
        return chan_corrupt(name);
    }
    if (strcmp(role, "stream-corrupt") == 0) {
        return stream_corrupt(name);
    }
    if (argc == 5 && strcmp(role, "stream-fuzz") == 0) {
        return stream_fuzz(name, n, strtoull(argv[4], NULL, 10));
    }
    fprintf(stderr, "unknown role or arguments: %s\n", role);
    return 2;
}
