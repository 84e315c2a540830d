/* SPDX-License-Identifier: MIT */
/* The network link source: a NETLINK_ROUTE socket (libnl) subscribed to RTNLGRP_LINK,
 * non-blocking, read from the event loop. It subscribes first and dumps the current links
 * second, and both the dump's answers and the events go through one handler (link_update),
 * so there is one code path and no change can fall between the dump and the subscription.
 * After a socket overrun (ENOBUFS) it dumps again and drops links the dump no longer shows. */
#include <net/if.h>
#include <linux/if.h>   /* IF_OPER_*; after <net/if.h>, which it then does not redefine */
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>
#include <string.h>
#include <sys/socket.h>

#include "duration.h"
#include "log.h"
#include "netlink.h"

#define RCVBUF_SIZE (4 * 1024 * 1024)
#define REDUMP_DELAY_USEC (200 * USEC_PER_MSEC)
#define MAX_READS_PER_WAKEUP 64

typedef struct NetlinkSource {
        const SourceHost *host;
        struct nl_sock *sk;
        struct nl_cb *cb;         /* the socket's callbacks (a reference) */
        sd_event_source *io;
        sd_event_source *retry;   /* a dump that could not be sent or failed, tried again */
        Link **links;             /* ordered by ifindex */
        size_t n_links;
        unsigned generation;      /* of the dump in progress (or the last one) */
        uint32_t dump_seq;        /* its sequence number */
        bool dump_seen;           /* an answer to it arrived: later events are newer than it */
        bool stamp;               /* the message being handled counts as seen in the dump */
        bool dumping;
        bool redump;              /* another dump is needed when this one ends */
        bool ready;               /* the first dump finished */
        bool changed;             /* since the last trigger */
} NetlinkSource;

/* One medicd, one source: the Lua binding reads the table through these. */
static NetlinkSource *current;

bool netlink_ready(void) {
        return current && current->ready;
}

size_t netlink_n_links(void) {
        return current ? current->n_links : 0;
}

const Link *netlink_link(size_t i) {
        return current && i < current->n_links ? current->links[i] : NULL;
}

unsigned link_n_remembered(const Link *l) {
        return l->n_changes < LINK_CHANGES_MAX ? (unsigned) l->n_changes : LINK_CHANGES_MAX;
}

static unsigned ring_index(const Link *l, unsigned i) {
        /* i-th remembered change, oldest first */
        unsigned n = link_n_remembered(l);
        return (unsigned) ((l->n_changes - n + i) % LINK_CHANGES_MAX);
}

uint64_t link_change_time(const Link *l, unsigned i) {
        return l->change_real[ring_index(l, i)];
}

unsigned link_changes_within(const Link *l, uint64_t now_mono, uint64_t window_usec) {
        unsigned n = link_n_remembered(l), count = 0;

        if (window_usec == USEC_INFINITY)
                return n;
        for (unsigned i = n; i > 0; i--) {
                uint64_t t = l->change_mono[ring_index(l, i - 1)];
                if (t + window_usec < now_mono)
                        break;
                count++;
        }
        return count;
}

static Link *link_free(Link *l) {
        if (l) {
                free(l->kind);
                free(l);
        }
        return NULL;
}

/* Position of ifindex in the sorted table, or where it would go. */
static size_t link_find(NetlinkSource *s, int ifindex, bool *ret_found) {
        size_t lo = 0, hi = s->n_links;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (s->links[mid]->ifindex < ifindex)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = lo < s->n_links && s->links[lo]->ifindex == ifindex;
        return lo;
}

static void link_remove_at(NetlinkSource *s, size_t i) {
        log_debug("Link %s (%d) is gone", s->links[i]->name, s->links[i]->ifindex);
        link_free(s->links[i]);
        memmove(s->links + i, s->links + i + 1, (s->n_links - i - 1) * sizeof(Link *));
        s->n_links--;
        s->changed = true;
}

bool link_working(const Link *l) {
        return l->up && l->carrier && (l->operstate == IF_OPER_UP || l->operstate == IF_OPER_UNKNOWN);
}

static const char *operstate_name(uint8_t o, char *buf, size_t n) {
        return rtnl_link_operstate2str(o, buf, n);
}

/* The one handler: a link from the dump or from an event (RTM_NEWLINK / RTM_DELLINK). */
static void link_update(NetlinkSource *s, struct rtnl_link *rl, bool deleted) {
        int ifindex = rtnl_link_get_ifindex(rl);
        const char *name = rtnl_link_get_name(rl);
        bool found;
        size_t i = link_find(s, ifindex, &found);
        Link *l;

        if (ifindex <= 0)
                return;
        if (deleted) {
                if (found)
                        link_remove_at(s, i);
                return;
        }

        bool up = !!(rtnl_link_get_flags(rl) & IFF_UP);
        bool carrier = rtnl_link_get_carrier(rl) != 0;
        uint8_t oper = rtnl_link_get_operstate(rl);
        const char *kind = rtnl_link_get_type(rl);
        char ob[32];

        if (!found) {
                Link **a = realloc(s->links, (s->n_links + 1) * sizeof(Link *));
                if (!a) {
                        log_oom();
                        return;
                }
                s->links = a;
                l = calloc(1, sizeof(Link));
                if (!l) {
                        log_oom();
                        return;
                }
                memmove(s->links + i + 1, s->links + i, (s->n_links - i) * sizeof(Link *));
                s->links[i] = l;
                s->n_links++;
                l->ifindex = ifindex;
                l->up = up;
                l->carrier = carrier;
                l->operstate = oper;
                s->changed = true;
                log_debug("Link %s (%d): %s, %s, operstate %s", name ? name : "?", ifindex, up ? "up" : "down",
                          carrier ? "carrier" : "no carrier", operstate_name(oper, ob, sizeof ob));
        } else {
                l = s->links[i];
                if (l->up != up || l->carrier != carrier || l->operstate != oper) {
                        bool was = link_working(l);
                        l->up = up;
                        l->carrier = carrier;
                        l->operstate = oper;
                        s->changed = true;
                        if (was != link_working(l)) {
                                uint64_t slot = l->n_changes % LINK_CHANGES_MAX;
                                l->change_mono[slot] = now_monotonic();
                                l->change_real[slot] = now_realtime();
                                l->n_changes++;
                        }
                        log_debug("Link %s (%d) changed: %s, %s, operstate %s (%" PRIu64 " changes)",
                                  name ? name : l->name, ifindex, up ? "up" : "down",
                                  carrier ? "carrier" : "no carrier", operstate_name(oper, ob, sizeof ob),
                                  l->n_changes);
                }
        }
        if (name && strcmp(l->name, name) != 0) {
                snprintf(l->name, sizeof l->name, "%s", name);
                s->changed = true;
        }
        if (!streq_ptr(l->kind, kind)) {
                free(l->kind);
                l->kind = strdup_or_null(kind);
        }
        l->arptype = rtnl_link_get_arptype(rl);
        if (s->stamp)
                l->generation = s->generation;
}

static void on_object(struct nl_object *obj, void *userdata) {
        NetlinkSource *s = userdata;
        struct rtnl_link *rl = (struct rtnl_link *) obj;

        if (strcmp(nl_object_get_type(obj), "route/link") != 0)
                return;
        /* AF_BRIDGE messages describe bridge ports, not the links themselves. */
        if (rtnl_link_get_family(rl) != AF_UNSPEC)
                return;
        link_update(s, rl, nl_object_get_msgtype(obj) == RTM_DELLINK);
}

static int on_valid(struct nl_msg *msg, void *userdata) {
        NetlinkSource *s = userdata;

        /* Events queued before the dump's first answer may describe links that are gone
         * by now: only the dump's answers, and events after them, keep a link. */
        if (s->dumping && nlmsg_hdr(msg)->nlmsg_seq == s->dump_seq)
                s->dump_seen = true;
        s->stamp = !s->dumping || s->dump_seen;
        int r = nl_msg_parse(msg, on_object, s);
        if (r < 0)
                log_debug("Ignoring a netlink message that does not parse: %s", nl_geterror(r));
        return NL_OK;
}

static void request_dump(NetlinkSource *s);

/* The end of a dump: links it did not show (and no event mentioned since) are gone. */
static int on_finish(struct nl_msg *msg, void *userdata) {
        NetlinkSource *s = userdata;

        if (!s->dumping || nlmsg_hdr(msg)->nlmsg_seq != s->dump_seq) {
                log_debug("Netlink: end of a dump given up (seq %u)", nlmsg_hdr(msg)->nlmsg_seq);
                return NL_OK;
        }
        for (size_t i = s->n_links; i > 0; i--)
                if (s->links[i - 1]->generation != s->generation)
                        link_remove_at(s, i - 1);
        s->dumping = false;
        log_debug("Netlink: dump (seq %u) done, %zu links", s->dump_seq, s->n_links);
        if (!s->ready) {
                s->ready = true;
                s->changed = true;
        }
        if (s->redump) {
                s->redump = false;
                request_dump(s);
        }
        return NL_OK;
}

static int on_retry(sd_event_source *es, uint64_t usec, void *userdata) {
        NetlinkSource *s = userdata;

        s->retry = sd_event_source_disable_unref(s->retry);
        request_dump(s);
        return 0;
}

static void schedule_retry(NetlinkSource *s) {
        if (s->retry)
                return;
        if (sd_event_add_time_relative(s->host->event, &s->retry, CLOCK_MONOTONIC, REDUMP_DELAY_USEC,
                                       10 * USEC_PER_MSEC, on_retry, s) >= 0)
                (void) sd_event_source_set_description(s->retry, "netlink-redump");
}

static void request_dump(NetlinkSource *s) {
        struct rtgenmsg g = { .rtgen_family = AF_UNSPEC };
        struct nl_msg *msg;
        int r;

        if (s->dumping) {
                s->redump = true;
                return;
        }
        msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
        r = msg ? nlmsg_append(msg, &g, sizeof g, NLMSG_ALIGNTO) : -NLE_NOMEM;
        if (r >= 0) {
                /* Numbered now, so that the end of this dump is told from the end of an
                 * earlier one that was given up (after an overrun). */
                nl_complete_msg(s->sk, msg);
                s->dump_seq = nlmsg_hdr(msg)->nlmsg_seq;
                r = nl_send_auto(s->sk, msg);
        }
        nlmsg_free(msg);
        if (r < 0) {
                log_warning("Cannot ask the kernel for the network links, trying again: %s", nl_geterror(r));
                schedule_retry(s);
                return;
        }
        s->generation++;
        s->dumping = true;
        s->dump_seen = false;
        log_debug("Netlink: dumping the links (seq %u)", s->dump_seq);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        NetlinkSource *s = userdata;
        int r;

        /* What is queued now (bounded, so that a storm of events cannot hold the loop; the
         * fd stays readable), then one trigger for all of it. */
        for (unsigned n = 0; n < MAX_READS_PER_WAKEUP; n++) {
                r = nl_recvmsgs_report(s->sk, s->cb);
                if (r > 0 || r == -NLE_DUMP_INTR)
                        continue;  /* an interrupted dump is made good by the events that follow */
                if (r == 0 || r == -NLE_AGAIN)
                        break;     /* drained */
                if (r == -NLE_NOMEM) {
                        /* ENOBUFS: the kernel dropped events. Forget the dump in progress
                         * (its rest may be lost too) and start over. */
                        log_warning("Netlink socket overrun, dumping the links again");
                        s->dumping = false;
                        request_dump(s);
                        continue;
                }
                if (r == -NLE_BUSY)  /* the kernel still runs the dump given up */
                        log_debug("Netlink: a dump is still running, asking again shortly");
                else
                        log_warning("Reading netlink failed, dumping the links again: %s", nl_geterror(r));
                s->dumping = false;
                schedule_retry(s);
                break;
        }
        if (s->changed && s->ready) {
                s->changed = false;
                s->host->trigger(s->host->userdata, "link");
        }
        return 0;
}

static void netlink_stop(void *state) {
        NetlinkSource *s = state;

        if (!s)
                return;
        if (current == s)
                current = NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->retry);
        if (s->cb)
                nl_cb_put(s->cb);
        if (s->sk)
                nl_socket_free(s->sk);
        for (size_t i = 0; i < s->n_links; i++)
                link_free(s->links[i]);
        free(s->links);
        free(s);
}

static int netlink_start(const SourceHost *h, void **ret_state) {
        NetlinkSource *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->host = h;
        s->sk = nl_socket_alloc();
        if (!s->sk) {
                netlink_stop(s);
                return -ENOMEM;
        }
        /* Events carry sequence number 0; the dump's answers are matched by type, not by number. */
        nl_socket_disable_seq_check(s->sk);
        nl_socket_modify_cb(s->sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, s);
        nl_socket_modify_cb(s->sk, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, s);
        s->cb = nl_socket_get_cb(s->sk);
        r = nl_connect(s->sk, NETLINK_ROUTE);
        if (r >= 0)
                r = nl_socket_set_nonblocking(s->sk);
        if (r >= 0)
                r = nl_socket_add_membership(s->sk, RTNLGRP_LINK);   /* subscribe first … */
        if (r < 0) {
                log_warning("Cannot open a netlink socket for link events: %s", nl_geterror(r));
                netlink_stop(s);
                return -EIO;
        }
        /* Large enough for bursts (hundreds of containers starting); the kernel caps it at
         * net.core.rmem_max. $MEDICD_NETLINK_RCVBUF overrides it, for tests of overruns. */
        uint64_t rcvbuf = RCVBUF_SIZE;
        const char *e = getenv("MEDICD_NETLINK_RCVBUF");
        if (e && (size_parse(e, &rcvbuf) < 0 || rcvbuf < 4096 || rcvbuf > INT32_MAX)) {
                log_warning("Ignoring invalid $MEDICD_NETLINK_RCVBUF '%s'", e);
                rcvbuf = RCVBUF_SIZE;
        }
        if (nl_socket_set_buffer_size(s->sk, (int) rcvbuf, 0) < 0)
                log_debug("Cannot set the netlink receive buffer size, ignoring");
        r = sd_event_add_io(h->event, &s->io, nl_socket_get_fd(s->sk), EPOLLIN, on_io, s);
        if (r < 0) {
                netlink_stop(s);
                return r;
        }
        (void) sd_event_source_set_description(s->io, "netlink-link");
        request_dump(s);                                               /* … then dump */
        current = s;
        *ret_state = s;
        return 0;
}

const MedicSource netlink_source = {
        .name = "netlink",
        .start = netlink_start,
        .stop = netlink_stop,
};
