/* fuzz_ws.c - the WebSocket frame parser (sdra/ws.h) on arbitrary bytes, as a server and as a
 * client, pushed in pieces whose sizes come from the input: it must never read out of bounds,
 * grow past its bound or accept a message larger than the limit. */
#include "sdra/ws.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool server = data[0] & 1;
    size_t step = 1 + (data[0] >> 1); /* 1..128 bytes per push */
    data++, size--;
    sdra_ws_parser p;
    sdra_ws_parser_init(&p, server, 4096);
    for (size_t off = 0; off < size;) {
        size_t k = size - off < step ? size - off : step;
        if (sdra_ws_parser_push(&p, data + off, k) < 0)
            break;
        off += k;
        sdra_ws_msg m;
        int rc;
        while ((rc = sdra_ws_parser_next(&p, &m)) == 1)
            if (m.len > 4096)
                abort();
        if (rc < 0)
            break;
    }
    sdra_ws_parser_release(&p);
    return 0;
}
