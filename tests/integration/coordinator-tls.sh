#!/bin/bash
# SPDX-License-Identifier: MIT
# The etcd coordinator over TLS with client certificates (etcd --client-cert-auth): a node
# with the right certificate registers and is granted; one without a client certificate, or
# trusting the wrong CA, is never granted anything.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
need_etcd
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl is not installed"; exit 0; }

# A CA, a server certificate for 127.0.0.1 (serverAuth and clientAuth: etcd's gateway dials
# its own gRPC server with it), a client certificate, and a second, unrelated CA.
pki="$T/pki"
test_pki "$pki" serverAuth,clientAuth

cp=$(free_port); pp=$(free_port); mp=$(free_port)
ETCD_URL="https://127.0.0.1:$cp"
etcd --name s1 --data-dir "$T/etcd1" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --cert-file "$pki/server.pem" --key-file "$pki/server.key" \
        --client-cert-auth --trusted-ca-file "$pki/ca.pem" \
        --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
        --initial-cluster "s1=http://127.0.0.1:$pp" --initial-cluster-state new \
        --listen-metrics-urls "http://127.0.0.1:$mp" > "$T/etcd1.log" 2>&1 &
track_pid $!
wait_for 20 "curl -sf --cacert $pki/ca.pem --cert $pki/client.pem --key $pki/client.key $ETCD_URL/health | grep -q true" \
        || bail_out "etcd with TLS did not start: $(tail -5 "$T/etcd1.log")"

# with_tls NAME CA CERT KEY: adds TLS settings to NAME's configuration.
with_tls() {
        client_conf "$1" g1
        {
                echo "ca_file = $2"
                [ -n "$3" ] && echo "cert_file = $3" && echo "key_file = $4"
        } >> "$T/$1.conf"
}

# A: the right CA and a client certificate.
client_conf A g1
with_tls A "$pki/ca.pem" "$pki/client.pem" "$pki/client.key"
mkfifo "$T/A.in"; "$COORD_CLIENT" "$T/A.conf" < "$T/A.in" > "$T/A.out" 2> "$T/A.err" & track_pid $!
exec {fda}> "$T/A.in"; CLIENT_FD[A]=$fda; echo 0 > "$T/A.seen"
ok "A registers over TLS with its client certificate" client_wait A '^ready' 15
client_send A "acquire reboot"
ok "A is granted over TLS" client_wait A '^granted' 5
ok "the holder key is in etcd" test -n "$(ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" --cacert "$pki/ca.pem" \
        --cert "$pki/client.pem" --key "$pki/client.key" get --keys-only /medic/groups/g1/holders/A 2>/dev/null)"
client_send A "release reboot"

# B: no client certificate.  C: trusts another CA.
with_tls B "$pki/ca.pem" "" ""
with_tls C "$pki/other.pem" "$pki/client.pem" "$pki/client.key"
for n in B C; do
        mkfifo "$T/$n.in"; "$COORD_CLIENT" "$T/$n.conf" < "$T/$n.in" > "$T/$n.out" 2> "$T/$n.err" & track_pid $!
        exec {fd}> "$T/$n.in"; CLIENT_FD[$n]=$fd; echo 0 > "$T/$n.seen"
done
ok "B (no client certificate) never registers" client_quiet B '^ready' 3
client_send B "try reboot"
like "$(client_wait B '^(granted|denied|unknown)' 10)" '^unknown' "B's request is not granted (unknown)"
ok "C (wrong CA) never registers" client_quiet C '^ready' 1
client_send C "try reboot"
like "$(client_wait C '^(granted|denied|unknown)' 10)" '^unknown' "C's request is not granted (unknown)"
like "$(cat "$T/B.err" "$T/C.err")" '[Cc]ertificate|SSL|TLS|alert' "the log says what is wrong with TLS"
done_testing
