/* SPDX-License-Identifier: MIT */
/* Running local remedies: a command, a systemd unit job (sd-bus), or a Lua function. The
 * callback always comes from the event loop, never from inside remedy_start(). */
#include <lua.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "exec.h"
#include "log.h"
#include "remedy.h"

struct Remedy {
        sd_event *event;
        char *rule;
        Exec *exec;
        sd_bus *bus;
        sd_bus_slot *slot;
        LuaRun *run;
        sd_event_source *later;
        uint64_t timeout;
        bool success;
        char *detail;
        remedy_done_t done;
        void *userdata;
};

static void remedy_free(Remedy *r) {
        if (r->exec)
                exec_cancel(r->exec);
        lua_run_cancel(r->run);
        sd_bus_slot_unref(r->slot);
        sd_bus_flush_close_unref(r->bus);
        sd_event_source_disable_unref(r->later);
        free(r->rule);
        free(r->detail);
        free(r);
}

static void finish(Remedy *r, bool success, const char *detail) {
        remedy_done_t done = r->done;
        void *ud = r->userdata;
        _cleanup_free_ char *copy = strdup_or_null(detail);

        r->exec = NULL;
        r->run = NULL;
        remedy_free(r);
        done(success, copy, ud);
}

static int on_later(sd_event_source *s, void *userdata) {
        Remedy *r = userdata;
        _cleanup_free_ char *d = TAKE_PTR(r->detail);
        finish(r, r->success, d);
        return 0;
}

/* Delivers a result on the next loop iteration. */
static int finish_later(Remedy *r, bool success, const char *detail) {
        r->success = success;
        r->detail = strdup_or_null(detail);
        return sd_event_add_defer(r->event, &r->later, on_later, r);
}

static void on_exec_done(const ExecResult *res, void *userdata) {
        Remedy *r = userdata;
        _cleanup_free_ char *desc = exec_result_describe(res, r->timeout);
        _cleanup_free_ char *detail = NULL;
        bool ok = res->exited && res->exit_status == 0 && !res->timed_out;

        r->exec = NULL;
        if (!ok && res->err_size > 0) {
                /* The first line of stderr tells the operator most. */
                size_t n = strcspn(res->err, "\n");
                detail = strprintf("%s: %.*s", desc ? desc : "failed", (int) (n > 200 ? 200 : n), res->err);
        }
        finish(r, ok, detail ? detail : desc);
}

static int on_unit_job(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Remedy *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *job = NULL;

        r->slot = sd_bus_slot_unref(r->slot);
        if (e) {
                _cleanup_free_ char *d = strprintf("systemd refused: %s", e->message ? e->message : e->name);
                finish(r, false, d);
                return 0;
        }
        (void) sd_bus_message_read(reply, "o", &job);
        _cleanup_free_ char *d = strprintf("job %s queued", job ? job : "?");
        finish(r, true, d);
        return 0;
}

static int start_unit_job(Remedy *r, const RuleDecl *d) {
        static const char *const methods[] = {
                [REMEDY_RESTART] = "RestartUnit", [REMEDY_START] = "StartUnit", [REMEDY_STOP] = "StopUnit",
        };
        int k;

        k = sd_bus_open_system(&r->bus);
        if (k < 0) {
                _cleanup_free_ char *msg = strprintf("cannot connect to the system bus: %s", strerror(-k));
                return finish_later(r, false, msg);
        }
        k = sd_bus_attach_event(r->bus, r->event, SD_EVENT_PRIORITY_NORMAL);
        if (k >= 0)
                k = sd_bus_call_method_async(r->bus, &r->slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                             "org.freedesktop.systemd1.Manager", methods[d->remedy.kind],
                                             on_unit_job, r, "ss", d->remedy.unit, "replace");
        if (k < 0) {
                _cleanup_free_ char *msg = strprintf("cannot ask systemd to %s %s: %s",
                                                     d->remedy.kind == REMEDY_RESTART ? "restart"
                                                     : d->remedy.kind == REMEDY_START ? "start" : "stop",
                                                     d->remedy.unit, strerror(-k));
                return finish_later(r, false, msg);
        }
        return 0;
}

static void on_call_done(LuaRun *run, int status, const char *error, int nresults, void *userdata) {
        Remedy *r = userdata;
        lua_State *co = lua_run_thread(run);

        r->run = NULL;
        if (status < 0)
                return finish(r, false, error ? error : "error");
        int idx = lua_gettop(co) - nresults + 1;
        if (nresults >= 1 && lua_type(co, idx) == LUA_TBOOLEAN && !lua_toboolean(co, idx)) {
                const char *why = nresults >= 2 ? lua_tostring(co, idx + 1) : NULL;
                return finish(r, false, why ? why : "the function returned false");
        }
        finish(r, true, "the function returned");
}

int remedy_start(const ActHost *h, const RuleDecl *d, const char *condition, remedy_done_t done,
                 void *userdata, Remedy **ret) {
        Remedy *r = calloc(1, sizeof(*r));
        sd_event *e = h->event;
        const Config *c = h->config;
        int k = 0;

        if (!r)
                return -ENOMEM;
        r->event = e;
        r->rule = strdup(d->name);
        r->done = done;
        r->userdata = userdata;
        r->timeout = d->remedy.timeout;

        if (h->record && d->remedy.kind != REMEDY_REBOOT && d->remedy.kind != REMEDY_MAINTENANCE) {
                _cleanup_free_ char *what = strprintf("remedy %s", d->remedy.text);
                bool ok = h->record(h->record_data, d->name, what ? what : "remedy");
                k = finish_later(r, ok, ok ? "recorded, not run (test)" : "failed as the test says");
        } else switch (d->remedy.kind) {
        case REMEDY_COMMAND: {
                StrList env = {};
                strlist_addf(&env, "MEDIC_RULE=%s", d->name);
                strlist_addf(&env, "MEDIC_NODE=%s", c->node);
                strlist_addf(&env, "MEDIC_GROUP=%s", c->group);
                if (condition)
                        strlist_addf(&env, "MEDIC_CONDITION=%s", condition);
                ExecOptions o = { .timeout_usec = d->remedy.timeout, .env = env.v };
                k = exec_start(e, d->remedy.argv.v, &o, on_exec_done, r, &r->exec);
                strlist_clear(&env);
                break;
        }
        case REMEDY_RESTART:
        case REMEDY_START:
        case REMEDY_STOP:
                k = start_unit_job(r, d);
                break;
        case REMEDY_CALL:
                k = lua_run_start(d->file, d->remedy.fn_ref, d->remedy.timeout, d->name, on_call_done, r, &r->run);
                break;
        case REMEDY_REBOOT:
        case REMEDY_MAINTENANCE:
                /* Disruptive remedies live in reboot.c and maintenance.c, after a grant. */
                k = -EINVAL;
                break;
        default:
                k = -EINVAL;
        }
        if (k < 0) {
                remedy_free(r);
                return k;
        }
        if (ret)
                *ret = r;
        return 0;
}

void *remedy_cancel(Remedy *r) {
        void *ud;

        if (!r)
                return NULL;
        ud = r->userdata;
        remedy_free(r);
        return ud;
}
