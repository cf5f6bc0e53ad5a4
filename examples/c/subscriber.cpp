// subscriber.cpp: a C++17 subscriber of the framed stream of the whole `market.data` library
// that the Rust publisher of examples/pubsub writes (`cargo run --release -p flatipc-pubsub --
// --stream publish`): trades and quotes interleaved on one ring, numbered by one sequence.
//
// It attaches to /dev/shm/flatipc.pubsub-quotes (or the name given as its argument) and hands
// every frame to the generated market_data_dispatch, which checks the frame's size and the
// message's data rules and calls the handler of its type, until the publisher has gone.
//
//   make subscriber-cpp          (or see README.md for the g++ command)
//   ./subscriber-cpp [NAME]      then, in another terminal, publish from Rust with --stream
//
// Exit status: 0 when every message was right, 1 otherwise.
#include "flatipc.h"
#include "market_data.h"  // generated: flatipc-gen --c-out include schemas/market.fidl

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

constexpr int64_t kTimeoutNs = 30'000'000'000;  // give up when nothing arrives for 30 s

// What the subscriber has seen so far; the handlers get it as their `ctx`.
struct Tally {
    uint64_t trades = 0;
    uint64_t quotes = 0;
    uint64_t expected = 0;                       // the next sequence number
    uint64_t checksum = 0xcbf29ce484222325ull;   // FNV-1a over 64-bit words
    std::string error;

    void fold(uint64_t x) { checksum = (checksum ^ x) * 0x100000001b3ull; }

    void next(uint64_t sequence) {
        if (sequence != expected && error.empty()) {
            error = "message " + std::to_string(sequence) + " arrived, expected " +
                    std::to_string(expected);
        }
        expected = sequence + 1;
        fold(sequence);
    }
};

market_data_handlers handlers() {
    market_data_handlers h{};  // every handler NULL: messages without one are counted, not used
    h.on_Trade = [](const market_data_Trade *trade, void *ctx) {
        auto &tally = *static_cast<Tally *>(ctx);
        tally.trades++;
        tally.next(trade->sequence);
        tally.fold(static_cast<uint64_t>(trade->price.mantissa));
    };
    h.on_Quote = [](const market_data_Quote *quote, void *ctx) {
        auto &tally = *static_cast<Tally *>(ctx);
        tally.quotes++;
        tally.next(quote->sequence);
        if (quote->ask.mantissa != quote->bid.mantissa + 1 && tally.error.empty()) {
            tally.error = "quote " + std::to_string(quote->sequence) + " is wrong";
        }
        tally.fold(static_cast<uint64_t>(quote->bid.mantissa));
        tally.fold(static_cast<uint64_t>(quote->ask.mantissa));
    };
    return h;
}

}  // namespace

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "pubsub-quotes";
    flatipc_options options = flatipc_options_default();
    options.capacity = 1 << 20;  // the publisher's: used if this side creates the ring

    flatipc_stream_reader reader;
    int rc = market_data_stream_reader_open_or_create(&reader, name, &options);
    if (rc != FLATIPC_OK) {
        std::fprintf(stderr, "subscriber-cpp: cannot attach to %s: %s\n", name,
                     flatipc_strerror(rc));
        return 1;
    }
    const market_data_handlers h = handlers();
    Tally tally;
    flatipc_frame frame;
    while ((rc = flatipc_stream_reader_recv(&reader, &frame, kTimeoutNs)) == FLATIPC_OK) {
        // The frame is in place in shared memory until it is released.
        int dispatched = market_data_dispatch(&frame, &h, &tally);
        flatipc_stream_reader_release(&reader);
        if (dispatched == FLATIPC_GEN_NO_HANDLER || dispatched < 0) {
            // A message this subscriber does not expect, or one that broke its type's rules.
            tally.error = std::string("message at position ") + std::to_string(frame.position) +
                          ": " + (dispatched < 0 ? flatipc_gen_strerror(dispatched)
                                                 : "no handler for its type");
        }
        // FLATIPC_GEN_UNKNOWN_ID: a message a newer schema added; skipped.
        if (!tally.error.empty()) {
            break;
        }
    }
    flatipc_stream_reader_close(&reader);
    if (!tally.error.empty() || rc != FLATIPC_E_DISCONNECTED) {
        std::fprintf(stderr, "subscriber-cpp: %s\n",
                     tally.error.empty() ? flatipc_gen_strerror(rc) : tally.error.c_str());
        return 1;
    }
    std::printf("subscriber-cpp: received %" PRIu64 " trades and %" PRIu64
                " quotes in order, checksum %016" PRIx64 "\n",
                tally.trades, tally.quotes, tally.checksum);
    return 0;
}
