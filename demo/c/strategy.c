/* strategy.c: the C strategy of flatipc-demo (demo/README.md). It reads the feed's framed
 * stream in place, validated, with no Rust toolchain: only runtime/include/flatipc.h and the
 * header flatipc-gen wrote for the schema. demo/build.rs compiles it once per schema:
 *
 *   -DDEMO_MARKET  with market_data.h (schemas/market.fidl): the basic mode
 *   -DDEMO_EVO_V1  with market_evo.h of schemas/evolution/v1: the upgrade mode's version-1
 *                  reader, which keeps running when a version-2 feed takes over the ring
 *
 *   strategy --stream NAME --count N [--state FILE]
 *
 * It tells the orchestrator what it does on standard output, one line at a time (as
 * demo/src/report.rs): READY once attached, PROGRESS <messages> every ~50 ms, and one
 * RESULT key=value ... line at the end (keys: demo/src/summary.rs). It runs until it has seen
 * every sequence number below N and the feed has gone (a feed that leaves earlier is waited
 * for: the next writer continues the ring). Exit status 0 after the RESULT line, 1 on an error.
 *
 * Counting and checksums follow demo/src/tally.rs and demo/src/checksum.rs (the definitions are
 * repeated below); a difference shows as a disagreement in the summary.
 *
 * --state FILE keeps the counts in a memory-mapped file, committed after each message and
 * before the message is released, so that a strategy killed with SIGKILL and started again
 * continues where it stopped: the ring hands it the messages it had not released yet
 * (at-least-once), and those it had already counted are recognised by their sequence number
 * and skipped (counted as redelivered). */
#include "flatipc.h" /* first: it asks for the POSIX declarations it needs */

#if defined(DEMO_MARKET)
#include "market_data.h"
#define LIB_MESSAGE_BUFFER market_data_message_buffer
#define LIB_STREAM_READER_OPEN_OR_CREATE market_data_stream_reader_open_or_create
#elif defined(DEMO_EVO_V1)
#include "market_evo.h"
#define LIB_MESSAGE_BUFFER market_evo_message_buffer
#define LIB_STREAM_READER_OPEN_OR_CREATE market_evo_stream_reader_open_or_create
#else
#error "build with -DDEMO_MARKET or -DDEMO_EVO_V1"
#endif

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* As in demo/src/schema.rs and demo/src/rings.rs. */
#define STATUS_EVERY UINT64_C(25000)
#define HEARTBEAT_EVERY UINT64_C(5000)
#define STREAM_CAPACITY (8u * 1024u)

#define RECV_TIMEOUT_NS INT64_C(100000000) /* wake up at least every 100 ms */
#define PROGRESS_NS UINT64_C(50000000)
#define IDLE_NS UINT64_C(30000000000) /* give up when nothing arrives for 30 s */

/* CLOCK_MONOTONIC in ns: the clock the feed stamps messages with (report.rs, now_ns). */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------------ */
/* The checksum (demo/src/checksum.rs): FNV-1a over 64-bit words. Per message: its id, then
 * each member in declaration order; unsigned values zero-extended, signed ones sign-extended;
 * a Price as mantissa, exponent; a string<N> as len, then its N bytes as little-endian 8-byte
 * words with the bytes at or past len counted as 0; a vector as len, then its first len
 * elements; an array element by element. No padding. market.evo: the members of version 1. */

#define FOLD_INIT UINT64_C(0xcbf29ce484222325)

static uint64_t fold(uint64_t h, uint64_t w) { return (h ^ w) * UINT64_C(0x100000001b3); }

static uint64_t fold_signed(uint64_t h, int64_t v) { return fold(h, (uint64_t)v); }

static uint64_t fold_string(uint64_t h, uint32_t len, const char *data, size_t bound) {
    h = fold(h, len);
    for (size_t i = 0; i < bound; i += 8) {
        uint64_t w = 0;
        for (size_t j = 0; j < 8 && i + j < bound; j++) {
            if (i + j < len) {
                w |= (uint64_t)(unsigned char)data[i + j] << (8 * j);
            }
        }
        h = fold(h, w);
    }
    return h;
}

#if defined(DEMO_MARKET)

static uint64_t fold_price(uint64_t h, const market_common_Price *p) {
    return fold_signed(fold_signed(h, p->mantissa), p->exponent);
}

static uint64_t fold_symbol(uint64_t h, const market_common_Symbol *s) {
    return fold_string(h, s->len, s->data, sizeof s->data);
}

static uint64_t fold_quote(uint64_t h, const market_data_Quote *q) {
    h = fold(h, market_data_Quote_MESSAGE_ID);
    h = fold(h, q->exchange_ts_ns);
    h = fold(h, q->receive_ts_ns);
    h = fold(h, q->sequence);
    h = fold_symbol(h, &q->symbol);
    h = fold_price(h, &q->bid);
    h = fold_price(h, &q->ask);
    h = fold(h, q->bid_size);
    h = fold(h, q->ask_size);
    h = fold(h, q->venue);
    return fold(h, q->status);
}

static uint64_t fold_trade(uint64_t h, const market_data_Trade *t) {
    h = fold(h, market_data_Trade_MESSAGE_ID);
    h = fold(h, t->exchange_ts_ns);
    h = fold(h, t->receive_ts_ns);
    h = fold(h, t->sequence);
    h = fold_symbol(h, &t->symbol);
    h = fold_price(h, &t->price);
    h = fold(h, t->quantity);
    h = fold(h, t->venue);
    h = fold(h, t->flags);
    return fold(h, t->is_block);
}

static uint64_t fold_ladder(uint64_t h, const market_data_Ladder *l) {
    h = fold(h, l->len);
    /* Validated: len <= 10. */
    for (uint32_t i = 0; i < l->len; i++) {
        h = fold_price(h, &l->items[i].price);
        h = fold(h, l->items[i].quantity);
        h = fold(h, l->items[i].order_count);
    }
    return h;
}

static uint64_t fold_book(uint64_t h, const market_data_BookSnapshot *b) {
    h = fold(h, market_data_BookSnapshot_MESSAGE_ID);
    h = fold(h, b->exchange_ts_ns);
    h = fold(h, b->sequence);
    h = fold_symbol(h, &b->symbol);
    h = fold(h, b->venue);
    h = fold_ladder(h, &b->bids);
    h = fold_ladder(h, &b->asks);
    h = fold_price(h, &b->auction_prices[0]);
    return fold_price(h, &b->auction_prices[1]);
}

static uint64_t fold_status(uint64_t h, const market_data_StatusChange *s) {
    h = fold(h, market_data_StatusChange_MESSAGE_ID);
    h = fold(h, s->exchange_ts_ns);
    h = fold_symbol(h, &s->symbol);
    h = fold(h, s->status);
    h = fold_string(h, s->reason.len, s->reason.data, sizeof s->reason.data);
    return fold(h, s->expected_resume_ns);
}

#else /* DEMO_EVO_V1 */

static uint64_t fold_price(uint64_t h, const market_evo_Price *p) {
    return fold_signed(fold_signed(h, p->mantissa), p->exponent);
}

static uint64_t fold_quote(uint64_t h, const market_evo_Quote *q) {
    h = fold(h, market_evo_Quote_MESSAGE_ID);
    h = fold(h, q->sequence);
    h = fold_string(h, q->symbol.len, q->symbol.data, sizeof q->symbol.data);
    h = fold_price(h, &q->bid);
    h = fold_price(h, &q->ask);
    h = fold(h, q->venue);
    /* A version-2 writer leaves it zero: it removed the member. */
    return fold(h, q->legacy_flags);
}

static uint64_t fold_trade(uint64_t h, const market_evo_Trade *t) {
    h = fold(h, market_evo_Trade_MESSAGE_ID);
    h = fold(h, t->sequence);
    h = fold_string(h, t->symbol.len, t->symbol.data, sizeof t->symbol.data);
    h = fold_price(h, &t->price);
    h = fold(h, t->quantity);
    return fold(h, t->aggressor);
}

#endif

/* ------------------------------------------------------------------------------------------ */
/* Counts (demo/src/tally.rs), kept across a restart with --state                             */

enum kind { QUOTE, TRADE, BOOK, STATUS, HEARTBEAT, UNKNOWN, KINDS };
static const char *const KIND_KEYS[KINDS] = {"quote",  "trade",     "book",
                                             "status", "heartbeat", "unknown"};

typedef struct counts {
    uint64_t next;          /* the next sequence number expected */
    uint64_t messages;      /* new messages of every kind */
    uint64_t by_kind[KINDS];
    uint64_t by_version[3]; /* new messages by writer version: 1, 2, other */
    uint64_t redelivered;
    uint64_t gaps;
    uint64_t misplaced;
    uint64_t invalid;
    uint64_t marker_after; /* `next` at the last message without a sequence number */
    uint64_t checksum;
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t starts; /* how many processes ran with these counts */
} counts;

/* The state file: two copies of the counts and a generation whose parity says which copy is
 * current. A commit writes the other copy, then publishes it by storing the generation (a
 * release store), so a process killed at any point leaves a complete copy behind. */
#define STATE_MAGIC UINT64_C(0x31736f6d65647466) /* "ftdemos1" */
typedef struct state {
    uint64_t magic;
    uint64_t generation;
    counts copy[2];
} state;

static void counts_init(counts *c) {
    memset(c, 0, sizeof *c);
    c->marker_after = UINT64_MAX;
    c->checksum = FOLD_INIT;
}

/* The state in FILE (created if absent), or one in memory when path is NULL. */
static state *state_open(const char *path) {
    static state in_memory;
    state *s = &in_memory;
    if (path != NULL) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)sizeof(state)) != 0) {
            perror(path);
            return NULL;
        }
        void *m = mmap(NULL, sizeof(state), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) {
            perror(path);
            return NULL;
        }
        s = (state *)m;
    }
    if (s->magic != STATE_MAGIC) {
        counts_init(&s->copy[0]);
        s->generation = 0;
        s->magic = STATE_MAGIC;
    }
    return s;
}

static void state_commit(state *s, const counts *c) {
    uint64_t g = __atomic_load_n(&s->generation, __ATOMIC_RELAXED) + 1;
    s->copy[g & 1] = *c;
    __atomic_store_n(&s->generation, g, __ATOMIC_RELEASE);
}

/* Whether the message with sequence number `seq` is new; a smaller one was redelivered. */
static int sequenced(counts *c, uint64_t seq) {
    if (seq < c->next) {
        c->redelivered++;
        return 0;
    }
    c->gaps += seq - c->next;
    c->next = seq + 1;
    return 1;
}

/* Whether a message without a sequence number, sent after every `every`th, is new. */
static int marker(counts *c, uint64_t every) {
    if (c->marker_after == c->next) {
        c->redelivered++;
        return 0;
    }
    if (c->next == 0 || c->next % every != 0) {
        c->misplaced++;
    }
    c->marker_after = c->next;
    return 1;
}

static void count(counts *c, enum kind k, uint16_t version, uint64_t now) {
    c->messages++;
    c->by_kind[k]++;
    c->by_version[version == 1 ? 0 : version == 2 ? 1 : 2]++;
    if (c->first_ns == 0) {
        c->first_ns = now;
    }
    c->last_ns = now;
}

/* ------------------------------------------------------------------------------------------ */
/* Latency: a log-linear histogram (32 buckets per power of two: about 3% resolution). Only
 * market.data carries a publish time; market.evo version 1 has no timestamp member.           */
#if defined(DEMO_MARKET)

#define SUB_BITS 5u
#define SUB (1u << SUB_BITS)
#define BUCKETS ((64u - SUB_BITS + 1u) * SUB)

static uint64_t histogram[BUCKETS];
static uint64_t samples;
static uint64_t largest;

static unsigned bucket_of(uint64_t v) {
    if (v < SUB) {
        return (unsigned)v;
    }
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    return (e - SUB_BITS + 1u) * SUB + (unsigned)((v >> (e - SUB_BITS)) - SUB);
}

/* The largest value that falls into bucket i. */
static uint64_t bucket_high(unsigned i) {
    if (i < SUB) {
        return i;
    }
    unsigned e = i / SUB + SUB_BITS - 1u;
    uint64_t sub = i % SUB;
    return ((SUB + sub + 1u) << (e - SUB_BITS)) - 1u;
}

static void record(uint64_t now, uint64_t published) {
    uint64_t v = now > published ? now - published : 1;
    histogram[bucket_of(v)]++;
    samples++;
    largest = v > largest ? v : largest;
}

/* The value below which a fraction q of the samples lie (as HdrHistogram's value_at_quantile:
 * the highest value of the bucket holding that rank). */
static uint64_t quantile(double q) {
    uint64_t rank = (uint64_t)(q * (double)samples + 0.5);
    rank = rank == 0 ? 1 : rank;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BUCKETS; i++) {
        seen += histogram[i];
        if (seen >= rank) {
            uint64_t high = bucket_high(i);
            return high < largest ? high : largest;
        }
    }
    return largest;
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Handling a frame                                                                            */

#if defined(DEMO_MARKET)

static void handle(const flatipc_frame *f, counts *c, uint64_t now) {
    switch (f->id) {
    case market_data_Quote_MESSAGE_ID: {
        /* In place in the ring, validated (NULL: invalid bytes or an impossible size). */
        const market_data_Quote *q = market_data_Quote_from_frame(f);
        if (q == NULL) {
            c->invalid++;
        } else if (sequenced(c, q->sequence)) {
            c->checksum = fold_quote(c->checksum, q);
            count(c, QUOTE, f->version, now);
            record(now, q->receive_ts_ns);
        }
        break;
    }
    case market_data_Trade_MESSAGE_ID: {
        const market_data_Trade *t = market_data_Trade_from_frame(f);
        if (t == NULL) {
            c->invalid++;
        } else if (sequenced(c, t->sequence)) {
            c->checksum = fold_trade(c->checksum, t);
            count(c, TRADE, f->version, now);
            record(now, t->receive_ts_ns);
        }
        break;
    }
    case market_data_BookSnapshot_MESSAGE_ID: {
        const market_data_BookSnapshot *b = market_data_BookSnapshot_from_frame(f);
        if (b == NULL) {
            c->invalid++;
        } else if (sequenced(c, b->sequence)) {
            c->checksum = fold_book(c->checksum, b);
            count(c, BOOK, f->version, now);
            record(now, b->exchange_ts_ns); /* the feed stamps it at publish time */
        }
        break;
    }
    case market_data_StatusChange_MESSAGE_ID: {
        const market_data_StatusChange *s = market_data_StatusChange_from_frame(f);
        if (s == NULL) {
            c->invalid++;
        } else if (marker(c, STATUS_EVERY)) {
            c->checksum = fold_status(c->checksum, s);
            count(c, STATUS, f->version, now);
            record(now, s->exchange_ts_ns);
        }
        break;
    }
    default: /* an id this build does not know */
        if (marker(c, STATUS_EVERY)) {
            count(c, UNKNOWN, f->version, now);
        }
        break;
    }
}

#else /* DEMO_EVO_V1 */

static void handle(const flatipc_frame *f, counts *c, uint64_t now) {
    /* A version-2 writer's frame is read in place (f->version == 2): this reader's version-1
     * prefix of the larger message. */
    switch (f->id) {
    case market_evo_Quote_MESSAGE_ID: {
        const market_evo_Quote *q = market_evo_Quote_from_frame(f);
        if (q == NULL) {
            c->invalid++;
        } else if (sequenced(c, q->sequence)) {
            c->checksum = fold_quote(c->checksum, q);
            count(c, QUOTE, f->version, now);
        }
        break;
    }
    case market_evo_Trade_MESSAGE_ID: {
        const market_evo_Trade *t = market_evo_Trade_from_frame(f);
        if (t == NULL) {
            c->invalid++;
        } else if (sequenced(c, t->sequence)) {
            c->checksum = fold_trade(c->checksum, t);
            count(c, TRADE, f->version, now);
        }
        break;
    }
    default: /* an id version 1 does not know: version 2's Heartbeat */
        if (marker(c, HEARTBEAT_EVERY)) {
            count(c, UNKNOWN, f->version, now);
        }
        break;
    }
}

#endif

/* ------------------------------------------------------------------------------------------ */

static void result(const counts *c) {
    printf("RESULT messages=%" PRIu64, c->messages);
    for (int k = 0; k < KINDS; k++) {
        printf(" %s=%" PRIu64, KIND_KEYS[k], c->by_kind[k]);
    }
    printf(" v1=%" PRIu64 " v2=%" PRIu64 " vother=%" PRIu64 " next=%" PRIu64, c->by_version[0],
           c->by_version[1], c->by_version[2], c->next);
    printf(" redelivered=%" PRIu64 " gaps=%" PRIu64 " misplaced=%" PRIu64 " invalid=%" PRIu64,
           c->redelivered, c->gaps, c->misplaced, c->invalid);
    printf(" checksum=%016" PRIx64 " first_ns=%" PRIu64 " last_ns=%" PRIu64 " starts=%" PRIu64,
           c->checksum, c->first_ns, c->last_ns, c->starts);
#if defined(DEMO_MARKET)
    if (samples > 0) {
        printf(" samples=%" PRIu64 " p50=%" PRIu64 " p90=%" PRIu64 " p99=%" PRIu64
               " p999=%" PRIu64 " max=%" PRIu64,
               samples, quantile(0.5), quantile(0.9), quantile(0.99), quantile(0.999), largest);
    }
#endif
    printf("\n");
}

static int usage(void) {
    fprintf(stderr, "usage: strategy --stream NAME --count N [--state FILE]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *name = NULL;
    const char *state_path = NULL;
    uint64_t total = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--stream") == 0) {
            name = argv[i + 1];
        } else if (strcmp(argv[i], "--count") == 0) {
            total = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--state") == 0) {
            state_path = argv[i + 1];
        } else {
            return usage();
        }
    }
    if (name == NULL || argc % 2 == 0) {
        return usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a pipe: one line at a time */

    state *st = state_open(state_path);
    if (st == NULL) {
        return 1;
    }
    counts c = st->copy[__atomic_load_n(&st->generation, __ATOMIC_ACQUIRE) & 1];
    c.starts++;
    state_commit(st, &c);

    flatipc_options options = flatipc_options_default();
    options.capacity = STREAM_CAPACITY; /* if this side creates the ring */
    /* Three busy processes share two CPUs: wait by giving the CPU away (rings.rs). */
    options.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_YIELD, 0);
    flatipc_stream_reader reader;
    int rc = LIB_STREAM_READER_OPEN_OR_CREATE(&reader, name, &options);
    if (rc != FLATIPC_OK) {
        fprintf(stderr, "C strategy: cannot attach to %s: %s\n", name, flatipc_strerror(rc));
        return 1;
    }
    /* Where a message of an older, smaller writer version would be zero-extended. */
    static LIB_MESSAGE_BUFFER buffer;
    if ((rc = flatipc_stream_reader_set_buffer(&reader, &buffer, sizeof buffer)) != FLATIPC_OK) {
        fprintf(stderr, "C strategy: set_buffer: %s\n", flatipc_strerror(rc));
        return 1;
    }
    /* The counts it starts from (a restarted strategy's saved ones), then READY. */
    printf("PROGRESS %" PRIu64 "\nREADY\n", c.messages);

    /* Tests only (demo/tests/demo.rs): FLATIPC_DEMO_C_PAUSE_AT=K makes the first run stop itself
     * (SIGSTOP) after it counted its Kth message and before it released it, so that the
     * orchestrator's SIGKILL lands where a message is counted but not released: the restarted
     * strategy is handed it again and must skip it as redelivered. */
    const char *pause = getenv("FLATIPC_DEMO_C_PAUSE_AT");
    uint64_t pause_at = pause != NULL && c.starts == 1 ? strtoull(pause, NULL, 10) : 0;

    uint64_t idle_since = now_ns();
    uint64_t next_progress = idle_since + PROGRESS_NS;
    flatipc_frame frame;
    for (;;) {
        uint64_t now;
        rc = flatipc_stream_reader_recv(&reader, &frame, RECV_TIMEOUT_NS);
        if (rc == FLATIPC_OK) {
            now = now_ns();
            handle(&frame, &c, now);
            /* Commit the counts, then release: a kill in between redelivers this message, and
             * its sequence number marks it as already counted. */
            state_commit(st, &c);
            if (c.messages == pause_at) {
                printf("PROGRESS %" PRIu64 "\n", c.messages);
                raise(SIGSTOP);
            }
            flatipc_stream_reader_release(&reader);
            idle_since = now;
        } else if (rc == FLATIPC_E_DISCONNECTED && c.next >= total) {
            break; /* every sequence number seen, and the feed has gone */
        } else if (rc == FLATIPC_E_DISCONNECTED || rc == FLATIPC_E_TIMEOUT) {
            /* No feed (yet, or between two feeds), or a quiet one. */
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            now = now_ns();
            if (now - idle_since > IDLE_NS) {
                fprintf(stderr, "C strategy: nothing arrived for 30 s (at sequence %" PRIu64 ")\n",
                        c.next);
                return 1;
            }
        } else {
            fprintf(stderr, "C strategy: receive: %s\n", flatipc_strerror(rc));
            return 1;
        }
        if (now >= next_progress) {
            next_progress = now + PROGRESS_NS;
            printf("PROGRESS %" PRIu64 "\n", c.messages);
        }
    }
    flatipc_stream_reader_close(&reader);
    result(&c);
    return 0;
}
