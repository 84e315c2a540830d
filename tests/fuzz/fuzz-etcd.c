/* SPDX-License-Identifier: MIT */
/* etcd's replies (coord/coord-etcd.h): the first byte picks the HTTP status, the rest is the
 * body; a reply object is then read as a group read and as a grant's read-back. */
#include "coord-etcd.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const long statuses[] = { 200, 200, 200, 400, 401, 404, 500, 503 };
        struct json_object *reply = NULL;
        char *body, *err = NULL;
        long status;

        if (size < 1)
                return 0;
        status = statuses[data[0] % 8];
        body = fuzz_string(data + 1, size - 1);
        if (etcd_reply_parse(status, body, &reply, &err) >= 0) {
                size_t members;
                bool ok, granted_ok;
                if (!reply || err)
                        abort();
                (void) etcd_group_parse("/medic/groups/g/", reply, &members, &ok, &granted_ok);
                json_object_put(reply);
        } else if (!err || reply)
                abort();
        free(err);
        free(body);
        return 0;
}
