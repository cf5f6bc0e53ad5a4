/* flatipc.h included after other headers: compiles with the default GNU dialect, with
 * -D_GNU_SOURCE and as C++; under a strict -std=c11 alone it must stop with its #error. */
#include <stdio.h>

#include "market_data.h"

#include "flatipc.h"

int late_use(const char *name);

int late_use(const char *name) {
    static const flatipc_message quote = FLATIPC_MESSAGE(market_data_Quote);
    flatipc_channel_reader r;
    int rc = flatipc_channel_reader_open(&r, name, &quote, flatipc_wait_default());
    if (rc != FLATIPC_OK) {
        printf("%s\n", flatipc_strerror(rc));
    }
    flatipc_channel_reader_close(&r);
    return rc;
}
