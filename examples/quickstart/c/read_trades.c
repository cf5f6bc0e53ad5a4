/* Reads market_data_Trade records written by the Rust side, in place, and prints them.
 * Built by the quickstart with: cc -std=c11 -Wall -Wextra -Werror -pedantic -I <include> */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "market_data.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    market_data_Trade t;
    while (fread(&t, sizeof t, 1, f) == 1) {
        /* Untrusted bytes: check the bound before using the string. */
        if (t.symbol.len > sizeof t.symbol.data) {
            fprintf(stderr, "corrupt symbol length %" PRIu32 "\n", t.symbol.len);
            return 1;
        }
        printf("seq=%" PRIu64 " symbol=%.*s price=%" PRId64 "e%d qty=%" PRIu32
               " venue=%u flags=0x%" PRIx32 " block=%u\n",
               t.sequence, (int)t.symbol.len, t.symbol.data, t.price.mantissa,
               (int)t.price.exponent, t.quantity, (unsigned)t.venue, t.flags,
               (unsigned)t.is_block);
    }
    fclose(f);
    printf("sizeof(market_data_Trade)=%zu message_id=0x%04" PRIx32 "\n", sizeof(market_data_Trade),
           (uint32_t)market_data_Trade_MESSAGE_ID);
    return 0;
}
