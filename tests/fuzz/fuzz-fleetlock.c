/* SPDX-License-Identifier: MIT */
/* A FleetLock server's answer (coord/coord-fleetlock.h): the first byte picks the HTTP status,
 * the rest is the body. */
#include "coord-fleetlock.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long statuses[] = { 400, 404, 409, 412, 429, 500, 502, 503 };
        char *body, *kind = NULL, *reason;
        bool ambiguous;

        if (size < 1)
                return 0;
        body = fuzz_string(data + 1, size - 1);
        HttpResponse r = { .status = statuses[data[0] % 8], .body = body, .size = size - 1 };
        reason = fleetlock_reply_describe("http://127.0.0.1:1", "default", "node-1", &r, &kind, &ambiguous);
        if (!reason)
                abort();
        for (const char *c = reason; *c; c++)
                if ((unsigned char) *c < ' ')
                        abort(); /* the server's text is made fit for a log line */
        free(reason);
        free(kind);
        free(body);
        return 0;
}
