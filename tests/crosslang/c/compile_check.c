/* Compiled by the header test as C11 (with extra warnings) and as C++17: uses every public
 * function of flatipc.h, so that each is instantiated and checked. flatipc.h comes first. */
#include "flatipc.h"

#include "market_data.h"

static const flatipc_message QUOTE = FLATIPC_MESSAGE(market_data_Quote);
static const flatipc_message LEVEL = FLATIPC_MESSAGE_NO_ID(market_data_Level);
static const flatipc_message LIBRARY[2] = {
    FLATIPC_MESSAGE(market_data_Trade),
    FLATIPC_MESSAGE(market_data_Quote),
};

int channel_use(const char *name);
int stream_use(const char *name);
int broadcast_use(const char *name);
int broadcast_stream_use(const char *name);
const char *describe(int code);

int channel_use(const char *name) {
    flatipc_options o = flatipc_options_default();
    o.capacity = 64;
    o.wait = flatipc_wait_make(FLATIPC_WAIT_SPIN_THEN_YIELD, 10);
    flatipc_channel_writer w;
    flatipc_channel_reader r;
    int rc = flatipc_channel_writer_create(&w, name, &QUOTE, &o);
    rc |= flatipc_channel_writer_open(&w, name, &QUOTE, flatipc_wait_default());
    rc |= flatipc_channel_writer_open_or_create(&w, name, &LEVEL, NULL);
    market_data_Quote q;
    memset(&q, 0, sizeof q);
    void *slot = NULL;
    rc |= flatipc_channel_writer_loan(&w, &slot);
    rc |= flatipc_channel_writer_loan_dirty(&w, &slot);
    rc |= flatipc_channel_writer_loan_timeout(&w, &slot, 1000);
    rc |= flatipc_channel_writer_commit(&w);
    rc |= flatipc_channel_writer_try_send(&w, &q);
    rc |= flatipc_channel_writer_send(&w, &q, -1);
    rc |= (int)flatipc_channel_writer_position(&w);
    flatipc_channel_writer_close(&w);
    rc |= flatipc_channel_reader_create(&r, name, &QUOTE, &o);
    rc |= flatipc_channel_reader_open(&r, name, &QUOTE, flatipc_wait_default());
    rc |= flatipc_channel_reader_open_or_create(&r, name, &QUOTE, &o);
    static market_data_Quote widened;
    rc |= flatipc_channel_reader_set_buffer(&r, &widened, sizeof widened);
    const void *msg = NULL;
    rc |= flatipc_channel_reader_try_recv(&r, &msg);
    rc |= flatipc_channel_reader_recv(&r, &msg, 5);
    rc |= (int)flatipc_channel_reader_version(&r) + (int)flatipc_channel_reader_size(&r);
    rc |= flatipc_channel_reader_release(&r);
    rc |= flatipc_channel_reader_writer_alive(&r);
    rc |= (int)flatipc_channel_reader_position(&r);
    flatipc_channel_reader_close(&r);
    rc |= flatipc_segment_remove(name);
    rc |= flatipc_name_valid(name);
    return rc;
}

int stream_use(const char *name) {
    flatipc_stream_writer w;
    flatipc_stream_reader r;
    int rc = flatipc_stream_writer_create(&w, name, LIBRARY, 2, NULL);
    rc |= flatipc_stream_writer_open(&w, name, LIBRARY, 2, flatipc_wait_default());
    rc |= flatipc_stream_writer_open_or_create(&w, name, LIBRARY, 2, NULL);
    void *m = NULL;
    rc |= flatipc_stream_writer_loan(&w, QUOTE.id, QUOTE.size, &m);
    rc |= flatipc_stream_writer_loan_dirty(&w, QUOTE.id, QUOTE.size, &m);
    rc |= flatipc_stream_writer_loan_timeout(&w, QUOTE.id, QUOTE.size, &m, 10);
    rc |= flatipc_stream_writer_commit(&w);
    market_data_Quote q;
    memset(&q, 0, sizeof q);
    rc |= flatipc_stream_writer_try_send(&w, QUOTE.id, QUOTE.size, &q);
    rc |= flatipc_stream_writer_send(&w, QUOTE.id, QUOTE.size, &q, -1);
    rc |= (int)flatipc_stream_writer_position(&w);
    flatipc_stream_writer_close(&w);
    rc |= flatipc_stream_reader_create(&r, name, LIBRARY, 2, NULL);
    rc |= flatipc_stream_reader_open(&r, name, LIBRARY, 2, flatipc_wait_default());
    rc |= flatipc_stream_reader_open_or_create(&r, name, LIBRARY, 2, NULL);
    static market_data_message_buffer widened;
    rc |= flatipc_stream_reader_set_buffer(&r, &widened, sizeof widened);
    flatipc_frame f;
    rc |= flatipc_stream_reader_try_recv(&r, &f);
    rc |= flatipc_stream_reader_recv(&r, &f, 100);
    const market_data_Quote *got = (const market_data_Quote *)flatipc_frame_get(&f, &QUOTE);
    rc |= got != NULL ? (int)got->sequence : (int)f.widened;
    rc |= flatipc_stream_reader_release(&r);
    rc |= flatipc_stream_reader_writer_alive(&r);
    rc |= (int)flatipc_stream_reader_position(&r);
    flatipc_stream_reader_close(&r);
    return rc;
}

int broadcast_use(const char *name) {
    flatipc_broadcast_options o = flatipc_broadcast_options_default();
    o.capacity = 64;
    o.max_readers = 4;
    flatipc_broadcast_writer w;
    int rc = flatipc_broadcast_writer_create(&w, name, &QUOTE, &o);
    rc |= flatipc_broadcast_writer_open(&w, name, &QUOTE, flatipc_wait_default());
    rc |= flatipc_broadcast_writer_open_or_create(&w, name, &QUOTE, NULL);
    market_data_Quote q;
    memset(&q, 0, sizeof q);
    rc |= flatipc_broadcast_writer_try_send(&w, &q);
    rc |= flatipc_broadcast_writer_send(&w, &q, -1);
    rc |= flatipc_broadcast_writer_loan(&w, &q);
    q.sequence = 1;
    rc |= flatipc_broadcast_writer_commit(&w, 1000);
    rc |= (int)flatipc_broadcast_writer_position(&w);
    flatipc_broadcast_writer_close(&w);
    market_data_Quote copy;
    flatipc_broadcast_reader_options ro = flatipc_broadcast_reader_options_default();
    ro.policy = FLATIPC_POLICY_LOSSY;
    ro.start = FLATIPC_START_OLDEST;
    ro.buffer = &copy;
    ro.buffer_size = sizeof copy;
    flatipc_broadcast_reader r;
    rc |= flatipc_broadcast_reader_open(&r, name, &QUOTE, &ro);
    rc |= flatipc_broadcast_reader_open_or_create(&r, name, &QUOTE, &o, NULL);
    static market_data_Quote widened;
    rc |= flatipc_broadcast_reader_set_buffer(&r, &widened, sizeof widened);
    flatipc_broadcast_message m;
    rc |= flatipc_broadcast_reader_try_recv(&r, &m);
    rc |= flatipc_broadcast_reader_recv(&r, &m, 100);
    const market_data_Quote *got = (const market_data_Quote *)m.data;
    rc |= (int)got->sequence + (int)m.position + (int)m.missed;
    rc |= (int)flatipc_broadcast_reader_version(&r) + (int)flatipc_broadcast_reader_size(&r);
    rc |= flatipc_broadcast_reader_release(&r);
    rc |= (int)flatipc_broadcast_reader_missed(&r);
    rc |= flatipc_broadcast_reader_writer_alive(&r);
    flatipc_broadcast_reader_close(&r);
    return rc;
}

int broadcast_stream_use(const char *name) {
    flatipc_broadcast_stream_writer w;
    int rc = flatipc_broadcast_stream_writer_create(&w, name, LIBRARY, 2, NULL);
    rc |= flatipc_broadcast_stream_writer_open(&w, name, LIBRARY, 2, flatipc_wait_default());
    rc |= flatipc_broadcast_stream_writer_open_or_create(&w, name, LIBRARY, 2, NULL);
    market_data_Quote q;
    memset(&q, 0, sizeof q);
    rc |= flatipc_broadcast_stream_writer_try_send(&w, QUOTE.id, QUOTE.size, &q);
    rc |= flatipc_broadcast_stream_writer_send(&w, QUOTE.id, QUOTE.size, &q, 10);
    rc |= flatipc_broadcast_stream_writer_loan(&w, QUOTE.id, QUOTE.size, &q);
    rc |= flatipc_broadcast_stream_writer_commit(&w, -1);
    rc |= (int)flatipc_broadcast_stream_writer_position(&w);
    flatipc_broadcast_stream_writer_close(&w);
    flatipc_broadcast_stream_reader r;
    rc |= flatipc_broadcast_stream_reader_open(&r, name, LIBRARY, 2, NULL);
    rc |= flatipc_broadcast_stream_reader_open_or_create(&r, name, LIBRARY, 2, NULL, NULL);
    static market_data_message_buffer widened;
    rc |= flatipc_broadcast_stream_reader_set_buffer(&r, &widened, sizeof widened);
    flatipc_broadcast_frame f;
    rc |= flatipc_broadcast_stream_reader_try_recv(&r, &f);
    rc |= flatipc_broadcast_stream_reader_recv(&r, &f, -1);
    const market_data_Quote *got =
        (const market_data_Quote *)flatipc_broadcast_frame_get(&f, &QUOTE);
    rc |= got != NULL ? (int)got->sequence
                      : (int)f.version + (int)f.flags + (int)f.widened + (int)f.len;
    rc |= flatipc_broadcast_stream_reader_release(&r);
    rc |= (int)flatipc_broadcast_stream_reader_missed(&r);
    rc |= flatipc_broadcast_stream_reader_writer_alive(&r);
    flatipc_broadcast_stream_reader_close(&r);
    return rc;
}

const char *describe(int code) { return flatipc_strerror(code); }
