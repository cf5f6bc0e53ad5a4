/* subscriber.c: a C11 subscriber of the typed channel of `market.data/Quote` that the Rust
 * publisher of examples/pubsub writes (`cargo run --release -p flatipc-pubsub -- publish`).
 *
 * It attaches to /dev/shm/flatipc.pubsub-quotes (or the name given as its argument), reads
 * every quote in place until the publisher has gone and the ring is drained, checks each one
 * as the Rust subscriber does, and prints how many it read and a checksum of them.
 *
 *   make subscriber              (or see README.md for the gcc command)
 *   ./subscriber [NAME]          then, in another terminal, publish from Rust
 *
 * Exit status: 0 when every quote was right, 1 otherwise. */
#include "flatipc.h"     /* first: it asks for the POSIX declarations it needs */
#include "market_data.h" /* generated: flatipc-gen --c-out include schemas/market.fidl */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TIMEOUT_NS INT64_C(30000000000) /* give up when nothing arrives for 30 s */

/* FNV-1a over 64-bit words: the checksum printed at the end. */
static uint64_t fold(uint64_t h, uint64_t x) { return (h ^ x) * UINT64_C(0x100000001b3); }

/* Quote `seq` as the publisher fills it (examples/pubsub/src/main.rs, fill_quote). */
static int quote_is_right(const market_data_Quote *q, uint64_t seq) {
    const char *symbol = seq % 2 == 0 ? "AAPL" : "MSFT";
    return q->sequence == seq && q->symbol.len == 4 && memcmp(q->symbol.data, symbol, 4) == 0 &&
           q->bid.mantissa == 18900 + (int64_t)(seq % 100) && q->bid.exponent == -2 &&
           q->ask.mantissa == q->bid.mantissa + 1 && q->ask.exponent == -2 &&
           q->bid_size == 100 && q->ask_size == 200 && q->venue == market_data_Venue_XNAS &&
           q->status == market_data_TradingStatus_OPEN;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "pubsub-quotes";
    flatipc_options options = flatipc_options_default();
    options.capacity = 4096; /* the publisher's: used if this side creates the ring */

    market_data_Quote_channel_reader reader;
    int rc = market_data_Quote_channel_reader_open_or_create(&reader, name, &options);
    if (rc != FLATIPC_OK) {
        fprintf(stderr, "subscriber: cannot attach to %s: %s\n", name, flatipc_strerror(rc));
        return 1;
    }
    /* A restarted subscriber resumes where the last one stopped. */
    uint64_t expected = flatipc_channel_reader_position(&reader.raw);
    uint64_t received = 0;
    uint64_t checksum = UINT64_C(0xcbf29ce484222325);
    const market_data_Quote *q;
    /* Each quote is read in place in shared memory and already validated (bounded symbol,
     * known enum values, zero padding); releasing it hands the slot back to the publisher. */
    while ((rc = market_data_Quote_recv(&reader, &q, TIMEOUT_NS)) == FLATIPC_OK) {
        if (!quote_is_right(q, expected)) {
            fprintf(stderr, "subscriber: quote %" PRIu64 " is wrong (expected %" PRIu64 ")\n",
                    q->sequence, expected);
            market_data_Quote_channel_reader_close(&reader);
            return 1;
        }
        checksum = fold(checksum, q->sequence);
        checksum = fold(checksum, (uint64_t)q->bid.mantissa);
        checksum = fold(checksum, (uint64_t)q->ask.mantissa);
        market_data_Quote_release(&reader);
        expected++;
        received++;
    }
    market_data_Quote_channel_reader_close(&reader);
    if (rc != FLATIPC_E_DISCONNECTED) { /* the publisher left and everything was read */
        fprintf(stderr, "subscriber: %s\n", flatipc_gen_strerror(rc));
        return 1;
    }
    printf("subscriber: received %" PRIu64 " quotes in order, checksum %016" PRIx64 "\n",
           received, checksum);
    return 0;
}
