/* The C side of the cross-language tests: one program, one role per invocation.
 *
 *   chan-write  NAME COUNT WAIT CAP   send COUNT quotes (half by copy, half loaned in place),
 *                                     print "SENT <count> <checksum>"
 *   chan-read   NAME COUNT WAIT CAP   receive COUNT quotes in place, check every byte, then
 *                                     wait for the writer's disconnect;
 *                                     print "RECV <count> <checksum> DISCONNECTED"
 *   chan-drain  NAME WAIT             read until disconnected; print "FIRST <seq>" at the first
 *                                     message and "DRAINED <count> <last seq> <n>" at the end,
 *                                     n: how many of 5000 try_recv after it say disconnected
 *   chan-endless NAME                 send forever (until killed), slowly; "READY" once attached
 *   park-read   NAME ROUNDS           receive ROUNDS quotes with a parking reader; "GOT <seq>"
 *   park-write  NAME ROUNDS           send one quote per line read from stdin; "SENT <seq>"
 *   stream-write NAME COUNT WAIT CAP  COUNT messages of four types interleaved on a stream
 *   stream-read  NAME COUNT WAIT CAP  the same, read in place and checked, then disconnect
 *   chan-corrupt NAME                 open a (scribbled) channel and read what it yields;
 *   stream-corrupt NAME               print "RESULT <code>" and exit 0 unless it crashed
 *   stream-fuzz NAME SEED ITERS       scribble random bytes over an open stream and read,
 *                                     re-opening after header scribbles; "FUZZED <n>"
 *   evo-chan NAME                     versions 2, 3 and 5 of Quote on one typed channel
 *                                     (epochs, merges, zero-extension, refusals, a lost epoch);
 *                                     "EVO-CHAN OK"
 *   evo-stream-read NAME COUNT        a version-3 reader of a version-2 stream: "EVO-READ ..."
 *   evo-stream-write NAME COUNT       a version-3 writer on a version-2 stream: "SENT ..."
 *   chan-epoch NAME                   read a channel with a scribbled epoch table; "RESULT
 *                                     <code> <field> <delivered> <skipped> <last code>"
 *   evo-bcast NAME                    versions 2, 3 and 5 of Quote on typed broadcast rings
 *                                     (tethered, lossy and oldest-first readers of another
 *                                     version, refusals, a lost epoch, a diverged writer met);
 *                                     "EVO-BCAST OK"
 *   evo-bstream NAME                  the same on broadcast streams; "EVO-BSTREAM OK"
 *
 *
 * Broadcast rings: "bcast-*" roles use the typed ring of quotes (kind 3), "bstream-*" the
 * broadcast stream of the four interleaved types (kind 4); CAP is in slots.
 *   bcast-write / bstream-write NAME COUNT WAIT CAP   send COUNT (send, try_send, loan+commit)
 *   bcast-read  / bstream-read  NAME COUNT WAIT CAP   a tethered reader: "READY", then every
 *                                     message checked, "RECV <count> <checksum> DISCONNECTED"
 *   bcast-lossy / bstream-lossy NAME WAIT CAP         a lossy reader: "READY", then
 *                                     "LOSSY <received> <missed> <missed total> DISCONNECTED"
 *   bcast-hold NAME [WAIT]            a tethered reader that never reads (until killed)
 *   bcast-park-read NAME ROUNDS       a parking tethered reader: "GOT <seq>" per message
 *   bcast-park-write NAME ROUNDS      one quote per stdin line
 *   bcast-endless / bstream-endless NAME   send for ever, slowly
 *   bcast-drain / bstream-drain NAME  a tethered and a lossy reader of a writer that is killed
 *   bcast-reclaim NAME CAP            a writer whose tethered readers the test kills
 *   bcast-corrupt / bstream-corrupt NAME   readers of a scribbled ring (see bcast_corrupt)
 *   bcast-write-scribbled / bstream-write-scribbled NAME COUNT   a writer over a scribbled
 *                                     reader table: "RESULT <code> <sent> <fulls>"
 *   bcast-fuzz / bstream-fuzz NAME SEED ITERS   random scribbles, all three ends
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
    /* Once told "disconnected", the reader keeps being told so (not "empty" until its next
     * periodic liveness check). */
    uint64_t still = 0;
    for (int i = 0; i < 5000; i++) {
        const void *msg;
        still += flatipc_channel_reader_try_recv(&r, &msg) == FLATIPC_E_DISCONNECTED;
    }
    printf("DRAINED %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", n, next, still);
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
        if (got == NULL || memcmp(got, &want, type->size) != 0 ||
            f.version != market_data_Quote_VERSION || f.widened != 0) {
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

static int valid_code(int rc) {
    return (rc <= 0 && rc >= FLATIPC_E_IO) || rc == FLATIPC_E_VERSION_MISMATCH;
}

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

/* ---------------------------------------------------------------------------------------- */
/* Schema evolution (docs/EVOLUTION.md §4-§5) in the C runtime. Version 3 of market.data's
 * Quote is written here by hand, as a later release of the schema would generate it: the
 * version-2 layout, then one member added at version 3. Its version-3 fingerprint stands in
 * for the real one (no Rust peer here knows version 3). QUOTE_V3_DIVERGED added something else
 * at version 3; QUOTE_V5 outgrew the slots of a channel made for version 2. */

typedef struct quote_v3 {
    market_data_Quote v2;
    uint64_t venue_seq; /* added at version 3 */
} quote_v3;

typedef struct quote_v5 {
    quote_v3 v3;
    uint64_t more[12]; /* added at version 5 */
} quote_v5;

#define QUOTE_V3_FP UINT64_C(0x0003c0ffee0003ab)
#define QUOTE_V3_DIVERGED_FP UINT64_C(0x0003dead0003beef)
#define QUOTE_V5_FP UINT64_C(0x0005c0ffee0005ab)

static const flatipc_gen_version_step QUOTE_V3_STEPS[2] = {
    {1u, (uint32_t)sizeof(market_data_Quote), market_data_Quote_FINGERPRINT},
    {3u, (uint32_t)sizeof(quote_v3), QUOTE_V3_FP},
};
static const flatipc_gen_version_step QUOTE_V3_DIVERGED_STEPS[2] = {
    {1u, (uint32_t)sizeof(market_data_Quote), market_data_Quote_FINGERPRINT},
    {3u, (uint32_t)sizeof(quote_v3), QUOTE_V3_DIVERGED_FP},
};
static const flatipc_gen_version_step QUOTE_V5_STEPS[3] = {
    {1u, (uint32_t)sizeof(market_data_Quote), market_data_Quote_FINGERPRINT},
    {3u, (uint32_t)sizeof(quote_v3), QUOTE_V3_FP},
    {5u, (uint32_t)sizeof(quote_v5), QUOTE_V5_FP},
};
static const flatipc_message QUOTE_V3 = {
    QUOTE_V3_FP, market_data_Quote_MESSAGE_ID, (uint32_t)sizeof(quote_v3),
    (uint32_t)_Alignof(quote_v3), "quote_v3", 3u, QUOTE_V3_STEPS, 2u};
static const flatipc_message QUOTE_V3_DIVERGED = {
    QUOTE_V3_DIVERGED_FP, market_data_Quote_MESSAGE_ID, (uint32_t)sizeof(quote_v3),
    (uint32_t)_Alignof(quote_v3), "quote_v3_diverged", 3u, QUOTE_V3_DIVERGED_STEPS, 2u};
static const flatipc_message QUOTE_V5 = {
    QUOTE_V5_FP, market_data_Quote_MESSAGE_ID, (uint32_t)sizeof(quote_v5),
    (uint32_t)_Alignof(quote_v5), "quote_v5", 5u, QUOTE_V5_STEPS, 3u};

static void make_quote_v3(quote_v3 *q, uint64_t seq) {
    make_quote(&q->v2, seq);
    q->venue_seq = seq * 7 + 1;
}

/* Exits with status 3 (and says why) unless `ok`. */
static void expect(int ok, const char *what, long long got) {
    if (!ok) {
        printf("MISMATCH %s (got %lld)\n", what, got);
        fflush(stdout);
        exit(3);
    }
}

static void expect_code(int got, int want, const char *what) {
    if (got != want) {
        printf("MISMATCH %s: %d (%s), expected %d (%s)\n", what, got, flatipc_strerror(got), want,
               flatipc_strerror(want));
        fflush(stdout);
        exit(3);
    }
}

/* Whether `q` is message `seq` as a reader of version 3 sees it: the version-2 prefix, and
 * venue_seq from a version-3 writer or 0 (zero-extended) from an older one. */
static int quote_v3_matches(const quote_v3 *q, uint64_t seq, int from_v3) {
    market_data_Quote want;
    make_quote(&want, seq);
    return memcmp(&q->v2, &want, sizeof want) == 0 &&
           q->venue_seq == (from_v3 ? seq * 7 + 1 : 0);
}

static uint64_t epoch_word(const uint8_t *base, size_t offset) {
    return __atomic_load_n((const uint64_t *)(const void *)(base + offset), __ATOMIC_ACQUIRE);
}

static uint64_t epoch_meta(uint16_t version, uint64_t seq, uint32_t size) {
    return (uint64_t)version | seq << 16 | (uint64_t)size << 32;
}

/* One C process, versions 2, 3 and 5 of Quote on one typed channel (kind 1): epochs, the
 * merge of steps, zero-extension, in-place prefixes, refusals and a lost epoch. Prints
 * "EVO-CHAN OK" or exits 3 at the first difference. */
static int evo_chan(const char *name) {
    flatipc_wait spin = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    flatipc_options o = flatipc_options_default();
    o.capacity = 16;
    o.wait = spin;
    flatipc_channel_writer w;
    flatipc_channel_reader r;
    const void *msg = NULL;
    market_data_Quote q2;
    quote_v3 q3;
    /* A version-2 writer creates the ring (slots of 128 bytes) and records epoch 0. */
    expect_code(flatipc_channel_writer_create(&w, name, &QUOTE, &o), FLATIPC_OK, "v2 create");
    for (uint64_t seq = 0; seq < 3; seq++) {
        make_quote(&q2, seq);
        expect_code(flatipc_channel_writer_try_send(&w, &q2), FLATIPC_OK, "v2 send");
    }
    const uint8_t *b = w.end.seg.base;
    expect(epoch_word(b, FLATIPC_I_OFF_EPOCHS) == 1, "epochs after the creator", 0);
    expect(epoch_word(b, 2432) == 0 && epoch_word(b, 2440) == epoch_meta(2, 0, 96),
           "epoch 0 is (0, version 2, 96 bytes)", (long long)epoch_word(b, 2440));
    /* A version-3 reader: the older, smaller messages need a buffer; it stays at them. */
    expect_code(flatipc_channel_reader_open(&r, name, &QUOTE_V3, spin), FLATIPC_OK, "v3 reader");
    expect_code(flatipc_channel_reader_try_recv(&r, &msg), FLATIPC_E_NEEDS_BUFFER, "no buffer");
    expect_code(flatipc_channel_reader_recv(&r, &msg, 0), FLATIPC_E_NEEDS_BUFFER, "no buffer");
    expect(flatipc_channel_reader_position(&r) == 0, "the reader stays at the message", 0);
    expect(r.end.seg.detail.found == 96 && r.end.seg.detail.expected == 104, "detail", 0);
    static union {
        quote_v3 q;
        unsigned char bytes[2 * sizeof(quote_v3)];
    } buffer;
    expect_code(flatipc_channel_reader_set_buffer(&r, &buffer, sizeof(quote_v3) - 1),
                FLATIPC_E_INVALID_ARGUMENT, "buffer too small");
    expect_code(flatipc_channel_reader_set_buffer(&r, buffer.bytes + 4, sizeof(quote_v3)),
                FLATIPC_E_INVALID_ARGUMENT, "misaligned buffer");
    expect_code(flatipc_channel_reader_set_buffer(&r, &buffer.q, sizeof buffer.q), FLATIPC_OK,
                "set_buffer");
    for (uint64_t seq = 0; seq < 3; seq++) {
        memset(&buffer, 0xA5, sizeof buffer); /* zero-extension must clear what it covers */
        expect_code(flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS), FLATIPC_OK, "widened");
        expect(msg == &buffer.q && quote_v3_matches(&buffer.q, seq, 0), "zero-extended v2",
               (long long)seq);
        expect(buffer.bytes[sizeof(quote_v3)] == 0xA5, "never past the reader's size", 0);
        expect(flatipc_channel_reader_version(&r) == 2 && flatipc_channel_reader_size(&r) == 96,
               "writer version and size", flatipc_channel_reader_version(&r));
        expect_code(flatipc_channel_reader_release(&r), FLATIPC_OK, "release");
    }
    /* The same writer type again continues epoch 0. */
    flatipc_channel_writer_close(&w);
    expect_code(flatipc_channel_writer_open(&w, name, &QUOTE, spin), FLATIPC_OK, "v2 again");
    make_quote(&q2, 3);
    expect_code(flatipc_channel_writer_try_send(&w, &q2), FLATIPC_OK, "v2 send");
    expect(epoch_word(b, FLATIPC_I_OFF_EPOCHS) == 1, "the same version continues its epoch", 0);
    flatipc_channel_writer_close(&w);
    /* A version-3 writer merges its steps and records epoch 1 from position 4. */
    expect_code(flatipc_channel_writer_open(&w, name, &QUOTE_V3, spin), FLATIPC_OK, "v3 writer");
    b = w.end.seg.base;
    expect(flatipc_i_ld8(b, 128 + 20) == 1 && flatipc_i_ld8(b, 128 + 21) == 3 &&
               flatipc_i_ld8(b, 128 + 22) == 0,
           "versions [1, 3] merged", flatipc_i_ld8(b, 128 + 21));
    expect(flatipc_i_ld64(b, 3072 + 8, __ATOMIC_RELAXED) == QUOTE_V3_FP &&
               flatipc_i_ld32(b, 128 + 12, __ATOMIC_RELAXED) == 104 &&
               flatipc_i_ld64(b, 128, __ATOMIC_RELAXED) == QUOTE_V3_FP,
           "version 3's fingerprint and size merged", 0);
    expect(epoch_word(b, FLATIPC_I_OFF_EPOCHS) == 2 && epoch_word(b, 2448) == 4 &&
               epoch_word(b, 2456) == epoch_meta(3, 1, 104),
           "epoch 1 is (4, version 3, 104 bytes)", (long long)epoch_word(b, 2456));
    for (uint64_t seq = 4; seq < 6; seq++) {
        make_quote_v3(&q3, seq);
        expect_code(flatipc_channel_writer_try_send(&w, &q3), FLATIPC_OK, "v3 send");
    }
    expect_code(flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS), FLATIPC_OK, "v2 after v3");
    expect(msg == &buffer.q && quote_v3_matches(&buffer.q, 3, 0), "message 3 zero-extended", 0);
    expect_code(flatipc_channel_reader_release(&r), FLATIPC_OK, "release");
    for (uint64_t seq = 4; seq < 6; seq++) {
        expect_code(flatipc_channel_reader_recv(&r, &msg, TIMEOUT_NS), FLATIPC_OK, "v3 in place");
        expect(msg != &buffer.q && quote_v3_matches((const quote_v3 *)msg, seq, 1),
               "version 3 in place", (long long)seq);
        expect(flatipc_channel_reader_version(&r) == 3 && flatipc_channel_reader_size(&r) == 104,
               "writer version 3", flatipc_channel_reader_version(&r));
        expect_code(flatipc_channel_reader_release(&r), FLATIPC_OK, "release");
    }
    flatipc_channel_reader_close(&r);
    /* A version-2 reader reads version 3's prefix in place. */
    expect_code(flatipc_channel_reader_open(&r, name, &QUOTE, spin), FLATIPC_OK, "v2 reader");
    make_quote_v3(&q3, 6);
    expect_code(flatipc_channel_writer_try_send(&w, &q3), FLATIPC_OK, "v3 send");
    expect_code(flatipc_channel_reader_try_recv(&r, &msg), FLATIPC_OK, "v2 reads v3");
    make_quote(&q2, 6);
    expect(memcmp(msg, &q2, sizeof q2) == 0 && flatipc_channel_reader_version(&r) == 3 &&
               flatipc_channel_reader_size(&r) == 104,
           "version 2's prefix of version 3", flatipc_channel_reader_version(&r));
    expect_code(flatipc_channel_reader_release(&r), FLATIPC_OK, "release");
    flatipc_channel_writer_close(&w);
    /* Refused writers: a version 3 that diverged, a version 5 that outgrew the slots. */
    int rc = flatipc_channel_writer_open(&w, name, &QUOTE_V3_DIVERGED, spin);
    expect_code(rc, FLATIPC_E_VERSION_MISMATCH, "diverged version 3");
    expect(w.end.seg.detail.found == 3, "first disagreeing version",
           (long long)w.end.seg.detail.found);
    rc = flatipc_channel_writer_open(&w, name, &QUOTE_V5, spin);
    expect_code(rc, FLATIPC_E_CANNOT_UPGRADE, "version 5 in slots of 128 bytes");
    expect(strcmp(w.end.seg.detail.field, "slot_size") == 0, "slot_size", 0);
    b = r.end.seg.base;
    expect(flatipc_i_ld8(b, 128 + 22) == 0, "a refused writer merges nothing", 0);
    /* Message 7, then four writers whose versions alternate attach without sending: epoch 2
     * (holding message 7) is overwritten, so the reader skips it as lost. */
    expect_code(flatipc_channel_writer_open(&w, name, &QUOTE, spin), FLATIPC_OK, "v2 writer");
    make_quote(&q2, 7);
    expect_code(flatipc_channel_writer_try_send(&w, &q2), FLATIPC_OK, "v2 send");
    flatipc_channel_writer_close(&w);
    for (int k = 0; k < 4; k++) {
        expect_code(flatipc_channel_writer_open(&w, name, k % 2 == 0 ? &QUOTE_V3 : &QUOTE, spin),
                    FLATIPC_OK, "alternating writers");
        flatipc_channel_writer_close(&w);
    }
    expect(epoch_word(b, FLATIPC_I_OFF_EPOCHS) == 7, "seven epochs", 0);
    expect_code(flatipc_channel_reader_try_recv(&r, &msg), FLATIPC_E_EPOCH_LOST, "lost epoch");
    expect(r.end.seg.detail.pid_or_position == 7 && flatipc_channel_reader_position(&r) == 8,
           "the message of the lost epoch was skipped",
           (long long)flatipc_channel_reader_position(&r));
    expect_code(flatipc_channel_reader_try_recv(&r, &msg), FLATIPC_E_DISCONNECTED, "drained");
    flatipc_channel_reader_close(&r);
    printf("EVO-CHAN OK\n");
    return 0;
}

/* A reader of version 3 of Quote on a stream a version-2 writer filled (COUNT quotes, then it
 * left): NEEDS_BUFFER without a buffer, then every frame zero-extended into it. Prints
 * "EVO-READ <count> <checksum of the version-2 prefixes> DISCONNECTED". */
static int evo_stream_read(const char *name, uint64_t count) {
    flatipc_stream_reader r;
    flatipc_frame f;
    flatipc_wait spin = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    expect_code(flatipc_stream_reader_open(&r, name, &QUOTE_V3, 1, spin), FLATIPC_OK,
                "v3 stream reader");
    expect_code(flatipc_stream_reader_try_recv(&r, &f), FLATIPC_E_NEEDS_BUFFER, "no buffer");
    expect(flatipc_stream_reader_position(&r) == 0, "the reader stays at the frame", 0);
    static union {
        quote_v3 q;
        FLATIPC_ALIGNAS(16) unsigned char bytes[2 * sizeof(quote_v3)];
    } buffer;
    expect_code(flatipc_stream_reader_set_buffer(&r, buffer.bytes + 8, sizeof(quote_v3)),
                FLATIPC_E_INVALID_ARGUMENT, "misaligned buffer");
    expect_code(flatipc_stream_reader_set_buffer(&r, &buffer, sizeof(quote_v3) - 8),
                FLATIPC_E_INVALID_ARGUMENT, "buffer too small");
    expect_code(flatipc_stream_reader_set_buffer(&r, &buffer, sizeof buffer), FLATIPC_OK,
                "set_buffer");
    uint64_t h = FOLD_INIT;
    for (uint64_t seq = 0; seq < count; seq++) {
        memset(&buffer, 0xA5, sizeof buffer);
        expect_code(flatipc_stream_reader_recv(&r, &f, TIMEOUT_NS), FLATIPC_OK, "recv");
        expect(f.version == market_data_Quote_VERSION && f.size == sizeof(market_data_Quote) &&
                   f.widened == sizeof(quote_v3) && f.data == &buffer.q,
               "a zero-extended version-2 frame", f.widened);
        expect(flatipc_frame_get(&f, &QUOTE_V3) == f.data &&
                   flatipc_frame_get(&f, &QUOTE) == f.data,
               "frame_get of either version", 0);
        expect(quote_v3_matches(&buffer.q, seq, 0) && buffer.bytes[sizeof(quote_v3)] == 0xA5,
               "zero-extended exactly", (long long)seq);
        h = fold_bytes(h, &buffer.q.v2, sizeof buffer.q.v2);
        expect_code(flatipc_stream_reader_release(&r), FLATIPC_OK, "release");
    }
    int rc = flatipc_stream_reader_recv(&r, &f, TIMEOUT_NS);
    printf("EVO-READ %" PRIu64 " %016" PRIx64 " %s\n", count, h,
           rc == FLATIPC_E_DISCONNECTED ? "DISCONNECTED" : flatipc_strerror(rc));
    flatipc_stream_reader_close(&r);
    return 0;
}

/* A writer of version 3 of Quote on an existing stream of version 2 (it merges its steps):
 * COUNT quotes. Prints "SENT <count> <checksum of the version-2 prefixes>". */
static int evo_stream_write(const char *name, uint64_t count) {
    flatipc_stream_writer w;
    int rc = flatipc_stream_writer_open(&w, name, &QUOTE_V3, 1, flatipc_wait_default());
    expect_code(rc, FLATIPC_OK, "v3 stream writer");
    uint64_t h = FOLD_INIT;
    for (uint64_t seq = 0; seq < count; seq++) {
        quote_v3 q;
        make_quote_v3(&q, seq);
        rc = flatipc_stream_writer_send(&w, QUOTE_V3.id, QUOTE_V3.size, &q, TIMEOUT_NS);
        expect_code(rc, FLATIPC_OK, "v3 send");
        h = fold_bytes(h, &q.v2, sizeof q.v2);
    }
    printf("SENT %" PRIu64 " %016" PRIx64 "\n", count, h);
    flatipc_stream_writer_close(&w);
    return 0;
}

/* A reader of a typed channel whose epoch table the test scribbled: reads until the ring is
 * drained, counting what it delivers and what it skips (every error of a message releases
 * it). Prints "RESULT <first error or 0> <its detail field> <delivered> <skipped> <last>". */
static int chan_epoch(const char *name) {
    flatipc_channel_reader r;
    flatipc_wait spin = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    int rc = flatipc_channel_reader_open(&r, name, &QUOTE, spin);
    if (rc != FLATIPC_OK) {
        printf("RESULT %d %s 0 0 %d\n", rc, r.end.seg.detail.field ? r.end.seg.detail.field : "-",
               rc);
        return 0;
    }
    int first = FLATIPC_OK;
    const char *field = "-";
    uint64_t delivered = 0, skipped = 0;
    for (int i = 0; i < 100000; i++) {
        const void *msg;
        uint64_t before = flatipc_channel_reader_position(&r);
        rc = flatipc_channel_reader_try_recv(&r, &msg);
        if (rc == FLATIPC_OK) {
            touch(msg, sizeof(market_data_Quote));
            delivered++;
            flatipc_channel_reader_release(&r);
            continue;
        }
        if (rc != FLATIPC_E_CORRUPT_FRAME && rc != FLATIPC_E_EPOCH_LOST &&
            rc != FLATIPC_E_VERSION_MISMATCH) {
            break;
        }
        expect(flatipc_channel_reader_position(&r) == before + 1 &&
                   r.end.seg.detail.pid_or_position == before,
               "a message whose epoch is unusable is skipped", rc);
        if (first == FLATIPC_OK) {
            first = rc;
            field = r.end.seg.detail.field ? r.end.seg.detail.field : "-";
        }
        skipped++;
    }
    printf("RESULT %d %s %" PRIu64 " %" PRIu64 " %d\n", first, field, delivered, skipped, rc);
    flatipc_channel_reader_close(&r);
    return 0;
}

/* Broadcast rings of versions 2, 3 and 5 of Quote (kinds 3 and 4), all in one C process. */

/* A typed broadcast reader of `type`: tethered or lossy, starting next or at the oldest
 * message, copying into `copy` (NULL: none). */
static int evo_breader(flatipc_broadcast_reader *r, const char *name, const flatipc_message *type,
                       int policy, int start, void *copy, size_t copy_size) {
    flatipc_broadcast_reader_options ro = flatipc_broadcast_reader_options_default();
    ro.policy = policy;
    ro.start = start;
    ro.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    ro.buffer = copy;
    ro.buffer_size = copy_size;
    return flatipc_broadcast_reader_open(r, name, type, &ro);
}

/* Receives message `seq` of writer `version` (2 or 3) with reader `r` of version 3: `data`
 * must be `want_data` (NULL: in place, in the ring), the message a version-3 reader sees. */
static void evo_brecv_v3(flatipc_broadcast_reader *r, uint64_t seq, unsigned version,
                         const void *want_data, const char *what) {
    flatipc_broadcast_message m;
    expect_code(flatipc_broadcast_reader_try_recv(r, &m), FLATIPC_OK, what);
    int in_place = (const uint8_t *)m.data >= r->end.data &&
                   (const uint8_t *)m.data < r->end.data + r->end.seg.data_size;
    expect(want_data == NULL ? in_place : m.data == want_data, what, (long long)seq);
    expect(m.position == seq && quote_v3_matches((const quote_v3 *)m.data, seq, version == 3),
           what, (long long)seq);
    expect(flatipc_broadcast_reader_version(r) == version &&
               flatipc_broadcast_reader_size(r) == (version == 3 ? 104u : 96u),
           "the writer's version and size", flatipc_broadcast_reader_version(r));
    expect_code(flatipc_broadcast_reader_release(r), FLATIPC_OK, "release");
}

/* Versions 2, 3 and 5 of Quote on typed broadcast rings (kind 3): version 3 fills the slots,
 * then version 2 writes over them (its 96 bytes leave version 3's venue_seq behind in each
 * slot); version-3 readers, tethered (in place, then zero-extended into their set_buffer
 * buffer after FLATIPC_E_NEEDS_BUFFER), lossy and from the oldest message (zero-extended in
 * their copies) read version 2 with venue_seq 0; a version-2 reader reads version 3's prefix;
 * a version-5 reader and writer do not fit the slots; a diverged version 3 that takes over a
 * version-2 ring is met by version-3 readers as a version mismatch (skipped); a message whose
 * epoch was overwritten is skipped as lost. "EVO-BCAST OK" or exit 3. */
static int evo_bcast(const char *name) {
    flatipc_wait spin = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 8;
    o.wait = spin;
    flatipc_broadcast_writer w;
    flatipc_broadcast_reader t3, l3, t2, o3, l3b;
    static quote_v3 l3_copy, o3_copy, l3b_copy;
    static union {
        quote_v3 q;
        unsigned char bytes[2 * sizeof(quote_v3)];
    } buffer;
    market_data_Quote q2;
    quote_v3 q3;
    flatipc_broadcast_message m;
    /* Version 3 creates the ring: slots of 128 bytes. */
    expect_code(flatipc_broadcast_writer_create(&w, name, &QUOTE_V3, &o), FLATIPC_OK,
                "v3 create");
    expect_code(evo_breader(&t3, name, &QUOTE_V3, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                            NULL, 0),
                FLATIPC_OK, "v3 tethered reader");
    expect_code(evo_breader(&l3, name, &QUOTE_V3, FLATIPC_POLICY_LOSSY, FLATIPC_START_NEXT,
                            &l3_copy, sizeof l3_copy),
                FLATIPC_OK, "v3 lossy reader");
    /* An older reader attaches to a newer ring (before: the same version only). */
    expect_code(evo_breader(&t2, name, &QUOTE, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                            NULL, 0),
                FLATIPC_OK, "v2 tethered reader of a v3 ring");
    flatipc_broadcast_reader r5;
    expect_code(evo_breader(&r5, name, &QUOTE_V5, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                            NULL, 0),
                FLATIPC_E_CANNOT_UPGRADE, "a v5 reader larger than the slots");
    expect(strcmp(r5.end.seg.detail.field, "slot_size") == 0 &&
               r5.end.seg.detail.found == 256 && r5.end.seg.detail.expected == 128,
           "slot_size detail", (long long)r5.end.seg.detail.found);
    /* One message at a time: a lossy reader of 8 slots keeps up with 7 at most. */
    for (uint64_t seq = 0; seq < 8; seq++) {
        make_quote_v3(&q3, seq);
        expect_code(flatipc_broadcast_writer_try_send(&w, &q3), FLATIPC_OK, "v3 send");
        evo_brecv_v3(&t3, seq, 3, NULL, "v3 in place");
        evo_brecv_v3(&l3, seq, 3, &l3_copy, "v3 copied");
        expect_code(flatipc_broadcast_reader_try_recv(&t2, &m), FLATIPC_OK, "v2 reads v3");
        make_quote(&q2, seq);
        expect(memcmp(m.data, &q2, sizeof q2) == 0 &&
                   flatipc_broadcast_reader_version(&t2) == 3 &&
                   flatipc_broadcast_reader_size(&t2) == 104,
               "version 2's prefix of version 3", (long long)seq);
        expect_code(flatipc_broadcast_reader_release(&t2), FLATIPC_OK, "release");
    }
    flatipc_broadcast_writer_close(&w);
    /* Version 2 takes over: epoch 1 from position 8; its messages land on version 3's. */
    expect_code(flatipc_broadcast_writer_open(&w, name, &QUOTE, spin), FLATIPC_OK, "v2 writer");
    const uint8_t *b = w.end.seg.base;
    expect(epoch_word(b, FLATIPC_I_OFF_EPOCHS) == 2 && epoch_word(b, 2448) == 8 &&
               epoch_word(b, 2456) == epoch_meta(2, 1, 96),
           "epoch 1 is (8, version 2, 96 bytes)", (long long)epoch_word(b, 2456));
    /* 7 messages: the lossy readers, never waited for, are not lapped. */
    for (uint64_t seq = 8; seq < 15; seq++) {
        make_quote(&q2, seq);
        expect_code(flatipc_broadcast_writer_try_send(&w, &q2), FLATIPC_OK, "v2 send");
    }
    /* A tethered reader without a buffer stays at the older message. */
    for (int k = 0; k < 2; k++) {
        expect_code(flatipc_broadcast_reader_try_recv(&t3, &m), FLATIPC_E_NEEDS_BUFFER,
                    "no buffer");
        expect(m.data == NULL && t3.end.seg.detail.pid_or_position == 8 &&
                   t3.end.seg.detail.found == 96 && t3.end.seg.detail.expected == 104,
               "the reader stays at message 8", (long long)t3.end.seg.detail.pid_or_position);
    }
    expect_code(flatipc_broadcast_reader_set_buffer(&t3, &buffer, sizeof(quote_v3) - 1),
                FLATIPC_E_INVALID_ARGUMENT, "buffer too small");
    expect_code(flatipc_broadcast_reader_set_buffer(&t3, buffer.bytes + 4, sizeof(quote_v3)),
                FLATIPC_E_INVALID_ARGUMENT, "misaligned buffer");
    expect_code(flatipc_broadcast_reader_set_buffer(&t3, &buffer.q, sizeof buffer.q), FLATIPC_OK,
                "set_buffer");
    /* A reader starting at the oldest message copies its backlog (positions 8 to 14). */
    expect_code(evo_breader(&o3, name, &QUOTE_V3, FLATIPC_POLICY_TETHERED, FLATIPC_START_OLDEST,
                            &o3_copy, sizeof o3_copy),
                FLATIPC_OK, "v3 reader from the oldest");
    for (uint64_t seq = 8; seq < 15; seq++) {
        memset(&buffer, 0xA5, sizeof buffer); /* zero-extension must clear what it covers */
        evo_brecv_v3(&t3, seq, 2, &buffer.q, "v2 zero-extended into the buffer");
        expect(buffer.bytes[sizeof(quote_v3)] == 0xA5, "never past the reader's size", 0);
        /* The lossy copy took 104 bytes of the slot: version 3's venue_seq is still there. */
        evo_brecv_v3(&l3, seq, 2, &l3_copy, "v2 zero-extended in the copy");
        evo_brecv_v3(&o3, seq, 2, &o3_copy, "the backlog zero-extended in the copy");
        expect_code(flatipc_broadcast_reader_try_recv(&t2, &m), FLATIPC_OK, "v2 reads v2");
        make_quote(&q2, seq);
        expect(memcmp(m.data, &q2, sizeof q2) == 0 &&
                   flatipc_broadcast_reader_version(&t2) == 2,
               "version 2 in place", (long long)seq);
        expect_code(flatipc_broadcast_reader_release(&t2), FLATIPC_OK, "release");
    }
    expect(l3.end.missed_total == 0 && o3.end.missed_total == 0, "nothing missed", 0);
    flatipc_broadcast_reader_close(&o3);
    flatipc_broadcast_writer_close(&w);
    /* A version-5 writer does not fit the slots and merges nothing. */
    int rc = flatipc_broadcast_writer_open(&w, name, &QUOTE_V5, spin);
    expect_code(rc, FLATIPC_E_CANNOT_UPGRADE, "version 5 in slots of 128 bytes");
    b = t2.end.seg.base;
    expect(flatipc_i_ld8(b, 128 + 20) == 1 && flatipc_i_ld8(b, 128 + 21) == 3 &&
               flatipc_i_ld8(b, 128 + 22) == 0,
           "a refused writer merges nothing", flatipc_i_ld8(b, 128 + 22));
    /* Message 15 (epoch 1 goes on), then four writers whose versions alternate attach without
     * sending: epoch 1 is overwritten, so the readers skip message 15 as lost. */
    expect_code(flatipc_broadcast_writer_open(&w, name, &QUOTE, spin), FLATIPC_OK, "v2 writer");
    make_quote(&q2, 15);
    expect_code(flatipc_broadcast_writer_try_send(&w, &q2), FLATIPC_OK, "v2 send");
    flatipc_broadcast_writer_close(&w);
    for (int k = 0; k < 4; k++) {
        expect_code(flatipc_broadcast_writer_open(&w, name, k % 2 == 0 ? &QUOTE_V3 : &QUOTE, spin),
                    FLATIPC_OK, "alternating writers");
        flatipc_broadcast_writer_close(&w);
    }
    expect(epoch_word(b, FLATIPC_I_OFF_EPOCHS) == 6, "six epochs", 0);
    flatipc_broadcast_reader *lost[3] = {&t3, &l3, &t2};
    for (int k = 0; k < 3; k++) {
        expect_code(flatipc_broadcast_reader_try_recv(lost[k], &m), FLATIPC_E_EPOCH_LOST,
                    "lost epoch");
        expect(lost[k]->end.seg.detail.pid_or_position == 15, "message 15 skipped", k);
        expect_code(flatipc_broadcast_reader_try_recv(lost[k], &m), FLATIPC_E_DISCONNECTED,
                    "drained after the lost message");
        flatipc_broadcast_reader_close(lost[k]);
    }

    /* A diverged version 3 meets version-3 readers of a version-2 ring: it attaches (the
     * table knew version 1 only) and merges its own version 3; the readers compared version 1
     * (and then 2) at attach and re-check on meeting version 3. */
    char other[160];
    snprintf(other, sizeof other, "%s-diverged", name);
    expect_code(flatipc_broadcast_writer_create(&w, other, &QUOTE, &o), FLATIPC_OK, "v2 create");
    expect_code(evo_breader(&t3, other, &QUOTE_V3, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                            NULL, 0),
                FLATIPC_OK, "v3 tethered reader");
    expect_code(flatipc_broadcast_reader_set_buffer(&t3, &buffer.q, sizeof buffer.q), FLATIPC_OK,
                "set_buffer");
    expect_code(evo_breader(&l3b, other, &QUOTE_V3, FLATIPC_POLICY_LOSSY, FLATIPC_START_NEXT,
                            &l3b_copy, sizeof l3b_copy),
                FLATIPC_OK, "v3 lossy reader");
    expect_code(evo_breader(&t2, other, &QUOTE, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                            NULL, 0),
                FLATIPC_OK, "v2 reader");
    make_quote(&q2, 0);
    expect_code(flatipc_broadcast_writer_try_send(&w, &q2), FLATIPC_OK, "v2 send");
    /* Read before the diverged writer merges its steps (a re-check compares the whole table,
     * as in Rust: after the merge, version 2 messages would be refused too). */
    evo_brecv_v3(&t3, 0, 2, &buffer.q, "version 2 before the diverged writer");
    evo_brecv_v3(&l3b, 0, 2, &l3b_copy, "version 2 before the diverged writer");
    flatipc_broadcast_writer_close(&w);
    expect_code(flatipc_broadcast_writer_open(&w, other, &QUOTE_V3_DIVERGED, spin), FLATIPC_OK,
                "the diverged version 3 takes over");
    for (uint64_t seq = 1; seq < 3; seq++) {
        make_quote_v3(&q3, seq);
        expect_code(flatipc_broadcast_writer_try_send(&w, &q3), FLATIPC_OK, "diverged send");
    }
    flatipc_broadcast_writer_close(&w);
    flatipc_broadcast_reader *met[2] = {&t3, &l3b};
    for (int k = 0; k < 2; k++) {
        for (uint64_t seq = 1; seq < 3; seq++) {
            expect_code(flatipc_broadcast_reader_try_recv(met[k], &m), FLATIPC_E_VERSION_MISMATCH,
                        "a diverged writer's message");
            expect(m.data == NULL && met[k]->end.seg.detail.pid_or_position == seq &&
                       met[k]->end.seg.detail.found == 3,
                   "skipped, naming version 3", (long long)met[k]->end.seg.detail.found);
        }
        expect_code(flatipc_broadcast_reader_try_recv(met[k], &m), FLATIPC_E_DISCONNECTED,
                    "drained after the diverged messages");
        flatipc_broadcast_reader_close(met[k]);
    }
    for (uint64_t seq = 0; seq < 3; seq++) {
        expect_code(flatipc_broadcast_reader_try_recv(&t2, &m), FLATIPC_OK, "v2 reads both");
        make_quote(&q2, seq);
        expect(memcmp(m.data, &q2, sizeof q2) == 0, "version 2's prefix", (long long)seq);
        expect_code(flatipc_broadcast_reader_release(&t2), FLATIPC_OK, "release");
    }
    flatipc_broadcast_reader_close(&t2);
    flatipc_segment_remove(other);
    printf("EVO-BCAST OK\n");
    return 0;
}

/* A broadcast stream reader of `messages` (`count`), tethered or lossy, copying into `copy`. */
static int evo_bsreader(flatipc_broadcast_stream_reader *r, const char *name,
                        const flatipc_message *messages, size_t count, int policy, void *copy,
                        size_t copy_size) {
    flatipc_broadcast_reader_options ro = flatipc_broadcast_reader_options_default();
    ro.policy = policy;
    ro.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    ro.buffer = copy;
    ro.buffer_size = copy_size;
    return flatipc_broadcast_stream_reader_open(r, name, messages, count, &ro);
}

/* Receives frame `seq` of writer `version` with a version-3 reader `r`: `data` must be
 * `want_data` (NULL: in place), zero-extended (widened 104) exactly when version is 2. */
static void evo_bsrecv_v3(flatipc_broadcast_stream_reader *r, uint64_t seq, unsigned version,
                          const void *want_data, const char *what) {
    flatipc_broadcast_frame f;
    expect_code(flatipc_broadcast_stream_reader_try_recv(r, &f), FLATIPC_OK, what);
    int in_place = (const uint8_t *)f.data >= r->end.data &&
                   (const uint8_t *)f.data < r->end.data + r->end.seg.data_size;
    expect(want_data == NULL ? in_place : f.data == want_data, what, (long long)seq);
    expect(f.position == seq && f.version == version &&
               f.size == (version == 3 ? 104u : 96u) && f.widened == (version == 3 ? 0u : 104u),
           "version, size and widened", (long long)f.widened);
    expect(flatipc_broadcast_frame_get(&f, &QUOTE_V3) == f.data &&
               flatipc_broadcast_frame_get(&f, &QUOTE) == f.data,
           "frame_get of either version", (long long)seq);
    expect(quote_v3_matches((const quote_v3 *)f.data, seq, version == 3), what, (long long)seq);
    expect_code(flatipc_broadcast_stream_reader_release(r), FLATIPC_OK, "release");
}

/* The same on broadcast streams (kind 4), with per-frame versions: a version-3 writer fills the
 * slots, a version-2 writer's smaller frames land on them; version-3 readers zero-extend them
 * (tethered: into the set_buffer buffer after FLATIPC_E_NEEDS_BUFFER; lossy: in the copy, which
 * took 96 bytes, next to the previous copy's venue_seq); a version-2 lossy reader whose buffer
 * holds only its own 96 bytes reads version 3's prefix; a diverged version 3 is met as a
 * version mismatch. "EVO-BSTREAM OK" or exit 3. */
static int evo_bstream(const char *name) {
    flatipc_wait spin = flatipc_wait_make(FLATIPC_WAIT_SPIN, 0);
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 8;
    o.wait = spin;
    flatipc_broadcast_stream_writer w;
    flatipc_broadcast_stream_reader t3, l3, t2, l2;
    static union {
        quote_v3 q;
        FLATIPC_ALIGNAS(16) unsigned char bytes[2 * sizeof(quote_v3)];
    } buffer, l3_copy;
    static union {
        market_data_Quote q;
        FLATIPC_ALIGNAS(16) unsigned char bytes[sizeof(market_data_Quote)];
    } l2_copy;
    market_data_Quote q2;
    quote_v3 q3;
    flatipc_broadcast_frame f;
    expect_code(flatipc_broadcast_stream_writer_create(&w, name, &QUOTE_V3, 1, &o), FLATIPC_OK,
                "v3 create");
    expect_code(evo_bsreader(&t3, name, &QUOTE_V3, 1, FLATIPC_POLICY_TETHERED, NULL, 0),
                FLATIPC_OK, "v3 tethered reader");
    expect_code(evo_bsreader(&l3, name, &QUOTE_V3, 1, FLATIPC_POLICY_LOSSY, &l3_copy,
                             sizeof(quote_v3)),
                FLATIPC_OK, "v3 lossy reader");
    expect_code(evo_bsreader(&t2, name, &QUOTE, 1, FLATIPC_POLICY_TETHERED, NULL, 0), FLATIPC_OK,
                "v2 tethered reader");
    expect_code(evo_bsreader(&l2, name, &QUOTE, 1, FLATIPC_POLICY_LOSSY, &l2_copy,
                             sizeof l2_copy),
                FLATIPC_OK, "v2 lossy reader");
    flatipc_broadcast_stream_reader *older[2] = {&t2, &l2};
    /* One frame at a time: a lossy reader of 8 slots keeps up with 7 at most. */
    for (uint64_t seq = 0; seq < 8; seq++) {
        make_quote_v3(&q3, seq);
        expect_code(flatipc_broadcast_stream_writer_try_send(&w, QUOTE_V3.id, QUOTE_V3.size, &q3),
                    FLATIPC_OK, "v3 send");
        evo_bsrecv_v3(&t3, seq, 3, NULL, "v3 in place");
        evo_bsrecv_v3(&l3, seq, 3, &l3_copy, "v3 copied");
        for (int k = 0; k < 2; k++) {
            expect_code(flatipc_broadcast_stream_reader_try_recv(older[k], &f), FLATIPC_OK,
                        "v2 reads v3");
            make_quote(&q2, seq);
            /* The lossy copy holds the 96 bytes of its buffer: version 2's prefix. */
            const void *got = flatipc_broadcast_frame_get(&f, &QUOTE);
            expect(got != NULL && memcmp(got, &q2, sizeof q2) == 0 && f.version == 3 &&
                       f.size == 104 && f.widened == 0 &&
                       (k == 0 || got == (const void *)&l2_copy),
                   "version 2's prefix of version 3", (long long)seq);
            expect(flatipc_broadcast_frame_get(&f, &QUOTE_V3) == (k == 0 ? f.data : NULL),
                   "a lossy prefix is no version-3 message", k);
            expect_code(flatipc_broadcast_stream_reader_release(older[k]), FLATIPC_OK, "release");
        }
    }
    flatipc_broadcast_stream_writer_close(&w);
    expect_code(flatipc_broadcast_stream_writer_open(&w, name, &QUOTE, 1, spin), FLATIPC_OK,
                "v2 writer");
    /* 7 frames: the lossy readers, never waited for, are not lapped. */
    for (uint64_t seq = 8; seq < 15; seq++) {
        make_quote(&q2, seq);
        expect_code(flatipc_broadcast_stream_writer_try_send(&w, QUOTE.id, QUOTE.size, &q2),
                    FLATIPC_OK, "v2 send");
    }
    flatipc_broadcast_stream_writer_close(&w);
    for (int k = 0; k < 2; k++) {
        expect_code(flatipc_broadcast_stream_reader_try_recv(&t3, &f), FLATIPC_E_NEEDS_BUFFER,
                    "no buffer");
        expect(f.data == NULL && t3.end.seg.detail.pid_or_position == 8 &&
                   t3.end.seg.detail.found == 96 && t3.end.seg.detail.expected == 104,
               "the reader stays at frame 8", (long long)t3.end.seg.detail.pid_or_position);
    }
    expect_code(flatipc_broadcast_stream_reader_set_buffer(&t3, buffer.bytes + 8,
                                                           sizeof(quote_v3)),
                FLATIPC_E_INVALID_ARGUMENT, "misaligned buffer");
    expect_code(flatipc_broadcast_stream_reader_set_buffer(&t3, &buffer, sizeof(quote_v3) - 8),
                FLATIPC_E_INVALID_ARGUMENT, "buffer too small");
    expect_code(flatipc_broadcast_stream_reader_set_buffer(&t3, &buffer, sizeof buffer),
                FLATIPC_OK, "set_buffer");
    for (uint64_t seq = 8; seq < 15; seq++) {
        memset(&buffer, 0xA5, sizeof buffer);
        evo_bsrecv_v3(&t3, seq, 2, &buffer, "v2 zero-extended into the buffer");
        expect(buffer.bytes[sizeof(quote_v3)] == 0xA5, "never past the reader's size", 0);
        evo_bsrecv_v3(&l3, seq, 2, &l3_copy, "v2 zero-extended in the copy");
        for (int k = 0; k < 2; k++) {
            expect_code(flatipc_broadcast_stream_reader_try_recv(older[k], &f), FLATIPC_OK,
                        "v2 reads v2");
            make_quote(&q2, seq);
            const void *got = flatipc_broadcast_frame_get(&f, &QUOTE);
            expect(got != NULL && memcmp(got, &q2, sizeof q2) == 0 && f.version == 2 &&
                       f.widened == 0,
                   "version 2 as it is", (long long)seq);
            expect_code(flatipc_broadcast_stream_reader_release(older[k]), FLATIPC_OK, "release");
        }
    }
    flatipc_broadcast_stream_reader *all[4] = {&t3, &l3, &t2, &l2};
    for (int k = 0; k < 4; k++) {
        expect_code(flatipc_broadcast_stream_reader_try_recv(all[k], &f), FLATIPC_E_DISCONNECTED,
                    "drained");
        expect(flatipc_broadcast_stream_reader_missed(all[k]) == 0, "nothing missed", k);
        flatipc_broadcast_stream_reader_close(all[k]);
    }

    /* A diverged version 3 on a version-2 stream, met by version-3 readers. */
    char other[160];
    snprintf(other, sizeof other, "%s-diverged", name);
    expect_code(flatipc_broadcast_stream_writer_create(&w, other, &QUOTE, 1, &o), FLATIPC_OK,
                "v2 create");
    expect_code(evo_bsreader(&t3, other, &QUOTE_V3, 1, FLATIPC_POLICY_TETHERED, NULL, 0),
                FLATIPC_OK, "v3 tethered reader");
    expect_code(flatipc_broadcast_stream_reader_set_buffer(&t3, &buffer, sizeof buffer),
                FLATIPC_OK, "set_buffer");
    expect_code(evo_bsreader(&l3, other, &QUOTE_V3, 1, FLATIPC_POLICY_LOSSY, &l3_copy,
                             sizeof l3_copy),
                FLATIPC_OK, "v3 lossy reader");
    make_quote(&q2, 0);
    expect_code(flatipc_broadcast_stream_writer_try_send(&w, QUOTE.id, QUOTE.size, &q2),
                FLATIPC_OK, "v2 send");
    evo_bsrecv_v3(&t3, 0, 2, &buffer, "version 2 before the diverged writer");
    evo_bsrecv_v3(&l3, 0, 2, &l3_copy, "version 2 before the diverged writer");
    flatipc_broadcast_stream_writer_close(&w);
    expect_code(flatipc_broadcast_stream_writer_open(&w, other, &QUOTE_V3_DIVERGED, 1, spin),
                FLATIPC_OK, "the diverged version 3 takes over");
    for (uint64_t seq = 1; seq < 3; seq++) {
        make_quote_v3(&q3, seq);
        expect_code(flatipc_broadcast_stream_writer_try_send(&w, QUOTE_V3_DIVERGED.id,
                                                             QUOTE_V3_DIVERGED.size, &q3),
                    FLATIPC_OK, "diverged send");
    }
    flatipc_broadcast_stream_writer_close(&w);
    flatipc_broadcast_stream_reader *met[2] = {&t3, &l3};
    for (int k = 0; k < 2; k++) {
        for (uint64_t seq = 1; seq < 3; seq++) {
            expect_code(flatipc_broadcast_stream_reader_try_recv(met[k], &f),
                        FLATIPC_E_VERSION_MISMATCH, "a diverged writer's frame");
            expect(f.data == NULL && met[k]->end.seg.detail.pid_or_position == seq &&
                       met[k]->end.seg.detail.found == 3,
                   "skipped, naming version 3", (long long)met[k]->end.seg.detail.found);
        }
        expect_code(flatipc_broadcast_stream_reader_try_recv(met[k], &f), FLATIPC_E_DISCONNECTED,
                    "drained after the diverged frames");
        flatipc_broadcast_stream_reader_close(met[k]);
    }
    flatipc_segment_remove(other);
    printf("EVO-BSTREAM OK\n");
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Broadcast rings (kind 3, "bcast-*": quotes; kind 4, "bstream-*": four types interleaved) */

static flatipc_broadcast_options bcast_options(const char *wait, const char *cap) {
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.wait = parse_wait(wait);
    o.capacity = strtoull(cap, NULL, 10);
    return o;
}

/* Either broadcast writer, so that one role serves both kinds. */
typedef struct any_bwriter {
    int framed;
    flatipc_broadcast_writer typed;
    flatipc_broadcast_stream_writer stream;
} any_bwriter;

static int bw_open_or_create(any_bwriter *w, int framed, const char *name,
                             const flatipc_broadcast_options *o) {
    w->framed = framed;
    return framed ? flatipc_broadcast_stream_writer_open_or_create(&w->stream, name, LIBRARY, 4, o)
                  : flatipc_broadcast_writer_open_or_create(&w->typed, name, &QUOTE, o);
}

static void bw_close(any_bwriter *w) {
    if (w->framed) {
        flatipc_broadcast_stream_writer_close(&w->stream);
    } else {
        flatipc_broadcast_writer_close(&w->typed);
    }
}

static uint64_t bw_position(const any_bwriter *w) {
    return w->framed ? flatipc_broadcast_stream_writer_position(&w->stream)
                     : flatipc_broadcast_writer_position(&w->typed);
}

/* Message `seq` of the ring's kind, built into `m`; its type. */
static const flatipc_message *bmessage(int framed, any_message *m, uint64_t seq) {
    if (!framed) {
        make_quote(&m->quote, seq);
        return &QUOTE;
    }
    return make_any(m, seq);
}

/* Sends message `seq`: try_send (mode 0), send (1) or loan + commit (2). */
static int bw_send(any_bwriter *w, uint64_t seq, int mode, int64_t timeout, uint64_t *h) {
    any_message m;
    const flatipc_message *type = bmessage(w->framed, &m, seq);
    int rc;
    if (mode == 2) {
        any_message staging;
        rc = w->framed ? flatipc_broadcast_stream_writer_loan(&w->stream, type->id, type->size,
                                                              &staging)
                       : flatipc_broadcast_writer_loan(&w->typed, &staging);
        if (rc == FLATIPC_OK) {
            bmessage(w->framed, &staging, seq);
            rc = w->framed ? flatipc_broadcast_stream_writer_commit(&w->stream, timeout)
                           : flatipc_broadcast_writer_commit(&w->typed, timeout);
        }
    } else if (w->framed) {
        rc = mode == 1 ? flatipc_broadcast_stream_writer_send(&w->stream, type->id, type->size, &m,
                                                              timeout)
                       : flatipc_broadcast_stream_writer_try_send(&w->stream, type->id,
                                                                  type->size, &m);
    } else {
        rc = mode == 1 ? flatipc_broadcast_writer_send(&w->typed, &m, timeout)
                       : flatipc_broadcast_writer_try_send(&w->typed, &m);
    }
    if (rc == FLATIPC_OK && h != NULL) {
        if (w->framed) {
            *h = fold(*h, type->id);
        }
        *h = fold_bytes(*h, &m, type->size);
    }
    return rc;
}

/* Either broadcast reader. `copy` is the lossy copy buffer. */
typedef struct any_breader {
    int framed;
    flatipc_broadcast_reader typed;
    flatipc_broadcast_stream_reader stream;
    any_message copy;
} any_breader;

/* A received message of either kind. */
typedef struct brecv {
    uint32_t id;
    uint32_t size;
    uint32_t len; /* bytes readable at data: size, but a lossy copy holds at most the buffer's */
    const void *data;
    uint64_t position;
    uint64_t missed;
} brecv;

/* mode: 1 open, 2 open_or_create (with `ring`). */
static int br_open(any_breader *r, int framed, const char *name, int policy, int start,
                   flatipc_wait wait, const flatipc_broadcast_options *ring, int mode) {
    flatipc_broadcast_reader_options ro = flatipc_broadcast_reader_options_default();
    ro.policy = policy;
    ro.start = start;
    ro.wait = wait;
    ro.buffer = &r->copy;
    ro.buffer_size = sizeof r->copy;
    r->framed = framed;
    if (framed) {
        return mode == 1 ? flatipc_broadcast_stream_reader_open(&r->stream, name, LIBRARY, 4, &ro)
                         : flatipc_broadcast_stream_reader_open_or_create(&r->stream, name,
                                                                          LIBRARY, 4, ring, &ro);
    }
    return mode == 1 ? flatipc_broadcast_reader_open(&r->typed, name, &QUOTE, &ro)
                     : flatipc_broadcast_reader_open_or_create(&r->typed, name, &QUOTE, ring, &ro);
}

static void br_close(any_breader *r) {
    if (r->framed) {
        flatipc_broadcast_stream_reader_close(&r->stream);
    } else {
        flatipc_broadcast_reader_close(&r->typed);
    }
}

/* timeout < -1: try_recv; otherwise recv with that timeout. */
static int br_recv(any_breader *r, brecv *out, int64_t timeout) {
    int rc;
    if (r->framed) {
        flatipc_broadcast_frame f;
        rc = timeout < -1 ? flatipc_broadcast_stream_reader_try_recv(&r->stream, &f)
                          : flatipc_broadcast_stream_reader_recv(&r->stream, &f, timeout);
        out->id = f.id;
        out->size = f.size;
        /* A lossy copy holds min(size, the buffer's size) bytes: the whole frame, or the prefix
         * of a newer, larger version of a message of the table. */
        out->len = f.len;
        if (f.data != NULL && f.len != (f.data == (const void *)&r->copy && f.size > sizeof r->copy
                                            ? (uint32_t)sizeof r->copy
                                            : f.size)) {
            printf("BAD LEN %u for size %u\n", f.len, f.size);
            exit(3);
        }
        out->data = f.data;
        out->position = f.position;
        out->missed = f.missed;
    } else {
        flatipc_broadcast_message m;
        rc = timeout < -1 ? flatipc_broadcast_reader_try_recv(&r->typed, &m)
                          : flatipc_broadcast_reader_recv(&r->typed, &m, timeout);
        out->id = QUOTE.id;
        out->size = QUOTE.size;
        out->len = QUOTE.size;
        out->data = m.data;
        out->position = m.position;
        out->missed = m.missed;
    }
    return rc;
}

static void br_release(any_breader *r) {
    int rc = r->framed ? flatipc_broadcast_stream_reader_release(&r->stream)
                       : flatipc_broadcast_reader_release(&r->typed);
    if (rc != FLATIPC_OK) {
        fail(rc, "release");
    }
}

static uint64_t br_missed(const any_breader *r) {
    return r->framed ? flatipc_broadcast_stream_reader_missed(&r->stream)
                     : flatipc_broadcast_reader_missed(&r->typed);
}

static const flatipc_segment *br_segment(const any_breader *r) {
    return r->framed ? &r->stream.end.seg : &r->typed.end.seg;
}

/* Whether `got` is exactly message `seq` of the ring's kind. */
static int bmatches(int framed, const brecv *got, uint64_t seq) {
    any_message want;
    const flatipc_message *type = bmessage(framed, &want, seq);
    return got->data != NULL && got->id == type->id && got->size == type->size &&
           memcmp(got->data, &want, type->size) == 0;
}

static int is_framed(const char *role) { return strncmp(role, "bstream-", 8) == 0; }

/* bcast-write / bstream-write NAME COUNT WAIT CAP: sends COUNT messages (a third each by
 * send, try_send retried, loan + commit); "SENT <count> <checksum>". */
static int bcast_write(int framed, const char *name, uint64_t count, flatipc_broadcast_options o) {
    any_bwriter w;
    int rc = bw_open_or_create(&w, framed, name, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "broadcast writer attach");
    }
    uint64_t h = FOLD_INIT;
    for (uint64_t seq = 0; seq < count; seq++) {
        int mode = (int)(seq % 3);
        if (mode == 0) {
            while ((rc = bw_send(&w, seq, 0, 0, NULL)) == FLATIPC_E_FULL) {
                sched_yield();
            }
            if (rc == FLATIPC_OK) {
                any_message m;
                const flatipc_message *type = bmessage(framed, &m, seq);
                if (framed) {
                    h = fold(h, type->id);
                }
                h = fold_bytes(h, &m, type->size);
            }
        } else {
            rc = bw_send(&w, seq, mode, TIMEOUT_NS, &h);
        }
        if (rc != FLATIPC_OK) {
            fail(rc, "broadcast send");
        }
    }
    printf("SENT %" PRIu64 " %016" PRIx64 "\n", count, h);
    bw_close(&w);
    return 0;
}

/* bcast-read / bstream-read NAME COUNT WAIT CAP: a tethered reader; "READY" once attached,
 * then every message in place and checked, then the disconnect:
 * "RECV <count> <checksum> DISCONNECTED". */
static int bcast_read(int framed, const char *name, uint64_t count, const char *wait,
                      flatipc_broadcast_options o) {
    any_breader r;
    int rc = br_open(&r, framed, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                     parse_wait(wait), &o, 2);
    if (rc != FLATIPC_OK) {
        fail(rc, "broadcast reader attach");
    }
    printf("READY\n");
    uint64_t h = FOLD_INIT;
    for (uint64_t seq = 0; seq < count; seq++) {
        brecv got;
        rc = br_recv(&r, &got, TIMEOUT_NS);
        if (rc != FLATIPC_OK) {
            fail(rc, "broadcast recv");
        }
        if (!bmatches(framed, &got, seq) || got.position != seq || got.missed != 0) {
            printf("MISMATCH at %" PRIu64 " (position %" PRIu64 ", missed %" PRIu64 ")\n", seq,
                   got.position, got.missed);
            return 3;
        }
        if (framed) {
            h = fold(h, got.id);
        }
        h = fold_bytes(h, got.data, got.size);
        br_release(&r);
    }
    brecv got;
    rc = br_recv(&r, &got, TIMEOUT_NS);
    printf("RECV %" PRIu64 " %016" PRIx64 " %s\n", count, h,
           rc == FLATIPC_E_DISCONNECTED ? "DISCONNECTED" : flatipc_strerror(rc));
    br_close(&r);
    return 0;
}

/* bcast-lossy / bstream-lossy NAME WAIT CAP: a lossy reader; "READY", then reads until the
 * disconnect, checking that every copy is the message of its position and that positions
 * advance by 1 + missed; "LOSSY <received> <missed> <missed total> DISCONNECTED". */
static int bcast_lossy(int framed, const char *name, const char *wait,
                       flatipc_broadcast_options o) {
    any_breader r;
    int rc = br_open(&r, framed, name, FLATIPC_POLICY_LOSSY, FLATIPC_START_NEXT,
                     parse_wait(wait), &o, 2);
    if (rc != FLATIPC_OK) {
        fail(rc, "lossy reader attach");
    }
    printf("READY\n");
    uint64_t received = 0, missed = 0, next = 0;
    for (;;) {
        brecv got;
        rc = br_recv(&r, &got, TIMEOUT_NS);
        if (rc != FLATIPC_OK) {
            break;
        }
        if (got.position != next + got.missed || !bmatches(framed, &got, got.position)) {
            printf("MISMATCH at %" PRIu64 " (expected %" PRIu64 " + %" PRIu64 " missed)\n",
                   got.position, next, got.missed);
            return 3;
        }
        received++;
        missed += got.missed;
        next = got.position + 1;
        br_release(&r);
    }
    printf("LOSSY %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n", received, missed, br_missed(&r),
           rc == FLATIPC_E_DISCONNECTED ? "DISCONNECTED" : flatipc_strerror(rc));
    br_close(&r);
    return 0;
}

/* bcast-hold NAME [WAIT]: a tethered reader that never reads (parking by default);
 * "READY <entry>", then waits to be killed. */
static int bcast_hold(const char *name, const char *wait) {
    any_breader r;
    int rc = br_open(&r, 0, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT, parse_wait(wait),
                     NULL, 1);
    if (rc != FLATIPC_OK) {
        fail(rc, "holding reader attach");
    }
    printf("READY %" PRIu32 "\n", r.typed.end.index);
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL) {
    }
    br_close(&r);
    return 0;
}

/* bcast-park-read NAME ROUNDS: a tethered reader that parks at once; "GOT <seq>" per message. */
static int bcast_park_read(const char *name, uint64_t rounds) {
    any_breader r;
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 64;
    int rc = br_open(&r, 0, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                     flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 100), &o, 2);
    if (rc != FLATIPC_OK) {
        fail(rc, "parking reader attach");
    }
    printf("READY\n");
    for (uint64_t i = 0; i < rounds; i++) {
        brecv got;
        rc = br_recv(&r, &got, TIMEOUT_NS);
        if (rc != FLATIPC_OK) {
            fail(rc, "recv");
        }
        printf("GOT %" PRIu64 "\n", ((const market_data_Quote *)got.data)->sequence);
        br_release(&r);
    }
    br_close(&r);
    return 0;
}

/* bcast-park-write NAME ROUNDS: one quote per line read from stdin; "SENT <seq>". */
static int bcast_park_write(const char *name, uint64_t rounds) {
    any_bwriter w;
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 64;
    int rc = bw_open_or_create(&w, 0, name, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "writer attach");
    }
    printf("READY\n");
    char line[64];
    for (uint64_t i = 0; i < rounds && fgets(line, sizeof line, stdin) != NULL; i++) {
        rc = bw_send(&w, i, 0, 0, NULL);
        if (rc != FLATIPC_OK) {
            fail(rc, "send");
        }
        printf("SENT %" PRIu64 "\n", i);
    }
    bw_close(&w);
    return 0;
}

/* bcast-endless / bstream-endless NAME: sends for ever (until killed), slowly; "READY". */
static int bcast_endless(int framed, const char *name) {
    any_bwriter w;
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 64;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 2000);
    int rc = bw_open_or_create(&w, framed, name, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "writer attach");
    }
    printf("READY\n");
    for (uint64_t seq = bw_position(&w);; seq++) {
        rc = bw_send(&w, seq, 1, -1, NULL);
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

static void expect_line(const char *want) {
    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL || strncmp(line, want, strlen(want)) != 0) {
        printf("ERR expected \"%s\" on stdin\n", want);
        exit(4);
    }
}

/* bcast-drain / bstream-drain NAME: a tethered and a lossy reader (both parking) of a writer
 * that the test kills; "READY", "FIRST <position>" after the tethered reader's first message,
 * then both read until the disconnect (the tethered one checking order, the lossy one
 * accounting for every position), then 5000 try_recv each:
 * "DRAINED <tethered next> <lossy next> <lossy accounted> <tethered still> <lossy still>",
 * the last two counting FLATIPC_E_DISCONNECTED results. */
static int bcast_drain(int framed, const char *name) {
    static any_breader t, l;
    flatipc_wait park = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, 2000);
    int rc = br_open(&t, framed, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT, park, NULL, 1);
    if (rc == FLATIPC_OK) {
        rc = br_open(&l, framed, name, FLATIPC_POLICY_LOSSY, FLATIPC_START_NEXT, park, NULL, 1);
    }
    if (rc != FLATIPC_OK) {
        fail(rc, "reader attach");
    }
    printf("READY\n");
    uint64_t next = 0, lossy_next = 0, accounted = 0, n = 0;
    int lossy_done = 0;
    for (;;) {
        brecv got;
        rc = br_recv(&t, &got, TIMEOUT_NS);
        if (rc == FLATIPC_E_DISCONNECTED) {
            break;
        }
        if (rc != FLATIPC_OK) {
            fail(rc, "tethered recv");
        }
        if (!bmatches(framed, &got, got.position) || (n > 0 && got.position != next)) {
            printf("MISMATCH at %" PRIu64 " (expected %" PRIu64 ")\n", got.position, next);
            return 3;
        }
        if (n++ == 0) {
            printf("FIRST %" PRIu64 "\n", got.position);
        }
        next = got.position + 1;
        br_release(&t);
        /* The lossy reader keeps up now and then, without waiting. */
        while (n % 64 == 0 && (rc = br_recv(&l, &got, -2)) == FLATIPC_OK) {
            if (!bmatches(framed, &got, got.position) ||
                (accounted > 0 && got.position != lossy_next + got.missed)) {
                printf("LOSSY MISMATCH at %" PRIu64 "\n", got.position);
                return 3;
            }
            accounted += 1 + got.missed;
            lossy_next = got.position + 1;
            br_release(&l);
        }
    }
    while (!lossy_done) {
        brecv got;
        rc = br_recv(&l, &got, TIMEOUT_NS);
        if (rc == FLATIPC_E_DISCONNECTED) {
            lossy_done = 1;
        } else if (rc != FLATIPC_OK) {
            fail(rc, "lossy recv");
        } else {
            if (!bmatches(framed, &got, got.position)) {
                printf("LOSSY MISMATCH at %" PRIu64 "\n", got.position);
                return 3;
            }
            accounted += 1 + got.missed;
            lossy_next = got.position + 1;
            br_release(&l);
        }
    }
    uint64_t t_still = 0, l_still = 0;
    for (int i = 0; i < 5000; i++) {
        brecv got;
        t_still += br_recv(&t, &got, -2) == FLATIPC_E_DISCONNECTED;
        l_still += br_recv(&l, &got, -2) == FLATIPC_E_DISCONNECTED;
    }
    printf("DRAINED %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", next,
           lossy_next, accounted, t_still, l_still);
    br_close(&t);
    br_close(&l);
    return 0;
}

/* bcast-reclaim NAME CAP: a C writer whose tethered readers are killed (PROTOCOL.md §5: the
 * writer detaches dead tethered readers while send waits, and every 256th FLATIPC_E_FULL).
 * Twice: on "go", try_send until full ("FULL <n>"); on "killed", send once more, by a waiting
 * send the first time ("BY-WAIT <code>"), by try_send retried the second
 * ("BY-TRY <code> <fulls>"). */
static int bcast_reclaim(const char *name, const char *cap) {
    any_bwriter w;
    flatipc_broadcast_options o = bcast_options("park", cap);
    o.max_readers = 4;
    int rc = bw_open_or_create(&w, 0, name, &o);
    if (rc != FLATIPC_OK) {
        fail(rc, "writer attach");
    }
    printf("READY\n");
    uint64_t seq = 0;
    for (int phase = 0; phase < 2; phase++) {
        expect_line("go");
        uint64_t n = 0;
        while ((rc = bw_send(&w, seq, 0, 0, NULL)) == FLATIPC_OK) {
            n++;
            seq++;
        }
        printf("FULL %" PRIu64 " %d\n", n, rc);
        expect_line("killed");
        if (phase == 0) {
            rc = bw_send(&w, seq, 1, INT64_C(10000000000), NULL);
            printf("BY-WAIT %d\n", rc);
        } else {
            uint64_t fulls = 0;
            while ((rc = bw_send(&w, seq, 0, 0, NULL)) == FLATIPC_E_FULL && fulls < 100000) {
                fulls++;
            }
            printf("BY-TRY %d %" PRIu64 "\n", rc, fulls);
        }
        seq++;
    }
    bw_close(&w);
    return 0;
}

/* Drains reader `r` with try_recv (at most 1000 calls), touching every message; prints
 * "<tag> <final code> <ok> <corrupt frames> <missed total>". */
static void drain_report(const char *tag, any_breader *r) {
    uint64_t ok = 0, bad = 0;
    int rc = FLATIPC_OK;
    for (int i = 0; i < 1000; i++) {
        brecv got;
        rc = br_recv(r, &got, -2);
        if (rc == FLATIPC_E_CORRUPT_FRAME) {
            bad++;
            continue;
        }
        if (rc != FLATIPC_OK) {
            break;
        }
        const uint8_t *lo = br_segment(r)->base + FLATIPC_DATA_OFFSET;
        const uint8_t *hi = lo + br_segment(r)->data_size;
        const uint8_t *in_buffer = (const uint8_t *)&r->copy;
        const uint8_t *p = (const uint8_t *)got.data;
        int inside = p == NULL || (p >= lo && p + got.len <= hi) ||
                     (p >= in_buffer && p + got.len <= in_buffer + sizeof r->copy);
        if (!inside) {
            printf("MESSAGE OUTSIDE THE RING\n");
            exit(3);
        }
        if (p != NULL) {
            touch(p, got.len);
        }
        ok++;
        br_release(r);
    }
    printf("%s %d %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", tag, rc, ok, bad, br_missed(r));
}

/* bcast-corrupt / bstream-corrupt NAME: attaches a tethered and a lossy reader ("READY"; or
 * "RESULT <code> <field>" if the segment is refused), waits for "go" on stdin (the test
 * publishes and scribbles meanwhile), attaches a tethered reader starting at the oldest
 * message, and drains each: "T ...", "L ...", "O ..." (see drain_report). */
static int bcast_corrupt(int framed, const char *name) {
    static any_breader t, l, old;
    int rc = br_open(&t, framed, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_NEXT,
                     flatipc_wait_default(), NULL, 1);
    if (rc == FLATIPC_OK) {
        rc = br_open(&l, framed, name, FLATIPC_POLICY_LOSSY, FLATIPC_START_NEXT,
                     flatipc_wait_default(), NULL, 1);
        if (rc != FLATIPC_OK) {
            br_close(&t);
        }
    }
    if (rc != FLATIPC_OK) {
        const flatipc_segment *s = framed ? &t.stream.end.seg : &t.typed.end.seg;
        printf("RESULT %d %s\n", rc, s->detail.field ? s->detail.field : "-");
        return 0;
    }
    printf("READY\n");
    expect_line("go");
    drain_report("T", &t);
    drain_report("L", &l);
    rc = br_open(&old, framed, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_OLDEST,
                 flatipc_wait_default(), NULL, 1);
    if (rc == FLATIPC_OK) {
        drain_report("O", &old);
        br_close(&old);
    } else {
        printf("O %d 0 0 0\n", rc);
    }
    br_close(&t);
    br_close(&l);
    return 0;
}

/* bcast-write-scribbled / bstream-write-scribbled NAME COUNT: a writer on a ring whose reader
 * table was scribbled; try_send COUNT messages, retrying FLATIPC_E_FULL (at most 100000
 * times); "RESULT <code> <sent> <fulls>" (or the attach error). */
static int bcast_write_scribbled(int framed, const char *name, uint64_t count) {
    any_bwriter w;
    w.framed = framed;
    int rc = framed ? flatipc_broadcast_stream_writer_open(&w.stream, name, LIBRARY, 4,
                                                           flatipc_wait_default())
                    : flatipc_broadcast_writer_open(&w.typed, name, &QUOTE,
                                                    flatipc_wait_default());
    if (rc != FLATIPC_OK) {
        printf("RESULT %d 0 0\n", rc);
        return 0;
    }
    uint64_t sent = 0, fulls = 0;
    uint64_t seq = bw_position(&w);
    while (sent < count && fulls < 100000) {
        rc = bw_send(&w, seq, 0, 0, NULL);
        if (rc == FLATIPC_E_FULL) {
            fulls++;
            continue;
        }
        if (rc != FLATIPC_OK) {
            break;
        }
        sent++;
        seq++;
    }
    printf("RESULT %d %" PRIu64 " %" PRIu64 "\n", rc, sent, fulls);
    bw_close(&w);
    return 0;
}

/* Opens the fuzz ends: a writer, a tethered and a lossy reader (any may fail: then NULL). */
typedef struct fuzz_ends {
    any_bwriter w;
    any_breader t, l;
    int w_ok, t_ok, l_ok;
} fuzz_ends;

static void fuzz_open(fuzz_ends *e, int framed, const char *name) {
    e->w.framed = framed;
    int rc = framed ? flatipc_broadcast_stream_writer_open(&e->w.stream, name, LIBRARY, 4,
                                                           flatipc_wait_default())
                    : flatipc_broadcast_writer_open(&e->w.typed, name, &QUOTE,
                                                    flatipc_wait_default());
    e->w_ok = rc == FLATIPC_OK;
    e->t_ok = br_open(&e->t, framed, name, FLATIPC_POLICY_TETHERED, FLATIPC_START_OLDEST,
                      flatipc_wait_default(), NULL, 1) == FLATIPC_OK;
    e->l_ok = br_open(&e->l, framed, name, FLATIPC_POLICY_LOSSY, FLATIPC_START_OLDEST,
                      flatipc_wait_default(), NULL, 1) == FLATIPC_OK;
}

static void fuzz_close(fuzz_ends *e) {
    bw_close(&e->w);
    br_close(&e->t);
    br_close(&e->l);
}

static int bad_code(int rc) { return !(rc <= 0 && rc >= FLATIPC_E_VERSION_MISMATCH); }

/* Reads a few messages from `r`, checking codes and bounds; returns messages read. */
static uint64_t fuzz_read(any_breader *r) {
    uint64_t n = 0;
    for (int k = 0; k < 8; k++) {
        brecv got;
        int rc = br_recv(r, &got, -2);
        if (bad_code(rc)) {
            printf("BAD CODE %d\n", rc);
            exit(3);
        }
        if (rc == FLATIPC_E_CORRUPT_FRAME) {
            continue;
        }
        if (rc != FLATIPC_OK) {
            break;
        }
        const flatipc_segment *s = br_segment(r);
        const uint8_t *p = (const uint8_t *)got.data;
        const uint8_t *lo = s->base + FLATIPC_DATA_OFFSET;
        const uint8_t *buf = (const uint8_t *)&r->copy;
        int inside = p == NULL || (p >= lo && p + got.len <= lo + s->data_size) ||
                     (p >= buf && p + got.len <= buf + sizeof r->copy);
        if (!inside) {
            printf("MESSAGE OUTSIDE THE RING\n");
            exit(3);
        }
        if (p != NULL) {
            touch(p, got.len);
        }
        n++;
        br_release(r);
    }
    return n;
}

/* bcast-fuzz / bstream-fuzz NAME SEED ITERS: a writer, a tethered and a lossy reader on a ring
 * whose positions, sequence words, frame headers, slot bytes, reader table, wake line and
 * header bytes are scribbled at random through a mapping of the test's own; every call must
 * return a valid code and every message lie in the ring or the copy buffer. The segment is
 * restored from a pristine copy now and then (all ends closed first). "FUZZED ...". */
static int bcast_fuzz(int framed, const char *name, uint64_t seed, uint64_t iters) {
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
    static fuzz_ends e;
    fuzz_open(&e, framed, name);
    if (!e.w_ok || !e.t_ok || !e.l_ok) {
        fail(FLATIPC_E_STATE, "fuzz ends attach");
    }
    /* The geometry as validated (cached in the handles). */
    const flatipc_segment *g = br_segment(&e.t);
    uint64_t cap = g->capacity, slot = g->slot_size, table = g->table_offset;
    uint64_t readers = g->max_readers;
    uint64_t sent = 0, read = 0, errors = 0, reopened = 0, refused = 0;
    for (uint64_t it = 0; it < iters; it++) {
        uint64_t what = rng() % 10;
        uint64_t v = rng();
        uint64_t pos = flatipc_i_ld64(raw, FLATIPC_I_OFF_WRITE_POS, __ATOMIC_RELAXED);
        uint8_t *data = raw + FLATIPC_DATA_OFFSET;
        if (what == 0) {
            uint64_t w = v % 3 == 0 ? v : pos + v % (2 * cap) - cap;
            flatipc_i_st64(raw, FLATIPC_I_OFF_WRITE_POS, w, __ATOMIC_RELAXED);
        } else if (what <= 2) {
            /* A sequence word: near the expected ones, or anything. */
            uint64_t i = rng() % cap;
            uint64_t s = v % 2 == 0 ? 2 * (pos - cap + i) + (v >> 8) % 5 : v;
            flatipc_i_st64(data, (size_t)(cap * slot + 8 * i), s, __ATOMIC_RELAXED);
        } else if (what <= 4) {
            /* A word of a slot: a frame's size or id, or message bytes. */
            uint64_t i = rng() % cap;
            uint64_t off = (rng() % slot) / 4 * 4;
            uint32_t x = (uint32_t)(what == 3 ? v % (slot + 64) : v);
            flatipc_i_st32(data, (size_t)(i * slot + off), x, __ATOMIC_RELAXED);
        } else if (what <= 6) {
            /* A reader entry: read_pos, state, policy or missed. */
            uint64_t i = rng() % readers;
            static const size_t fields[4] = {FLATIPC_I_RD_READ_POS, FLATIPC_I_RD_STATE,
                                             FLATIPC_I_RD_POLICY, FLATIPC_I_RD_MISSED};
            size_t f = fields[rng() % 4];
            size_t at = (size_t)(table + 64 * i) + f;
            if (f == FLATIPC_I_RD_STATE || f == FLATIPC_I_RD_POLICY) {
                flatipc_i_st32(data, at, (uint32_t)(v % 4 == 0 ? v : v % 4), __ATOMIC_RELAXED);
            } else {
                flatipc_i_st64(data, at, v % 2 == 0 ? pos - v % (2 * cap) : v, __ATOMIC_RELAXED);
            }
        } else if (what == 7) {
            /* The wake line and the readers' may_park count. */
            size_t at = v % 2 == 0 ? FLATIPC_I_OFF_READERS_PARKED
                                   : flatipc_i_peer(FLATIPC_I_READER) + FLATIPC_I_PEER_MAY_PARK;
            flatipc_i_st32(raw, at, (uint32_t)rng(), __ATOMIC_RELAXED);
        } else {
            /* A header byte, then every end re-attaches: refused with a code, or accepted. */
            uint64_t off = rng() % 2900;
            flatipc_i_st8(raw, off, (uint8_t)v);
            fuzz_close(&e);
            fuzz_open(&e, framed, name);
            reopened++;
            if (!e.w_ok || !e.t_ok || !e.l_ok) {
                refused++;
                fuzz_close(&e);
                memcpy(raw, pristine, size);
                fuzz_open(&e, framed, name);
                if (!e.w_ok || !e.t_ok || !e.l_ok) {
                    fail(FLATIPC_E_STATE, "re-open of the restored segment");
                }
                continue;
            }
        }
        for (int k = 0; k < 4; k++) {
            int rc = bw_send(&e.w, sent, 0, 0, NULL);
            if (bad_code(rc)) {
                printf("BAD CODE %d\n", rc);
                return 3;
            }
            if (rc != FLATIPC_OK) {
                errors++;
                break;
            }
            sent++;
        }
        read += fuzz_read(&e.t) + fuzz_read(&e.l);
        if (it % 61 == 60) {
            fuzz_close(&e);
            memcpy(raw, pristine, size);
            fuzz_open(&e, framed, name);
            if (!e.w_ok || !e.t_ok || !e.l_ok) {
                fail(FLATIPC_E_STATE, "re-open of the restored segment");
            }
        }
    }
    printf("FUZZED %" PRIu64 " iterations: %" PRIu64 " re-opens (%" PRIu64 " refused), %" PRIu64
           " sent, %" PRIu64 " read, %" PRIu64 " send errors\n",
           iters, reopened, refused, sent, read, errors);
    fuzz_close(&e);
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
    if (argc == 3 && strcmp(role, "evo-chan") == 0) {
        return evo_chan(name);
    }
    if (argc == 4 && strcmp(role, "evo-stream-read") == 0) {
        return evo_stream_read(name, n);
    }
    if (argc == 4 && strcmp(role, "evo-stream-write") == 0) {
        return evo_stream_write(name, n);
    }
    if (argc == 3 && strcmp(role, "chan-epoch") == 0) {
        return chan_epoch(name);
    }
    if (argc == 3 && strcmp(role, "evo-bcast") == 0) {
        return evo_bcast(name);
    }
    if (argc == 3 && strcmp(role, "evo-bstream") == 0) {
        return evo_bstream(name);
    }
    int framed = is_framed(role);
    const char *kind = framed ? role + 8 : strncmp(role, "bcast-", 6) == 0 ? role + 6 : "";
    if (argc == 6 && strcmp(kind, "write") == 0) {
        return bcast_write(framed, name, n, bcast_options(argv[4], argv[5]));
    }
    if (argc == 6 && strcmp(kind, "read") == 0) {
        return bcast_read(framed, name, n, argv[4], bcast_options(argv[4], argv[5]));
    }
    if (argc == 5 && strcmp(kind, "lossy") == 0) {
        return bcast_lossy(framed, name, argv[3], bcast_options(argv[3], argv[4]));
    }
    if ((argc == 3 || argc == 4) && strcmp(role, "bcast-hold") == 0) {
        return bcast_hold(name, argc == 4 ? argv[3] : "park");
    }
    if (argc == 4 && strcmp(role, "bcast-park-read") == 0) {
        return bcast_park_read(name, n);
    }
    if (argc == 4 && strcmp(role, "bcast-park-write") == 0) {
        return bcast_park_write(name, n);
    }
    if (argc == 3 && strcmp(kind, "endless") == 0) {
        return bcast_endless(framed, name);
    }
    if (argc == 3 && strcmp(kind, "drain") == 0) {
        return bcast_drain(framed, name);
    }
    if (argc == 4 && strcmp(role, "bcast-reclaim") == 0) {
        return bcast_reclaim(name, argv[3]);
    }
    if (argc == 3 && strcmp(kind, "corrupt") == 0) {
        return bcast_corrupt(framed, name);
    }
    if (argc == 4 && strcmp(kind, "write-scribbled") == 0) {
        return bcast_write_scribbled(framed, name, n);
    }
    if (argc == 5 && strcmp(kind, "fuzz") == 0) {
        return bcast_fuzz(framed, name, n, strtoull(argv[4], NULL, 10));
    }
    fprintf(stderr, "unknown role or arguments: %s\n", role);
    return 2;
}
