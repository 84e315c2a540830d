/* SPDX-License-Identifier: MIT */
/* medicd: parse arguments, read the configuration, build the manager, run the event loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "log.h"
#include "lua-decl.h"
#include "manager.h"

static const char *arg_config = NULL;
static bool arg_dry_run = false;
static bool arg_check_config = false;

static void help(void) {
        printf("Usage: medicd [OPTIONS]\n\n"
               "Node-local healing daemon: runs checks, maps conditions to remedies through rules,\n"
               "and asks a coordinator before anything disruptive.\n\n"
               "  -c, --config PATH   configuration file (default %s)\n"
               "  -n, --dry-run       make and log every decision, run no remedy\n"
               "      --check-config  validate the configuration and every Lua file, then exit\n"
               "      --version       print the version\n"
               "  -h, --help          this help\n\n"
               "See medicd(8), medic.conf(5), medic-lua(7).\n", MEDIC_DEFAULT_CONFIG);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "dry-run", no_argument, NULL, 'n' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:nh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 'n':
                        arg_dry_run = true;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case ARG_VERSION:
                        printf("medicd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "medicd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int check_config(void) {
        StrList errors = {};
        Config *c = NULL;
        LuaSet *s = NULL;
        sd_event *e = NULL;
        int r;

        r = config_load(arg_config ? arg_config : MEDIC_DEFAULT_CONFIG, &c, &errors);
        if (r >= 0) {
                LuaHost host = { .config = c, .dry_run = true };
                r = sd_event_new(&e);
                host.event = e;
                if (r >= 0)
                        r = luaset_load(c, &host, &s, &errors);
                if (r >= 0)
                        { printf("configuration OK\n"); log_info("%zu checks, %zu rules", s->n_checks, s->n_rules); }
                luaset_free(s);
        }
        for (size_t i = 0; i < errors.n; i++)
                printf("%s\n", errors.v[i]);
        strlist_clear(&errors);
        config_free(c);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        if (si->ssi_signo == SIGHUP) {
                StrList errors = {};
                log_info("SIGHUP: reloading the configuration and every Lua file");
                (void) manager_reload(m, &errors);
                strlist_clear(&errors);
                return 0;
        }
        log_event(LOG_INFO, MEDIC_MSG_STOPPING, NULL, "Received %s, stopping", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        manager_stop(m);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int run(int argc, char **argv) {
        _cleanup_free_ char *summary = NULL;
        StrList errors = {};
        Manager *m = NULL;
        Config *c = NULL;
        sd_event *e = NULL;
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        log_setup(LOG_TARGET_AUTO, LOG_INFO);
        if (arg_check_config)
                return check_config();

        r = config_load(arg_config ? arg_config : MEDIC_DEFAULT_CONFIG, &c, &errors);
        if (r < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        log_event(LOG_ERR, MEDIC_MSG_CONFIG_ERROR, NULL, "%s", errors.v[i]);
                strlist_clear(&errors);
                return 1;
        }
        log_set_max_level(c->log_level);
        if (!c->verify_owner)
                log_warning("verify_owner = no: Lua files are loaded whoever owns them (for tests only)");

        /* Signals arrive through sd-event; SIGCHLD must be blocked for child sources. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&e);
        if (r < 0) {
                log_error_errno(r, "Cannot create the event loop: %m");
                goto finish;
        }
        r = manager_new(e, arg_config ? arg_config : MEDIC_DEFAULT_CONFIG, c, arg_dry_run, &m);
        if (r < 0) {
                config_free(c);
                goto finish;
        }
        r = manager_start(m, &errors);
        if (r < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        log_event(LOG_ERR, MEDIC_MSG_CONFIG_ERROR, NULL, "%s", errors.v[i]);
                log_error("Cannot start: %zu error%s in the configuration or the Lua files", errors.n,
                          errors.n == 1 ? "" : "s");
                goto finish;
        }
        (void) sd_event_add_signal(e, NULL, SIGTERM, on_signal, m);
        (void) sd_event_add_signal(e, NULL, SIGINT, on_signal, m);
        (void) sd_event_add_signal(e, NULL, SIGHUP, on_signal, m);
        (void) sd_event_set_watchdog(e, true);

        summary = manager_summary(m);
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", summary ? summary : "running");
        r = sd_event_loop(e);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
finish:
        strlist_clear(&errors);
        manager_free(m);
        sd_event_unref(e);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        return run(argc, argv);
}
