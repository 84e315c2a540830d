/* SPDX-License-Identifier: MIT */
/* medic.systemd.*: the service manager's view over sd-bus, asynchronously: the call is sent with
 * sd_bus_call_method_async() on a system bus connection attached to the event loop, and the
 * coroutine is parked with lua_run_wait_op() until the answer arrives.
 *   medic.systemd.booted()        → true when systemd runs the node (/run/systemd/system)
 *   medic.systemd.failed_units()  → { { name, description, load_state, active_state, sub_state }, … }
 *   medic.systemd.unit(name)      → { name, description, load_state, active_state, sub_state,
 *                                      result, since }
 * Errors: nil, "systemd: <the bus's message>". */
#include <lauxlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "lua-api.h"

#define DEST "org.freedesktop.systemd1"
#define MANAGER_PATH "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define UNIT_IFACE "org.freedesktop.systemd1.Unit"

/* One connection for the process, opened on first use and again after it was lost. */
static sd_bus *bus;

static int get_bus(sd_event *e, sd_bus **ret) {
        int r;

        if (bus && sd_bus_is_open(bus) <= 0)
                bus = sd_bus_close_unref(bus);
        if (!bus) {
                r = sd_bus_open_system(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0) {
                        bus = sd_bus_close_unref(bus);
                        return r;
                }
        }
        *ret = bus;
        return 0;
}

enum {
        P_LOAD_STATE,
        P_ACTIVE_STATE,
        P_SUB_STATE,
        P_DESCRIPTION,
        P_SINCE,
        P_RESULT,
        _P_MAX,
};

static const char *const prop_names[_P_MAX] = {
        [P_LOAD_STATE] = "LoadState", [P_ACTIVE_STATE] = "ActiveState", [P_SUB_STATE] = "SubState",
        [P_DESCRIPTION] = "Description", [P_SINCE] = "StateChangeTimestamp", [P_RESULT] = "Result",
};

typedef struct SystemdOp SystemdOp;

typedef struct PropCall {
        SystemdOp *op;
        int prop;
        sd_bus_slot *slot;
} PropCall;

struct SystemdOp {
        LuaRun *run;
        bool unit;                 /* unit(name) rather than failed_units() */
        char *name;
        sd_bus_slot *slot;         /* failed_units */
        sd_bus_message *reply;
        PropCall calls[_P_MAX];    /* unit: one Get per property */
        unsigned pending;
        char *props[_P_MAX];
        uint64_t since;
        char *error;
};

static SystemdOp *op_free(SystemdOp *op) {
        if (!op)
                return NULL;
        sd_bus_slot_unref(op->slot);
        for (size_t i = 0; i < _P_MAX; i++) {
                sd_bus_slot_unref(op->calls[i].slot);
                free(op->props[i]);
        }
        sd_bus_message_unref(op->reply);
        free(op->name);
        free(op->error);
        free(op);
        return NULL;
}

static void op_cancel(void *userdata) {
        op_free(userdata);
}

static void set_error(SystemdOp *op, const sd_bus_error *e, int r) {
        if (op->error)
                return;
        if (e && sd_bus_error_is_set(e))
                op->error = strprintf("systemd: %s", e->message ? e->message : e->name);
        else
                op->error = strprintf("systemd: %s", strerror(r < 0 ? -r : EIO));
}

static void push_string_field(lua_State *L, const char *key, const char *value) {
        if (!value)
                return;
        lua_pushstring(L, value);
        lua_setfield(L, -2, key);
}

static void push_failed(lua_State *co, SystemdOp *op) {
        sd_bus_message *m = op->reply;
        const char *name, *desc, *load, *active, *sub;
        int n = 0, r;

        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        if (r < 0) {
                lua_pushfstring(co, "systemd: unexpected reply to ListUnitsFiltered: %s", strerror(-r));
                return;
        }
        lua_newtable(co);
        while ((r = sd_bus_message_read(m, "(ssssssouso)", &name, &desc, &load, &active, &sub,
                                        NULL, NULL, NULL, NULL, NULL)) > 0) {
                lua_createtable(co, 0, 5);
                push_string_field(co, "name", name);
                push_string_field(co, "description", desc);
                push_string_field(co, "load_state", load);
                push_string_field(co, "active_state", active);
                push_string_field(co, "sub_state", sub);
                lua_rawseti(co, -2, ++n);
        }
        if (r < 0) {
                lua_pop(co, 1);
                lua_pushfstring(co, "systemd: unexpected reply to ListUnitsFiltered: %s", strerror(-r));
        }
}

static void push_outcome(lua_State *co, void *userdata) {
        SystemdOp *op = userdata;

        if (op->error) {
                lua_pushstring(co, op->error);  /* the continuation turns a string into nil, err */
                return;
        }
        if (!op->unit)
                return push_failed(co, op);
        lua_createtable(co, 0, 7);
        push_string_field(co, "name", op->name);
        push_string_field(co, "load_state", op->props[P_LOAD_STATE]);
        push_string_field(co, "active_state", op->props[P_ACTIVE_STATE]);
        push_string_field(co, "sub_state", op->props[P_SUB_STATE]);
        push_string_field(co, "description", op->props[P_DESCRIPTION]);
        push_string_field(co, "result", op->props[P_RESULT]);
        if (op->since > 0) {
                lua_pushinteger(co, (lua_Integer) (op->since / USEC_PER_SEC));
                lua_setfield(co, -2, "since");
        }
}

static void complete(SystemdOp *op) {
        lua_run_complete_op(op->run, push_outcome, op);   /* no cancel after this: we free it */
        op_free(op);
}

static int on_list_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SystemdOp *op = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        op->slot = sd_bus_slot_unref(op->slot);
        if (e)
                set_error(op, e, -EIO);
        else
                op->reply = sd_bus_message_ref(reply);
        complete(op);
        return 0;
}

static int on_prop_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PropCall *c = userdata;
        SystemdOp *op = c->op;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        if (e) {
                if (c->prop != P_RESULT)   /* a unit type without Result is not an error */
                        set_error(op, e, -EIO);
        } else if (c->prop == P_SINCE) {
                r = sd_bus_message_read(reply, "v", "t", &op->since);
                if (r < 0)
                        set_error(op, NULL, r);
        } else {
                const char *s;
                r = sd_bus_message_read(reply, "v", "s", &s);
                if (r < 0)
                        set_error(op, NULL, r);
                else if (!(op->props[c->prop] = strdup(s)))
                        set_error(op, NULL, -ENOMEM);
        }
        if (--op->pending == 0)
                complete(op);
        return 0;
}

/* The interface that has Result for this kind of unit, or NULL. */
static const char *result_interface(const char *name) {
        static const char *const types[][2] = {
                { ".service", "org.freedesktop.systemd1.Service" },
                { ".socket", "org.freedesktop.systemd1.Socket" },
                { ".mount", "org.freedesktop.systemd1.Mount" },
                { ".swap", "org.freedesktop.systemd1.Swap" },
                { ".timer", "org.freedesktop.systemd1.Timer" },
                { ".automount", "org.freedesktop.systemd1.Automount" },
                { ".path", "org.freedesktop.systemd1.Path" },
                { ".scope", "org.freedesktop.systemd1.Scope" },
        };
        const char *dot = strrchr(name, '.');

        for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
                if (strcmp(dot, types[i][0]) == 0)
                        return types[i][1];
        return NULL;
}

static int systemd_continue(lua_State *L, int status, lua_KContext ctx) {
        if (lua_type(L, -1) == LUA_TSTRING) {
                lua_pushnil(L);
                lua_insert(L, -2);
                return 2;
        }
        return 1;
}

/* Common start: the run, the op, the bus. Raises Lua errors for misuse; returns a bus error
 * as a negative errno (the caller answers nil, err). */
static SystemdOp *op_new(lua_State *L, const char *what, LuaRun **ret_run) {
        LuaRun *run = lua_run_current(L);
        SystemdOp *op;

        if (!run)
                luaL_error(L, "medic.systemd.%s can only be used while a check or a remedy runs", what);
        if (!lua_isyieldable(L))
                luaL_error(L, "medic.systemd.%s cannot be used here (inside a metamethod or iterator)", what);
        op = calloc(1, sizeof(*op));
        if (!op)
                luaL_error(L, "medic.systemd.%s: out of memory", what);
        op->run = run;
        *ret_run = run;
        return op;
}

static int park(lua_State *L, LuaRun *run, SystemdOp *op, const char *what) {
        int r = lua_run_wait_op(run, op, op_cancel);
        if (r < 0) {
                op_free(op);
                return luaL_error(L, "medic.systemd.%s: %s", what, strerror(-r));
        }
        return lua_yieldk(L, 0, 0, systemd_continue);
}

static int push_bus_error(lua_State *L, SystemdOp *op, int r) {
        op_free(op);
        lua_pushnil(L);
        lua_pushfstring(L, "systemd: cannot connect to the system bus: %s", strerror(-r));
        return 2;
}

static int l_failed_units(lua_State *L) {
        LuaRun *run;
        SystemdOp *op = op_new(L, "failed_units", &run);
        sd_bus *b;
        int r;

        r = get_bus(luafile_from_state(L)->host->event, &b);
        if (r < 0)
                return push_bus_error(L, op, r);
        r = sd_bus_call_method_async(b, &op->slot, DEST, MANAGER_PATH, MANAGER_IFACE, "ListUnitsFiltered",
                                     on_list_reply, op, "as", 1, "failed");
        if (r < 0)
                return push_bus_error(L, op, r);
        return park(L, run, op, "failed_units");
}

static int l_unit(lua_State *L) {
        const char *name = luaL_checkstring(L, 1);
        _cleanup_free_ char *path = NULL;
        const char *result_iface;
        LuaRun *run;
        SystemdOp *op;
        sd_bus *b;
        int r;

        if (!*name || strlen(name) > 255 || strchr(name, '/') || !strchr(name, '.'))
                return luaL_error(L, "medic.systemd.unit: invalid unit name '%s' (expected e.g. \"ssh.service\")", name);
        op = op_new(L, "unit", &run);
        op->unit = true;
        op->name = strdup(name);
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", name, &path);
        if (r < 0 || !op->name) {
                op_free(op);
                return luaL_error(L, "medic.systemd.unit: out of memory");
        }
        r = get_bus(luafile_from_state(L)->host->event, &b);
        if (r < 0)
                return push_bus_error(L, op, r);
        result_iface = result_interface(name);
        for (int p = 0; p < _P_MAX; p++) {
                const char *iface = p == P_RESULT ? result_iface : UNIT_IFACE;
                if (!iface)
                        continue;
                op->calls[p] = (PropCall) { .op = op, .prop = p };
                r = sd_bus_call_method_async(b, &op->calls[p].slot, DEST, path, "org.freedesktop.DBus.Properties",
                                             "Get", on_prop_reply, &op->calls[p], "ss", iface, prop_names[p]);
                if (r < 0)
                        return push_bus_error(L, op, r);
                op->pending++;
        }
        return park(L, run, op, "unit");
}

static int l_booted(lua_State *L) {
        lua_pushboolean(L, sd_booted() > 0);
        return 1;
}

void lua_systemd_open(LuaFile *f);
void lua_systemd_open(LuaFile *f) {
        static const luaL_Reg funcs[] = {
                { "booted", l_booted },
                { "failed_units", l_failed_units },
                { "unit", l_unit },
                { NULL, NULL },
        };

        luaL_newlib(f->L, funcs);
        lua_setfield(f->L, -2, "systemd");
}
