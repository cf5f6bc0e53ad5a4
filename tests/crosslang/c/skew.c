/* The C peer of the version-skew matrix (tests/skew.rs): the same arguments, output lines,
 * exit statuses and message contents as src/bin/skew-peer/main.rs (its header comment is the
 * reference), built once per release of schemas/evolution/: -DSKEW_V1, -DSKEW_V2 or
 * -DSKEW_CONFLICT, with that release's generated market_evo.h on the include path (build.rs;
 * v1 and v2 also with AddressSanitizer and UndefinedBehaviorSanitizer).
 *
 *   skew-<release> ROLE RING VERSION MODE NAME N
 *     ROLE writer | reader, RING channel | stream | broadcast | bstream (a broadcast reader may
 *     add -lossy), VERSION the release it was built from, MODE create | open, N messages (0:
 *     attach, then hold the ring until stdin closes; the conflict build only holds)
 *
 * Message `seq` (1 to N) and each member's value are defined in src/skew.rs (`kind`,
 * `expected`) and again here, independently: a message is handled as one 64-bit word per member
 * of every version, which the writer builds its struct from and the reader compares.
 */
#include "flatipc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market_evo.h"

#if defined(SKEW_V1)
#define SKEW_VERSION 1u
#define SKEW_NAME "v1"
#elif defined(SKEW_V2)
#define SKEW_VERSION 2u
#define SKEW_NAME "v2"
#elif defined(SKEW_CONFLICT)
#define SKEW_VERSION 2u
#define SKEW_NAME "conflict"
#else
#error "build with -DSKEW_V1, -DSKEW_V2 or -DSKEW_CONFLICT"
#endif

#define TIMEOUT_NS INT64_C(30000000000)
/* As in skew-peer: 128-byte slots for a version 1 creator, so a version 2 writer fits. */
#define CHANNEL_CAPACITY 1024u
#define STREAM_CAPACITY (16u * 1024u)
/* skew::BROADCAST_CAPACITY: few slots, so that every one is lapped many times. */
#define BROADCAST_CAPACITY 64u
#define SPINS 2000u

/* The rings (skew::Ring). */
enum ring { CHANNEL, STREAM, BROADCAST, BSTREAM };

static flatipc_broadcast_options broadcast_options(void) {
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = BROADCAST_CAPACITY;
    o.max_readers = 8;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, SPINS);
    return o;
}

static flatipc_broadcast_reader_options reader_options(int lossy, void *copy, size_t size) {
    flatipc_broadcast_reader_options ro = flatipc_broadcast_reader_options_default();
    ro.policy = lossy ? FLATIPC_POLICY_LOSSY : FLATIPC_POLICY_TETHERED;
    ro.start = FLATIPC_START_NEXT;
    ro.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, SPINS);
    ro.buffer = lossy ? copy : NULL;
    ro.buffer_size = lossy ? size : 0;
    return ro;
}

static flatipc_options options(uint64_t capacity) {
    flatipc_options o = flatipc_options_default();
    o.capacity = capacity;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_PARK, SPINS);
    return o;
}

static void attached(const char *role) { printf("ATTACHED %s %s\n", role, SKEW_NAME); }

/* An attach that failed: "REFUSED <what> <code> <text>", exit status 5. */
static int refused(int rc) {
    const char *what = rc == FLATIPC_E_VERSION_MISMATCH ? "VERSION_MISMATCH"
                       : rc == FLATIPC_E_TYPE_MISMATCH  ? "TYPE_MISMATCH"
                       : rc == FLATIPC_E_CANNOT_UPGRADE ? "CANNOT_UPGRADE"
                                                        : "OTHER";
    printf("REFUSED %s %d %s\n", what, rc, flatipc_strerror(rc));
    return 5;
}

/* N = 0: keeps the end attached until stdin closes. */
static void hold(void) {
    while (fgetc(stdin) != EOF) {
    }
}

#ifndef SKEW_CONFLICT

/* An error after attaching: "ERR <what>: <code> <text>", exit status 4. */
static int fail(const char *what, int rc) {
    printf("ERR %s: %d %s\n", what, rc, flatipc_strerror(rc));
    return 4;
}

/* ------------------------------------------------------------------------------------------ */
/* The messages as words (src/skew.rs)                                                        */

#define MAX_WORDS 13
#define NEVER 0xFFFFu
/* MISMATCH lines printed at most (all are counted). */
#define SHOWN 10u

enum kind { QUOTE = 0, TRADE = 1, HEARTBEAT = 2 };
static const uint32_t KIND_ID[3] = {0x0E01u, 0x0E02u, 0x0E03u};
static const char *const KIND_NAME[3] = {"Quote", "Trade", "Heartbeat"};
/* The version that introduced each message. */
static const unsigned KIND_SINCE[3] = {1u, 1u, 2u};

/* One word of a message: the member it comes from and the versions it exists in. */
typedef struct member {
    const char *name;
    unsigned added;
    unsigned removed;
} member;

static const member QUOTE_MEMBERS[13] = {
    {"sequence", 1, NEVER},          {"symbol.len", 1, NEVER},
    {"symbol.data[0..8]", 1, NEVER}, {"symbol.data[8..16]", 1, NEVER},
    {"bid.mantissa", 1, NEVER},      {"bid.exponent", 1, NEVER},
    {"ask.mantissa", 1, NEVER},      {"ask.exponent", 1, NEVER},
    {"venue", 1, NEVER},             {"legacy_flags", 1, 2},
    {"bid_size", 2, NEVER},          {"ask_size", 2, NEVER},
    {"venue_ts_ns", 2, NEVER},
};
static const member TRADE_MEMBERS[9] = {
    {"sequence", 1, NEVER},           {"symbol.len", 1, NEVER},   {"symbol.data[0..8]", 1, NEVER},
    {"symbol.data[8..16]", 1, NEVER}, {"price.mantissa", 1, NEVER}, {"price.exponent", 1, NEVER},
    {"quantity", 1, NEVER},           {"aggressor", 1, NEVER},    {"trade_id", 2, NEVER},
};
static const member HEARTBEAT_MEMBERS[1] = {{"sent_ns", 2, NEVER}};
static const member *const MEMBERS[3] = {QUOTE_MEMBERS, TRADE_MEMBERS, HEARTBEAT_MEMBERS};
static const size_t MEMBER_COUNT[3] = {13, 9, 1};

static int member_at(const member *m, unsigned version) {
    return m->added <= version && version < m->removed;
}

/* Whether `version` has member `name` of `k`. */
static int has(enum kind k, const char *name, unsigned version) {
    for (size_t i = 0; i < MEMBER_COUNT[k]; i++) {
        if (strcmp(MEMBERS[k][i].name, name) == 0) {
            return member_at(&MEMBERS[k][i], version);
        }
    }
    return 0;
}

/* skew::kind: the message a writer of `version` sends as message `seq`. */
static enum kind kind_of(int stream, uint64_t seq, unsigned version) {
    if (!stream) {
        return QUOTE;
    }
    if (version >= 2 && seq % 7 == 0) {
        return HEARTBEAT;
    }
    return seq % 3 == 0 ? TRADE : QUOTE;
}

/* skew::symbol: `9 + seq % 8` letters from 'A' + seq % 26 on, as len and two LE words. */
static void symbol(uint64_t seq, uint64_t *w) {
    unsigned char data[16];
    uint64_t len = 9 + seq % 8;
    memset(data, 0, sizeof data);
    for (uint64_t i = 0; i < len; i++) {
        data[i] = (unsigned char)('A' + (seq + i) % 26);
    }
    w[0] = len;
    memcpy(&w[1], data, 8);
    memcpy(&w[2], data + 8, 8);
}

static uint64_t exponent(int8_t e) { return (uint64_t)(int64_t)e; }

/* skew::expected: every member's value in message `seq` (none is 0). */
static void expected(enum kind k, uint64_t seq, uint64_t *w) {
    memset(w, 0, MAX_WORDS * sizeof *w);
    switch (k) {
    case QUOTE: {
        uint64_t bid = 1000 + 3 * seq;
        w[0] = seq;
        symbol(seq, &w[1]);
        w[4] = bid;
        w[5] = exponent(-2);
        w[6] = bid + 1 + seq % 5;
        w[7] = exponent(-2);
        w[8] = 1 + seq % 3;
        w[9] = UINT64_C(0x4C000000) | (seq & 0xFFFFu);
        w[10] = 100 * (1 + seq % 1000);
        w[11] = 10 * (1 + seq % 997);
        w[12] = UINT64_C(1700000000000000000) + 1000 * seq;
        break;
    }
    case TRADE:
        w[0] = seq;
        symbol(seq, &w[1]);
        w[4] = 5 * seq + 3;
        w[5] = exponent(-4);
        w[6] = 1 + seq % 1000;
        w[7] = 1 + seq % 2;
        w[8] = (seq << 20) | 0xABCu;
        break;
    case HEARTBEAT:
        w[0] = UINT64_C(1700000000000000000) + 7 * seq;
        break;
    }
}

#define FOLD_INIT UINT64_C(0xcbf29ce484222325)

static uint64_t fold(uint64_t h, uint64_t x) { return (h ^ x) * UINT64_C(0x100000001b3); }

/* skew::fold_known: the id, then the words of the members both versions know. */
static uint64_t fold_known(uint64_t h, enum kind k, const uint64_t *w, unsigned writer,
                           unsigned reader) {
    h = fold(h, KIND_ID[k]);
    for (size_t i = 0; i < MEMBER_COUNT[k]; i++) {
        if (member_at(&MEMBERS[k][i], writer) && member_at(&MEMBERS[k][i], reader)) {
            h = fold(h, w[i]);
        }
    }
    return h;
}

/* ------------------------------------------------------------------------------------------ */
/* This release's structs from and to words                                                   */

/* The *_from functions clear the whole struct first (padding and removed members included) by
 * assigning a zero struct: a memset of a loaned slot trips GCC's -Warray-bounds, which cannot
 * see the slot's bounds through the inlined loan. */
static void string_from(market_evo_String16 *s, const uint64_t *w) {
    s->len = (uint32_t)w[0];
    memcpy(s->data, &w[1], 8);
    memcpy(s->data + 8, &w[2], 8);
}

static void string_words(const market_evo_String16 *s, uint64_t *w) {
    w[0] = s->len;
    memcpy(&w[1], s->data, 8);
    memcpy(&w[2], s->data + 8, 8);
}

static void price_from(market_evo_Price *p, const uint64_t *w) {
    p->mantissa = (int64_t)w[0];
    p->exponent = (int8_t)(int64_t)w[1];
}

static void price_words(const market_evo_Price *p, uint64_t *w) {
    w[0] = (uint64_t)p->mantissa;
    w[1] = (uint64_t)(int64_t)p->exponent;
}

static void quote_from(market_evo_Quote *q, const uint64_t *w) {
    *q = (market_evo_Quote){0};
    q->sequence = w[0];
    string_from(&q->symbol, &w[1]);
    price_from(&q->bid, &w[4]);
    price_from(&q->ask, &w[6]);
    q->venue = (market_evo_Venue)w[8];
#if SKEW_VERSION == 1
    q->legacy_flags = (uint32_t)w[9];
#else
    /* `legacy_flags` was removed in version 2: its bytes stay zero (the memset), which a
     * version 1 reader reads as "no flags". */
    q->bid_size = (uint32_t)w[10];
    q->ask_size = (uint32_t)w[11];
    q->venue_ts_ns = w[12];
#endif
}

static void quote_words(const market_evo_Quote *q, uint64_t *w) {
    memset(w, 0, MAX_WORDS * sizeof *w);
    w[0] = q->sequence;
    string_words(&q->symbol, &w[1]);
    price_words(&q->bid, &w[4]);
    price_words(&q->ask, &w[6]);
    w[8] = q->venue;
#if SKEW_VERSION == 1
    w[9] = q->legacy_flags;
#else
    w[10] = q->bid_size;
    w[11] = q->ask_size;
    w[12] = q->venue_ts_ns;
#endif
}

static void trade_from(market_evo_Trade *t, const uint64_t *w) {
    *t = (market_evo_Trade){0};
    t->sequence = w[0];
    string_from(&t->symbol, &w[1]);
    price_from(&t->price, &w[4]);
    t->quantity = (uint32_t)w[6];
    t->aggressor = (market_evo_Side)w[7];
#if SKEW_VERSION >= 2
    t->trade_id = w[8];
#endif
}

static void trade_words(const market_evo_Trade *t, uint64_t *w) {
    memset(w, 0, MAX_WORDS * sizeof *w);
    w[0] = t->sequence;
    string_words(&t->symbol, &w[1]);
    price_words(&t->price, &w[4]);
    w[6] = t->quantity;
    w[7] = t->aggressor;
#if SKEW_VERSION >= 2
    w[8] = t->trade_id;
#endif
}

#if SKEW_VERSION >= 2
static void heartbeat_from(market_evo_Heartbeat *h, const uint64_t *w) {
    *h = (market_evo_Heartbeat){0};
    h->sent_ns = w[0];
}

static void heartbeat_words(const market_evo_Heartbeat *h, uint64_t *w) {
    memset(w, 0, MAX_WORDS * sizeof *w);
    w[0] = h->sent_ns;
}

/* Whether the generated has_<member>(version) agree with the member table. */
static int has_agrees(enum kind k, uint16_t v) {
    switch (k) {
    case QUOTE:
        return market_evo_Quote_has_bid_size(v) == has(k, "bid_size", v) &&
               market_evo_Quote_has_ask_size(v) == has(k, "ask_size", v) &&
               market_evo_Quote_has_venue_ts_ns(v) == has(k, "venue_ts_ns", v);
    case TRADE:
        return market_evo_Trade_has_trade_id(v) == has(k, "trade_id", v);
    case HEARTBEAT:
        return 1;
    }
    return 0;
}
#else
static int has_agrees(enum kind k, uint16_t v) {
    /* Version 1 has no member added later, so no has_ functions. */
    (void)k;
    (void)v;
    (void)has;
    return 1;
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Writers                                                                                    */

/* How message `seq` is sent: loaned and filled in place, try_send retried, or send. */
enum how { LOAN = 0, TRY_SEND = 1, SEND = 2 };

static int write_channel(int create, const char *name, uint64_t n) {
    flatipc_options o = options(CHANNEL_CAPACITY);
    market_evo_Quote_channel_writer w;
    int rc = create ? market_evo_Quote_channel_writer_create(&w, name, &o)
                    : market_evo_Quote_channel_writer_open(&w, name, o.wait);
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("writer");
    if (n == 0) {
        hold();
        market_evo_Quote_channel_writer_close(&w);
        return 0;
    }
    uint64_t sums[2] = {FOLD_INIT, FOLD_INIT};
    for (uint64_t seq = 1; seq <= n; seq++) {
        uint64_t words[MAX_WORDS], written[MAX_WORDS];
        expected(QUOTE, seq, words);
        market_evo_Quote q;
        switch ((enum how)(seq % 3)) {
        case LOAN: {
            market_evo_Quote *slot = NULL;
            rc = market_evo_Quote_loan_timeout(&w, &slot, TIMEOUT_NS);
            if (rc != FLATIPC_OK) {
                return fail("loan", rc);
            }
            quote_from(slot, words);
            quote_words(slot, written);
            rc = market_evo_Quote_commit(&w);
            break;
        }
        case TRY_SEND:
            quote_from(&q, words);
            while ((rc = market_evo_Quote_try_send(&w, &q)) == FLATIPC_E_FULL) {
            }
            quote_words(&q, written);
            break;
        default:
            quote_from(&q, words);
            rc = market_evo_Quote_send(&w, &q, TIMEOUT_NS);
            quote_words(&q, written);
            break;
        }
        if (rc != FLATIPC_OK) {
            return fail("send", rc);
        }
        sums[0] = fold_known(sums[0], QUOTE, written, SKEW_VERSION, 1);
        sums[1] = fold_known(sums[1], QUOTE, written, SKEW_VERSION, 2);
    }
    market_evo_Quote_channel_writer_close(&w);
    printf("SENT %" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", n, sums[0], sums[1]);
    return 0;
}

/* Sends stream message `words` of kind `k`; fills `written` from the message as built. */
static int stream_send(flatipc_stream_writer *w, enum kind k, const uint64_t *words,
                       enum how how, uint64_t *written) {
    union {
        market_evo_Quote quote;
        market_evo_Trade trade;
#if SKEW_VERSION >= 2
        market_evo_Heartbeat heartbeat;
#endif
    } m;
    int rc;
    if (how == LOAN) {
        switch (k) {
        case QUOTE: {
            market_evo_Quote *slot = NULL;
            if ((rc = market_evo_Quote_stream_loan_timeout(w, &slot, TIMEOUT_NS)) != FLATIPC_OK) {
                return rc;
            }
            quote_from(slot, words);
            quote_words(slot, written);
            break;
        }
        case TRADE: {
            market_evo_Trade *slot = NULL;
            if ((rc = market_evo_Trade_stream_loan_timeout(w, &slot, TIMEOUT_NS)) != FLATIPC_OK) {
                return rc;
            }
            trade_from(slot, words);
            trade_words(slot, written);
            break;
        }
        default: {
#if SKEW_VERSION >= 2
            market_evo_Heartbeat *slot = NULL;
            rc = market_evo_Heartbeat_stream_loan_timeout(w, &slot, TIMEOUT_NS);
            if (rc != FLATIPC_OK) {
                return rc;
            }
            heartbeat_from(slot, words);
            heartbeat_words(slot, written);
            break;
#else
            return FLATIPC_E_INVALID_ARGUMENT; /* version 1 writers send no Heartbeat */
#endif
        }
        }
        return flatipc_stream_writer_commit(w);
    }
    /* Copied: try_send retried while full, or send. */
    const void *message = &m;
    uint32_t id = KIND_ID[k];
    uint32_t size;
    switch (k) {
    case QUOTE:
        quote_from(&m.quote, words);
        quote_words(&m.quote, written);
        size = (uint32_t)sizeof m.quote;
        break;
    case TRADE:
        trade_from(&m.trade, words);
        trade_words(&m.trade, written);
        size = (uint32_t)sizeof m.trade;
        break;
    default:
#if SKEW_VERSION >= 2
        heartbeat_from(&m.heartbeat, words);
        heartbeat_words(&m.heartbeat, written);
        size = (uint32_t)sizeof m.heartbeat;
        break;
#else
        return FLATIPC_E_INVALID_ARGUMENT;
#endif
    }
    if (how == TRY_SEND) {
        while ((rc = flatipc_stream_writer_try_send(w, id, size, message)) == FLATIPC_E_FULL) {
        }
        return rc;
    }
    /* The generated typed helpers, for the kinds they cover. */
    switch (k) {
    case QUOTE:
        return market_evo_Quote_stream_send(w, &m.quote, TIMEOUT_NS);
    case TRADE:
        return market_evo_Trade_stream_send(w, &m.trade, TIMEOUT_NS);
    default:
        return flatipc_stream_writer_send(w, id, size, message, TIMEOUT_NS);
    }
}

static int write_stream(int create, const char *name, uint64_t n) {
    flatipc_options o = options(STREAM_CAPACITY);
    flatipc_stream_writer w;
    int rc = create ? market_evo_stream_writer_create(&w, name, &o)
                    : market_evo_stream_writer_open(&w, name, o.wait);
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("writer");
    if (n == 0) {
        hold();
        flatipc_stream_writer_close(&w);
        return 0;
    }
    uint64_t sums[2] = {FOLD_INIT, FOLD_INIT};
    for (uint64_t seq = 1; seq <= n; seq++) {
        enum kind k = kind_of(1, seq, SKEW_VERSION);
        uint64_t words[MAX_WORDS], written[MAX_WORDS];
        expected(k, seq, words);
        rc = stream_send(&w, k, words, (enum how)(seq % 3), written);
        if (rc != FLATIPC_OK) {
            return fail("stream send", rc);
        }
        sums[0] = fold_known(sums[0], k, written, SKEW_VERSION, 1);
        sums[1] = fold_known(sums[1], k, written, SKEW_VERSION, 2);
    }
    flatipc_stream_writer_close(&w);
    printf("SENT %" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", n, sums[0], sums[1]);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Readers                                                                                    */

/* Runs of messages of one writer version a reader keeps (skew::Runs); more are counted as
 * mismatches. */
#define MAX_RUNS 16u

/* What a reader found so far (skew-peer's `Tally`). */
typedef struct tally {
    uint64_t count;
    uint64_t mismatches;
    uint64_t sum;
    /* The writer versions met, in order: runs of (version, first seq, last seq). */
    unsigned run_count;
    unsigned run_version[MAX_RUNS];
    uint64_t run_first[MAX_RUNS], run_last[MAX_RUNS];
    uint64_t skipped;
} tally;

static tally tally_new(void) {
    tally t;
    memset(&t, 0, sizeof t);
    t.sum = FOLD_INIT;
    return t;
}

static void mismatch(tally *t, uint64_t seq, const char *kind, const char *what, uint64_t got,
                     uint64_t want) {
    if (t->mismatches < SHOWN) {
        printf("MISMATCH %" PRIu64 " %s %s got 0x%" PRIx64 " want 0x%" PRIx64 "\n", seq, kind, what,
               got, want);
    }
    t->mismatches++;
}

/* How the reader read a message. */
enum read { KNOWN, UNKNOWN, INVALID };

/* Checks message `seq` as read (`KNOWN`: as kind `k` with `words`; `UNKNOWN`: an id this reader
 * does not know; `INVALID`: its view failed) and folds what both sides know. */
static void check(tally *t, int stream, uint64_t seq, unsigned version, uint32_t id,
                  enum read read, enum kind k, const uint64_t *words) {
    t->count++;
    if (t->run_count > 0 && t->run_version[t->run_count - 1] == version) {
        t->run_last[t->run_count - 1] = seq;
    } else if (t->run_count < MAX_RUNS) {
        t->run_version[t->run_count] = version;
        t->run_first[t->run_count] = seq;
        t->run_last[t->run_count] = seq;
        t->run_count++;
    } else {
        mismatch(t, seq, "Quote", "writer-versions", version, MAX_RUNS);
    }
    enum kind want = kind_of(stream, seq, version);
    if (id != KIND_ID[want]) {
        mismatch(t, seq, KIND_NAME[want], "id", id, KIND_ID[want]);
        return;
    }
    if (!has_agrees(want, (uint16_t)version)) {
        mismatch(t, seq, KIND_NAME[want], "has_<member>", version, version);
    }
    uint64_t none[MAX_WORDS];
    memset(none, 0, sizeof none);
    switch (read) {
    case INVALID:
        mismatch(t, seq, KIND_NAME[want], "view", id, id);
        return;
    case UNKNOWN:
        if (KIND_SINCE[want] <= SKEW_VERSION) {
            mismatch(t, seq, KIND_NAME[want], "unknown-id", id, KIND_ID[want]);
            return;
        }
        /* A message newer than this reader: seen only by its id. */
        t->skipped++;
        words = none;
        break;
    case KNOWN:
        if (k != want) {
            mismatch(t, seq, KIND_NAME[want], "kind", KIND_ID[k], KIND_ID[want]);
            return;
        }
        break;
    }
    uint64_t exp[MAX_WORDS];
    expected(want, seq, exp);
    for (size_t i = 0; i < MEMBER_COUNT[want]; i++) {
        const member *m = &MEMBERS[want][i];
        if (!member_at(m, SKEW_VERSION)) {
            continue;
        }
        /* Members the writer lacks read as their default, 0. */
        uint64_t w = member_at(m, version) ? exp[i] : 0;
        if (words[i] != w) {
            mismatch(t, seq, KIND_NAME[want], m->name, words[i], w);
            break;
        }
    }
    t->sum = fold_known(t->sum, want, words, version, SKEW_VERSION);
}

/* RECV <count> <mismatches> <sum> <runs> <skipped> <missed> <end>. */
static void report(const tally *t, uint64_t missed, const char *end) {
    printf("RECV %" PRIu64 " %" PRIu64 " %016" PRIx64 " ", t->count, t->mismatches, t->sum);
    for (unsigned i = 0; i < t->run_count; i++) {
        printf("%s%u:%" PRIu64 "-%" PRIu64, i == 0 ? "" : ",", t->run_version[i], t->run_first[i],
               t->run_last[i]);
    }
    printf("%s %" PRIu64 " %" PRIu64 " %s\n", t->run_count == 0 ? "-" : "", t->skipped, missed,
           end);
}

/* What followed the last message: the writer's detach, or an error code. */
static const char *end_of(int rc, char *buf, size_t len) {
    if (rc == FLATIPC_E_DISCONNECTED) {
        return "DISCONNECTED";
    }
    snprintf(buf, len, "%s%d", rc == FLATIPC_OK ? "unexpected-message-" : "error", rc);
    return buf;
}

/* The size of this release's Quote at `version`, from its steps (0: newer than it knows). */
static uint32_t quote_size_at(unsigned version) {
    uint32_t size = 0;
    if (version > SKEW_VERSION) {
        return 0;
    }
    for (unsigned i = 0; i < market_evo_Quote_STEP_COUNT; i++) {
        if (market_evo_Quote_STEPS[i].version <= version) {
            size = market_evo_Quote_STEPS[i].size;
        }
    }
    return size;
}

static int read_channel(int create, const char *name, uint64_t n) {
    flatipc_options o = options(CHANNEL_CAPACITY);
    market_evo_Quote_channel_reader r;
    int rc = create ? market_evo_Quote_channel_reader_create(&r, name, &o)
                    : market_evo_Quote_channel_reader_open(&r, name, o.wait);
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("reader");
    if (n == 0) {
        hold();
        market_evo_Quote_channel_reader_close(&r);
        return 0;
    }
    tally t = tally_new();
    const market_evo_Quote *q = NULL;
    for (uint64_t seq = 1; seq <= n; seq++) {
        rc = market_evo_Quote_try_recv(&r, &q);
        if (rc == FLATIPC_E_EMPTY) {
            rc = market_evo_Quote_recv(&r, &q, TIMEOUT_NS);
        }
        if (rc != FLATIPC_OK) {
            return fail("recv", rc);
        }
        unsigned version = flatipc_channel_reader_version(&r.raw);
        uint32_t size = flatipc_channel_reader_size(&r.raw);
        uint32_t want_size = quote_size_at(version);
        /* The writer's size: its layout at its version, or (newer) at least ours. */
        if (want_size != 0 ? size != want_size : size < sizeof *q) {
            mismatch(&t, seq, "Quote", "writer-size", size, want_size);
        }
        uint64_t words[MAX_WORDS];
        quote_words(q, words);
        check(&t, 0, seq, version, KIND_ID[QUOTE], KNOWN, QUOTE, words);
        if ((rc = market_evo_Quote_release(&r)) != FLATIPC_OK) {
            return fail("release", rc);
        }
    }
    char buf[64];
    rc = market_evo_Quote_recv(&r, &q, TIMEOUT_NS);
    report(&t, 0, end_of(rc, buf, sizeof buf));
    market_evo_Quote_channel_reader_close(&r);
    return t.mismatches == 0 ? 0 : 3;
}

/* The frame's message as words (`*k` its kind); the reader checks `widened`: a frame of an
 * older writer is a zero-extended copy of our type's size, any other is read in place. */
static enum read read_frame(const flatipc_frame *f, enum kind *k, uint64_t *words,
                            uint32_t *widened_want) {
    int older = f->version < SKEW_VERSION;
    switch (f->id) {
    case market_evo_Quote_MESSAGE_ID: {
        const market_evo_Quote *q = market_evo_Quote_from_frame(f);
        *k = QUOTE;
        *widened_want = older ? (uint32_t)sizeof *q : 0;
        if (q == NULL) {
            return INVALID;
        }
        quote_words(q, words);
        return KNOWN;
    }
    case market_evo_Trade_MESSAGE_ID: {
        const market_evo_Trade *t = market_evo_Trade_from_frame(f);
        *k = TRADE;
        *widened_want = older ? (uint32_t)sizeof *t : 0;
        if (t == NULL) {
            return INVALID;
        }
        trade_words(t, words);
        return KNOWN;
    }
#if SKEW_VERSION >= 2
    case market_evo_Heartbeat_MESSAGE_ID: {
        const market_evo_Heartbeat *h = market_evo_Heartbeat_from_frame(f);
        *k = HEARTBEAT;
        *widened_want = 0; /* unchanged since it was added */
        if (h == NULL) {
            return INVALID;
        }
        heartbeat_words(h, words);
        return KNOWN;
    }
#endif
    default:
        *widened_want = 0;
        return UNKNOWN;
    }
}

static int read_stream(int create, const char *name, uint64_t n) {
    flatipc_options o = options(STREAM_CAPACITY);
    flatipc_stream_reader r;
    int rc = create ? market_evo_stream_reader_create(&r, name, &o)
                    : market_evo_stream_reader_open(&r, name, o.wait);
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("reader");
    if (n == 0) {
        hold();
        flatipc_stream_reader_close(&r);
        return 0;
    }
    /* Where a message of an older writer is zero-extended. */
    static market_evo_message_buffer buffer;
    if ((rc = flatipc_stream_reader_set_buffer(&r, &buffer, sizeof buffer)) != FLATIPC_OK) {
        return fail("set_buffer", rc);
    }
    tally t = tally_new();
    flatipc_frame f;
    for (uint64_t seq = 1; seq <= n; seq++) {
        rc = flatipc_stream_reader_try_recv(&r, &f);
        if (rc == FLATIPC_E_EMPTY) {
            rc = flatipc_stream_reader_recv(&r, &f, TIMEOUT_NS);
        }
        if (rc != FLATIPC_OK) {
            return fail("stream recv", rc);
        }
        enum kind k = QUOTE;
        uint64_t words[MAX_WORDS];
        uint32_t widened_want = 0;
        memset(words, 0, sizeof words);
        enum read read = read_frame(&f, &k, words, &widened_want);
        if (f.widened != widened_want) {
            mismatch(&t, seq, KIND_NAME[k], "widened", f.widened, widened_want);
        }
        check(&t, 1, seq, f.version, f.id, read, k, words);
        if ((rc = flatipc_stream_reader_release(&r)) != FLATIPC_OK) {
            return fail("release", rc);
        }
    }
    char buf[64];
    rc = flatipc_stream_reader_recv(&r, &f, TIMEOUT_NS);
    report(&t, 0, end_of(rc, buf, sizeof buf));
    flatipc_stream_reader_close(&r);
    return t.mismatches == 0 ? 0 : 3;
}

/* ------------------------------------------------------------------------------------------ */
/* Broadcast rings: message `seq` is the one at position seq - 1                              */

/* Waits for a line on stdin (or its end): the test attaches the readers first. */
static void wait_for_go(void) {
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL) {
        clearerr(stdin);
    }
}

/* Sends typed broadcast message `words`; fills `written` from the message as built. */
static int bcast_send(flatipc_broadcast_writer *w, const uint64_t *words, enum how how,
                      uint64_t *written) {
    static market_evo_Quote staging;
    market_evo_Quote q;
    int rc;
    switch (how) {
    case LOAN:
        if ((rc = flatipc_broadcast_writer_loan(w, &staging)) != FLATIPC_OK) {
            return rc;
        }
        quote_from(&staging, words);
        quote_words(&staging, written);
        return flatipc_broadcast_writer_commit(w, TIMEOUT_NS);
    case TRY_SEND:
        quote_from(&q, words);
        quote_words(&q, written);
        while ((rc = flatipc_broadcast_writer_try_send(w, &q)) == FLATIPC_E_FULL) {
        }
        return rc;
    default:
        quote_from(&q, words);
        quote_words(&q, written);
        return flatipc_broadcast_writer_send(w, &q, TIMEOUT_NS);
    }
}

/* Sends broadcast stream message `words` of kind `k`; fills `written` as built. */
static int bstream_send(flatipc_broadcast_stream_writer *w, enum kind k, const uint64_t *words,
                        enum how how, uint64_t *written) {
    static market_evo_message_buffer m;
    uint32_t size;
    switch (k) {
    case QUOTE:
        quote_from(&m.Quote, words);
        quote_words(&m.Quote, written);
        size = (uint32_t)sizeof m.Quote;
        break;
    case TRADE:
        trade_from(&m.Trade, words);
        trade_words(&m.Trade, written);
        size = (uint32_t)sizeof m.Trade;
        break;
    default:
#if SKEW_VERSION >= 2
        heartbeat_from(&m.Heartbeat, words);
        heartbeat_words(&m.Heartbeat, written);
        size = (uint32_t)sizeof m.Heartbeat;
        break;
#else
        return FLATIPC_E_INVALID_ARGUMENT; /* version 1 writers send no Heartbeat */
#endif
    }
    int rc;
    switch (how) {
    case LOAN: {
        /* The loan zeroes its staging memory: build the message there again. */
        static market_evo_message_buffer staging;
        rc = flatipc_broadcast_stream_writer_loan(w, KIND_ID[k], size, &staging);
        if (rc != FLATIPC_OK) {
            return rc;
        }
        memcpy(&staging, &m, size);
        return flatipc_broadcast_stream_writer_commit(w, TIMEOUT_NS);
    }
    case TRY_SEND:
        while ((rc = flatipc_broadcast_stream_writer_try_send(w, KIND_ID[k], size, &m)) ==
               FLATIPC_E_FULL) {
        }
        return rc;
    default:
        return flatipc_broadcast_stream_writer_send(w, KIND_ID[k], size, &m, TIMEOUT_NS);
    }
}

/* A writer of either broadcast ring: waits for the go line, then sends N messages after the
 * ring's last. */
static int write_broadcast(int framed, int create, const char *name, uint64_t n) {
    flatipc_broadcast_options o = broadcast_options();
    flatipc_broadcast_writer w;
    flatipc_broadcast_stream_writer sw;
    int rc;
    if (framed) {
        rc = create ? flatipc_broadcast_stream_writer_create(&sw, name, market_evo_messages(),
                                                             market_evo_MESSAGE_COUNT, &o)
                    : flatipc_broadcast_stream_writer_open(&sw, name, market_evo_messages(),
                                                           market_evo_MESSAGE_COUNT, o.wait);
    } else {
        rc = create ? flatipc_broadcast_writer_create(&w, name, market_evo_Quote_message(), &o)
                    : flatipc_broadcast_writer_open(&w, name, market_evo_Quote_message(), o.wait);
    }
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("writer");
    if (n == 0) {
        hold();
    } else {
        wait_for_go();
        uint64_t first = 1 + (framed ? flatipc_broadcast_stream_writer_position(&sw)
                                     : flatipc_broadcast_writer_position(&w));
        uint64_t sums[2] = {FOLD_INIT, FOLD_INIT};
        for (uint64_t seq = first; seq < first + n; seq++) {
            enum kind k = kind_of(framed, seq, SKEW_VERSION);
            uint64_t words[MAX_WORDS], written[MAX_WORDS];
            expected(k, seq, words);
            rc = framed ? bstream_send(&sw, k, words, (enum how)(seq % 3), written)
                        : bcast_send(&w, words, (enum how)(seq % 3), written);
            if (rc != FLATIPC_OK) {
                return fail("broadcast send", rc);
            }
            sums[0] = fold_known(sums[0], k, written, SKEW_VERSION, 1);
            sums[1] = fold_known(sums[1], k, written, SKEW_VERSION, 2);
        }
        printf("SENT %" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", n, sums[0], sums[1]);
    }
    if (framed) {
        flatipc_broadcast_stream_writer_close(&sw);
    } else {
        flatipc_broadcast_writer_close(&w);
    }
    return 0;
}

/* Whether `p` lies in `[base, base + len)`. */
static int within(const void *p, const void *base, size_t len) {
    return (const unsigned char *)p >= (const unsigned char *)base &&
           (const unsigned char *)p < (const unsigned char *)base + len;
}

/* The broadcast frame's message as words, as read_frame for a stream frame. */
static enum read read_bframe(const flatipc_broadcast_frame *f, enum kind *k, uint64_t *words,
                             uint32_t *widened_want) {
    int older = f->version < SKEW_VERSION;
    switch (f->id) {
    case market_evo_Quote_MESSAGE_ID: {
        const market_evo_Quote *q =
            (const market_evo_Quote *)flatipc_broadcast_frame_get(f, market_evo_Quote_message());
        *k = QUOTE;
        *widened_want = older ? (uint32_t)sizeof *q : 0;
        if (q == NULL || market_evo_Quote_validate(q) != 0) {
            return INVALID;
        }
        quote_words(q, words);
        return KNOWN;
    }
    case market_evo_Trade_MESSAGE_ID: {
        const market_evo_Trade *t =
            (const market_evo_Trade *)flatipc_broadcast_frame_get(f, market_evo_Trade_message());
        *k = TRADE;
        *widened_want = older ? (uint32_t)sizeof *t : 0;
        if (t == NULL || market_evo_Trade_validate(t) != 0) {
            return INVALID;
        }
        trade_words(t, words);
        return KNOWN;
    }
#if SKEW_VERSION >= 2
    case market_evo_Heartbeat_MESSAGE_ID: {
        const market_evo_Heartbeat *h = (const market_evo_Heartbeat *)flatipc_broadcast_frame_get(
            f, market_evo_Heartbeat_message());
        *k = HEARTBEAT;
        *widened_want = 0; /* unchanged since it was added */
        if (h == NULL || market_evo_Heartbeat_validate(h) != 0) {
            return INVALID;
        }
        heartbeat_words(h, words);
        return KNOWN;
    }
#endif
    default:
        *widened_want = 0;
        return UNKNOWN;
    }
}

/* A tethered or lossy reader of either broadcast ring: reads until N messages were received or
 * missed (across writers that take over the ring one after another), then waits for the last
 * writer's detach. An older writer's message must be zero-extended (tethered: into the
 * set_buffer buffer; lossy: in the copy), a newer or equal one read in place or copied. */
static int read_broadcast(int framed, int lossy, int create, const char *name, uint64_t n) {
    flatipc_broadcast_options o = broadcast_options();
    /* Copies (lossy), and where a tethered reader zero-extends older messages. */
    static market_evo_message_buffer copy, widened;
    flatipc_broadcast_reader r;
    flatipc_broadcast_stream_reader sr;
    int rc;
    if (framed) {
        flatipc_broadcast_reader_options ro = reader_options(lossy, &copy, sizeof copy);
        const flatipc_message *table = market_evo_messages();
        rc = create ? flatipc_broadcast_stream_reader_open_or_create(
                          &sr, name, table, market_evo_MESSAGE_COUNT, &o, &ro)
                    : flatipc_broadcast_stream_reader_open(&sr, name, table,
                                                           market_evo_MESSAGE_COUNT, &ro);
    } else {
        flatipc_broadcast_reader_options ro = reader_options(lossy, &copy, sizeof copy.Quote);
        rc = create ? flatipc_broadcast_reader_open_or_create(&r, name, market_evo_Quote_message(),
                                                              &o, &ro)
                    : flatipc_broadcast_reader_open(&r, name, market_evo_Quote_message(), &ro);
    }
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("reader");
    if (n == 0) {
        hold();
        if (framed) {
            flatipc_broadcast_stream_reader_close(&sr);
        } else {
            flatipc_broadcast_reader_close(&r);
        }
        return 0;
    }
    rc = framed ? flatipc_broadcast_stream_reader_set_buffer(&sr, &widened, sizeof widened)
                : flatipc_broadcast_reader_set_buffer(&r, &widened.Quote, sizeof widened.Quote);
    if (rc != FLATIPC_OK) {
        return fail("set_buffer", rc);
    }
    tally t = tally_new();
    uint64_t missed = 0, waited_since = 0;
    for (;;) {
        flatipc_broadcast_message m;
        flatipc_broadcast_frame f;
        int done = t.count + missed >= n;
        rc = framed ? flatipc_broadcast_stream_reader_try_recv(&sr, &f)
                    : flatipc_broadcast_reader_try_recv(&r, &m);
        if (rc == FLATIPC_E_EMPTY) {
            rc = framed ? flatipc_broadcast_stream_reader_recv(&sr, &f, TIMEOUT_NS)
                        : flatipc_broadcast_reader_recv(&r, &m, TIMEOUT_NS);
        }
        if (done) {
            break; /* rc: what followed the last message */
        }
        if (rc == FLATIPC_E_DISCONNECTED) {
            /* Between two writers: wait for the next one, for a while. */
            uint64_t now = flatipc_i_now();
            waited_since = waited_since == 0 ? now : waited_since;
            if (now - waited_since > (uint64_t)TIMEOUT_NS) {
                return fail("broadcast recv", rc);
            }
            flatipc_i_sleep_ms(1);
            continue;
        }
        if (rc != FLATIPC_OK) {
            return fail("broadcast recv", rc);
        }
        waited_since = 0;
        uint64_t words[MAX_WORDS];
        memset(words, 0, sizeof words);
        if (framed) {
            uint64_t seq = f.position + 1;
            enum kind k = QUOTE;
            uint32_t widened_want = 0;
            enum read read = read_bframe(&f, &k, words, &widened_want);
            if (f.widened != widened_want) {
                mismatch(&t, seq, KIND_NAME[k], "widened", f.widened, widened_want);
            }
            /* Zero-extended into the buffer (tethered) or in the copy (lossy). */
            const void *want_at = lossy ? (const void *)&copy : (const void *)&widened;
            if (f.widened != 0 && f.data != want_at) {
                mismatch(&t, seq, KIND_NAME[k], "widened-at", 0, 0);
            }
            missed += f.missed;
            check(&t, 1, seq, f.version, f.id, read, k, words);
            rc = flatipc_broadcast_stream_reader_release(&sr);
        } else {
            uint64_t seq = m.position + 1;
            const market_evo_Quote *q = (const market_evo_Quote *)m.data;
            unsigned version = flatipc_broadcast_reader_version(&r);
            uint32_t size = flatipc_broadcast_reader_size(&r);
            uint32_t want_size = quote_size_at(version);
            if (want_size != 0 ? size != want_size : size < sizeof *q) {
                mismatch(&t, seq, "Quote", "writer-size", size, want_size);
            }
            /* Where the message is: zero-extended into the buffer (an older writer, tethered),
             * in the ring (tethered), or in the copy (lossy). */
            int at = lossy ? m.data == (const void *)&copy
                     : version < SKEW_VERSION
                         ? m.data == (const void *)&widened
                         : within(m.data, r.end.data, (size_t)r.end.seg.data_size);
            if (!at) {
                mismatch(&t, seq, "Quote", "message-at", version, SKEW_VERSION);
            }
            missed += m.missed;
            enum read read = market_evo_Quote_validate(q) == 0 ? KNOWN : INVALID;
            quote_words(q, words);
            check(&t, 0, seq, version, KIND_ID[QUOTE], read, QUOTE, words);
            rc = flatipc_broadcast_reader_release(&r);
        }
        if (rc != FLATIPC_OK) {
            return fail("release", rc);
        }
    }
    char buf[64];
    report(&t, missed, end_of(rc, buf, sizeof buf));
    if (framed) {
        flatipc_broadcast_stream_reader_close(&sr);
    } else {
        flatipc_broadcast_reader_close(&r);
    }
    return t.mismatches == 0 ? 0 : 3;
}

#else /* SKEW_CONFLICT: attaches and holds, nothing else (it exists to be refused) */

static int write_channel(int create, const char *name, uint64_t n) {
    flatipc_options o = options(CHANNEL_CAPACITY);
    market_evo_Quote_channel_writer w;
    int rc = create ? market_evo_Quote_channel_writer_create(&w, name, &o)
                    : market_evo_Quote_channel_writer_open(&w, name, o.wait);
    (void)n;
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("writer");
    hold();
    market_evo_Quote_channel_writer_close(&w);
    return 0;
}

static int read_channel(int create, const char *name, uint64_t n) {
    flatipc_options o = options(CHANNEL_CAPACITY);
    market_evo_Quote_channel_reader r;
    int rc = create ? market_evo_Quote_channel_reader_create(&r, name, &o)
                    : market_evo_Quote_channel_reader_open(&r, name, o.wait);
    (void)n;
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("reader");
    hold();
    market_evo_Quote_channel_reader_close(&r);
    return 0;
}

static int write_stream(int create, const char *name, uint64_t n) {
    flatipc_options o = options(STREAM_CAPACITY);
    flatipc_stream_writer w;
    int rc = create ? market_evo_stream_writer_create(&w, name, &o)
                    : market_evo_stream_writer_open(&w, name, o.wait);
    (void)n;
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("writer");
    hold();
    flatipc_stream_writer_close(&w);
    return 0;
}

static int read_stream(int create, const char *name, uint64_t n) {
    flatipc_options o = options(STREAM_CAPACITY);
    flatipc_stream_reader r;
    int rc = create ? market_evo_stream_reader_create(&r, name, &o)
                    : market_evo_stream_reader_open(&r, name, o.wait);
    (void)n;
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("reader");
    hold();
    flatipc_stream_reader_close(&r);
    return 0;
}

static int write_broadcast(int framed, int create, const char *name, uint64_t n) {
    flatipc_broadcast_options o = broadcast_options();
    flatipc_broadcast_writer w;
    flatipc_broadcast_stream_writer sw;
    int rc;
    (void)n;
    if (framed) {
        rc = create ? flatipc_broadcast_stream_writer_create(&sw, name, market_evo_messages(),
                                                             market_evo_MESSAGE_COUNT, &o)
                    : flatipc_broadcast_stream_writer_open(&sw, name, market_evo_messages(),
                                                           market_evo_MESSAGE_COUNT, o.wait);
    } else {
        rc = create ? flatipc_broadcast_writer_create(&w, name, market_evo_Quote_message(), &o)
                    : flatipc_broadcast_writer_open(&w, name, market_evo_Quote_message(), o.wait);
    }
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("writer");
    hold();
    if (framed) {
        flatipc_broadcast_stream_writer_close(&sw);
    } else {
        flatipc_broadcast_writer_close(&w);
    }
    return 0;
}

static int read_broadcast(int framed, int lossy, int create, const char *name, uint64_t n) {
    flatipc_broadcast_options o = broadcast_options();
    static market_evo_message_buffer copy;
    flatipc_broadcast_reader_options ro = reader_options(lossy, &copy, sizeof copy);
    flatipc_broadcast_reader r;
    flatipc_broadcast_stream_reader sr;
    int rc;
    (void)n;
    if (framed) {
        const flatipc_message *table = market_evo_messages();
        rc = create ? flatipc_broadcast_stream_reader_open_or_create(
                          &sr, name, table, market_evo_MESSAGE_COUNT, &o, &ro)
                    : flatipc_broadcast_stream_reader_open(&sr, name, table,
                                                           market_evo_MESSAGE_COUNT, &ro);
    } else {
        rc = create ? flatipc_broadcast_reader_open_or_create(&r, name, market_evo_Quote_message(),
                                                              &o, &ro)
                    : flatipc_broadcast_reader_open(&r, name, market_evo_Quote_message(), &ro);
    }
    if (rc != FLATIPC_OK) {
        return refused(rc);
    }
    attached("reader");
    hold();
    if (framed) {
        flatipc_broadcast_stream_reader_close(&sr);
    } else {
        flatipc_broadcast_reader_close(&r);
    }
    return 0;
}

#endif /* SKEW_CONFLICT */

static int usage(void) {
    fprintf(stderr,
            "usage: skew-%s writer|reader channel|stream|broadcast[-lossy]|bstream[-lossy] %s "
            "create|open NAME N%s\n",
            SKEW_NAME, SKEW_NAME,
#ifdef SKEW_CONFLICT
            " (N = 0: this release only attaches)"
#else
            ""
#endif
    );
    return 2;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 7 || strcmp(argv[3], SKEW_NAME) != 0) {
        return usage();
    }
    int writer = strcmp(argv[1], "writer") == 0;
    static const char *const RINGS[4] = {"channel", "stream", "broadcast", "bstream"};
    char ring_arg[32];
    snprintf(ring_arg, sizeof ring_arg, "%s", argv[2]);
    size_t len = strlen(ring_arg);
    int lossy = len > 6 && strcmp(ring_arg + len - 6, "-lossy") == 0;
    if (lossy) {
        ring_arg[len - 6] = '\0';
    }
    int ring = -1;
    for (int i = 0; i < 4; i++) {
        ring = strcmp(ring_arg, RINGS[i]) == 0 ? i : ring;
    }
    int create = strcmp(argv[4], "create") == 0;
    char *end = NULL;
    uint64_t n = strtoull(argv[6], &end, 10);
    if ((!writer && strcmp(argv[1], "reader") != 0) || ring < 0 ||
        (lossy && (writer || ring < BROADCAST)) || (!create && strcmp(argv[4], "open") != 0) ||
        end == argv[6] || *end != '\0') {
        return usage();
    }
#ifdef SKEW_CONFLICT
    if (n != 0) {
        return usage();
    }
#endif
    const char *name = argv[5];
    switch ((enum ring)ring) {
    case CHANNEL:
        return writer ? write_channel(create, name, n) : read_channel(create, name, n);
    case STREAM:
        return writer ? write_stream(create, name, n) : read_stream(create, name, n);
    default: {
        int framed = ring == BSTREAM;
        return writer ? write_broadcast(framed, create, name, n)
                      : read_broadcast(framed, lossy, create, name, n);
    }
    }
}
