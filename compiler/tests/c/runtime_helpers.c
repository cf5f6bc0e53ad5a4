/* The runtime helpers of the generated market_data.h, in one process, compiled as C11 and as
 * C++17 by compiler/tests/c_runtime.rs: typed channel, framed stream, dispatch and from_frame,
 * with valid and invalid messages. Prints one line per check; the test compares them.
 *
 * Usage: runtime_helpers SEGMENT-NAME-PREFIX (the segments are removed before returning). */
#include "flatipc.h"

#include <stdio.h>
#include <string.h>

#include "market_data.h"

static char channel_name[96];
static char stream_name[96];

static void say(const char *what, int rc) { printf("%s %d\n", what, rc); }

static void fill_quote(market_data_Quote *q, uint64_t seq) {
    memset(q, 0, sizeof *q);
    q->sequence = seq;
    q->symbol.len = 4;
    memcpy(q->symbol.data, "AAPL", 4);
    q->bid.mantissa = 100;
    q->ask.mantissa = 101;
    q->venue = market_data_Venue_XNAS;
    q->status = market_data_TradingStatus_OPEN;
}

static void channel(void) {
    flatipc_options o = flatipc_options_default();
    o.capacity = 4;
    market_data_Quote_channel_writer w;
    market_data_Quote_channel_reader r;
    say("channel writer", market_data_Quote_channel_writer_create(&w, channel_name, &o));
    say("channel reader", market_data_Quote_channel_reader_open(&r, channel_name, o.wait));
    market_data_Quote *slot = NULL;
    say("loan", market_data_Quote_loan(&w, &slot));
    fill_quote(slot, 1);
    say("commit", market_data_Quote_commit(&w));
    market_data_Quote q;
    fill_quote(&q, 2);
    q.status = 9; /* not a TradingStatus */
    say("send invalid", market_data_Quote_try_send(&w, &q));
    fill_quote(&q, 3);
    say("send", market_data_Quote_send(&w, &q, -1));
    market_data_Quote *more = NULL;
    say("loan_timeout", market_data_Quote_loan_timeout(&w, &more, 0));
    say("abandon", more != NULL);
    const market_data_Quote *got = NULL;
    say("recv", market_data_Quote_recv(&r, &got, 0));
    say("recv sequence", got != NULL ? (int)got->sequence : -1);
    say("release", market_data_Quote_release(&r));
    say("recv invalid (skipped)", market_data_Quote_try_recv(&r, &got));
    say("null after invalid", got == NULL);
    say("try_recv", market_data_Quote_try_recv(&r, &got));
    say("try_recv sequence", got != NULL ? (int)got->sequence : -1);
    say("release", market_data_Quote_release(&r));
    say("empty", market_data_Quote_try_recv(&r, &got));
    say("null out-pointer", market_data_Quote_try_recv(&r, NULL));
    market_data_Quote_channel_writer_close(&w);
    say("disconnected", market_data_Quote_recv(&r, &got, -1));
    market_data_Quote_channel_reader_close(&r);
    say("remove", flatipc_segment_remove(channel_name));
}

typedef struct seen {
    int trades, quotes;
    uint64_t last;
} seen;

static void on_trade(const market_data_Trade *t, void *ctx) {
    seen *s = (seen *)ctx;
    s->trades++;
    s->last = t->sequence;
}

static void on_quote(const market_data_Quote *q, void *ctx) {
    seen *s = (seen *)ctx;
    s->quotes++;
    s->last = q->sequence;
}

static void stream(void) {
    flatipc_stream_writer w;
    flatipc_stream_reader r;
    say("stream writer", market_data_stream_writer_create(&w, stream_name, NULL));
    say("stream reader", market_data_stream_reader_open(&r, stream_name, flatipc_wait_default()));
    say("message count", (int)market_data_MESSAGE_COUNT);
    say("table quote id", market_data_messages()[1].id == market_data_Quote_MESSAGE_ID);
    market_data_Trade t;
    memset(&t, 0, sizeof t);
    t.sequence = 10;
    say("send trade", market_data_Trade_stream_try_send(&w, &t));
    market_data_Quote *q = NULL;
    say("loan quote", market_data_Quote_stream_loan(&w, &q));
    fill_quote(q, 11);
    say("commit quote", flatipc_stream_writer_commit(&w));
    market_data_StatusChange s;
    memset(&s, 0, sizeof s);
    s.reason.len = 65; /* above string<64> */
    say("send invalid status", market_data_StatusChange_stream_send(&w, &s, -1));
    market_data_BookSnapshot b;
    memset(&b, 0, sizeof b);
    say("send book", market_data_BookSnapshot_stream_send(&w, &b, -1));
    market_data_BookSnapshot *bl = NULL;
    say("loan_timeout book", market_data_BookSnapshot_stream_loan_timeout(&w, &bl, 0));
    say("abandon", bl != NULL);

    seen counts = {0, 0, 0};
    market_data_handlers h;
    memset(&h, 0, sizeof h);
    h.on_Trade = on_trade;
    h.on_Quote = on_quote;
    flatipc_frame f;
    say("recv trade", flatipc_stream_reader_recv(&r, &f, 0));
    say("dispatch trade", market_data_dispatch(&f, &h, &counts));
    say("trade from_frame", market_data_Trade_from_frame(&f) != NULL);
    say("quote from_frame", market_data_Quote_from_frame(&f) != NULL);
    say("release", flatipc_stream_reader_release(&r));
    say("recv quote", flatipc_stream_reader_recv(&r, &f, 0));
    say("dispatch quote", market_data_dispatch(&f, &h, &counts));
    say("release", flatipc_stream_reader_release(&r));
    say("recv status", flatipc_stream_reader_recv(&r, &f, 0));
    say("dispatch invalid status", market_data_dispatch(&f, &h, &counts));
    say("invalid from_frame", market_data_StatusChange_from_frame(&f) != NULL);
    say("release", flatipc_stream_reader_release(&r));
    say("recv book", flatipc_stream_reader_recv(&r, &f, 0));
    say("dispatch without handler", market_data_dispatch(&f, &h, &counts));
    say("dispatch without handlers", market_data_dispatch(&f, NULL, NULL));
    say("release", flatipc_stream_reader_release(&r));
    say("trades", counts.trades);
    say("quotes", counts.quotes);
    say("last", (int)counts.last);

    /* Frames no well-behaved writer sends, made by hand. */
    market_data_Quote quote;
    fill_quote(&quote, 12);
    flatipc_frame odd;
    memset(&odd, 0, sizeof odd);
    odd.id = 0x7777;
    odd.size = (uint32_t)sizeof quote;
    odd.data = &quote;
    say("unknown id", market_data_dispatch(&odd, &h, &counts));
    odd.id = market_data_Quote_MESSAGE_ID;
    odd.size = 8;
    say("size mismatch", market_data_dispatch(&odd, &h, &counts));
    say("size mismatch from_frame", market_data_Quote_from_frame(&odd) != NULL);
    say("null frame", market_data_dispatch(NULL, &h, &counts));
    say("quotes unchanged", counts.quotes);
    /* An older, smaller version's frame as the reader hands it out: zero-extended into its
     * buffer (`widened` is the reader's size), and a newer, larger one read in place. */
    market_data_message_buffer buffer;
    memset(&buffer, 0, sizeof buffer);
    fill_quote(&buffer.Quote, 13);
    odd.size = 8;
    odd.widened = (uint32_t)sizeof quote;
    odd.data = &buffer;
    say("widened dispatch", market_data_dispatch(&odd, &h, &counts));
    say("widened from_frame", market_data_Quote_from_frame(&odd) == &buffer.Quote);
    odd.size = (uint32_t)sizeof quote + 16;
    odd.widened = 0;
    say("newer dispatch", market_data_dispatch(&odd, &h, &counts));
    say("quotes", counts.quotes);
    say("set_buffer", flatipc_stream_reader_set_buffer(&r, &buffer, sizeof buffer));
    say("set_buffer too small", flatipc_stream_reader_set_buffer(&r, &buffer, 8));
    flatipc_stream_writer_close(&w);
    say("disconnected", flatipc_stream_reader_recv(&r, &f, -1));
    flatipc_stream_reader_close(&r);
    say("remove", flatipc_segment_remove(stream_name));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: runtime_helpers SEGMENT-NAME-PREFIX\n");
        return 2;
    }
    snprintf(channel_name, sizeof channel_name, "%s-channel", argv[1]);
    snprintf(stream_name, sizeof stream_name, "%s-stream", argv[1]);
    channel();
    stream();
    printf("strerror %s\n", flatipc_gen_strerror(FLATIPC_GEN_INVALID_UTF8));
    say("strerror falls back", strcmp(flatipc_gen_strerror(FLATIPC_E_FULL),
                                      flatipc_strerror(FLATIPC_E_FULL)) == 0);
    say("is_invalid", flatipc_gen_is_invalid(FLATIPC_GEN_INVALID_PADDING));
    say("is_invalid", flatipc_gen_is_invalid(FLATIPC_E_FULL));
    return 0;
}
