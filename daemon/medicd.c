/* SPDX-License-Identifier: MIT */
/* medicd: parse arguments, read the configuration, build the manager, run the event loop. */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "lint.h"
#include "log.h"
#include "lua-decl.h"
#include "manager.h"
#include "ruletest.h"

static const char *arg_config = NULL;
static bool arg_dry_run = false;
static bool arg_check_config = false;
static bool arg_lint = false;
static bool arg_test = false;
static bool arg_json = false;
static char **arg_paths = NULL;          /* --lint FILE|DIR..., --test FILE... */
static size_t arg_n_paths = 0;

static void help(void) {
        printf("Usage: medicd [OPTIONS]\n"
               "       medicd --lint [--config PATH] [--json] [FILE|DIR...]\n"
               "       medicd --test FILE...\n\n"
               "Node-local healing daemon: runs checks, maps conditions to remedies through rules,\n"
               "and asks a coordinator before anything disruptive.\n\n"
               "  -c, --config PATH   configuration file (default %s)\n"
               "  -n, --dry-run       make and log every decision, run no remedy\n"
               "      --check-config  validate the configuration and every Lua file, then exit\n"
               "      --lint          load the Lua files (the configuration's, or FILE|DIR...) as medicd\n"
               "                      would and report mistakes as file:line; exit 0 clean, 1 findings,\n"
               "                      2 load errors (medicctl lint runs this)\n"
               "      --json          with --lint: one JSON object\n"
               "      --test          run the rule tests of each FILE on a virtual clock, touching nothing\n"
               "                      (TAP); exit 0 all pass, 1 failures, 2 bad test files (medicctl test)\n"
               "      --version       print the version\n"
               "  -h, --help          this help\n\n"
               "See medicd(8), medic.conf(5), medic-lua(7).\n", MEDIC_DEFAULT_CONFIG);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_VERSION, ARG_LINT, ARG_TEST, ARG_JSON };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "dry-run", no_argument, NULL, 'n' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "lint", no_argument, NULL, ARG_LINT },
                { "test", no_argument, NULL, ARG_TEST },
                { "json", no_argument, NULL, ARG_JSON },
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
                case ARG_LINT:
                        arg_lint = true;
                        break;
                case ARG_TEST:
                        arg_test = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
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
        if (arg_json && !arg_lint) {
                fprintf(stderr, "medicd: --json only applies to --lint\n");
                return -EINVAL;
        }
        if (arg_test && (arg_lint || arg_check_config || arg_config || arg_dry_run)) {
                fprintf(stderr, "medicd: --test takes only test files (each test sets up its own node)\n");
                return -EINVAL;
        }
        if (optind < argc && !arg_lint && !arg_test) {
                fprintf(stderr, "medicd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        arg_paths = argv + optind;
        arg_n_paths = (size_t) (argc - optind);
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

/* The configuration for --lint: --config's, else the default one; with FILE|DIR arguments and no
 * default configuration file, the built-in defaults. */
static int lint_config(Config **ret, StrList *errors) {
        if (!arg_config && arg_n_paths > 0 && access(MEDIC_DEFAULT_CONFIG, F_OK) < 0 && errno == ENOENT)
                return config_new_default(ret);
        return config_load(arg_config ? arg_config : MEDIC_DEFAULT_CONFIG, ret, errors);
}

static void lint_print_json(const StrList *errors, const LintFindings *findings, const LuaSet *s) {
        struct json_object *o = json_object_new_object(), *e = json_object_new_array(),
                           *f = json_object_new_array();

        for (size_t i = 0; i < errors->n; i++)
                json_object_array_add(e, json_object_new_string(errors->v[i]));
        for (size_t i = 0; i < findings->n; i++) {
                struct json_object *x = json_object_new_object();
                json_object_object_add(x, "file", json_object_new_string(findings->v[i].file));
                json_object_object_add(x, "line", json_object_new_int(findings->v[i].line));
                json_object_object_add(x, "message", json_object_new_string(findings->v[i].message));
                json_object_array_add(f, x);
        }
        json_object_object_add(o, "ok", json_object_new_boolean(errors->n == 0 && findings->n == 0));
        json_object_object_add(o, "checks", json_object_new_int64(s ? (int64_t) s->n_checks : 0));
        json_object_object_add(o, "rules", json_object_new_int64(s ? (int64_t) s->n_rules : 0));
        json_object_object_add(o, "errors", e);
        json_object_object_add(o, "findings", f);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* --lint: load as medicd would (load errors: exit 2), then lint_set() (findings: exit 1). */
static int lint(void) {
        LintFindings findings = {};
        StrList errors = {};
        Config *c = NULL;
        LuaSet *s = NULL;
        sd_event *e = NULL;
        LuaHost host = { .dry_run = true };
        int r, status;

        log_set_max_level(LOG_ERR);  /* the load's own warnings are findings here */
        r = lint_config(&c, &errors);
        if (r >= 0)
                r = sd_event_new(&e);
        if (r >= 0) {
                host.config = c;
                host.event = e;
                r = arg_n_paths > 0 ? luaset_load_paths(c, &host, arg_paths, arg_n_paths, &s, &errors)
                                    : luaset_load(c, &host, &s, &errors);
        }
        if (r >= 0)
                r = lint_set(s, time(NULL), &findings);
        if (r < 0 && errors.n == 0)
                strlist_addf(&errors, "medicd: %s", strerror(-r));
        status = errors.n > 0 ? 2 : findings.n > 0 ? 1 : 0;

        if (arg_json)
                lint_print_json(&errors, &findings, s);
        else {
                for (size_t i = 0; i < errors.n; i++)
                        printf("%s\n", errors.v[i]);
                for (size_t i = 0; i < findings.n; i++)
                        printf("%s:%d: %s\n", findings.v[i].file, findings.v[i].line, findings.v[i].message);
                if (errors.n > 0)
                        fprintf(stderr, "medicd: %zu error%s: the files do not load\n", errors.n,
                                errors.n == 1 ? "" : "s");
                else
                        fprintf(stderr, "medicd: %zu finding%s in %zu checks and %zu rules\n", findings.n,
                                findings.n == 1 ? "" : "s", s->n_checks, s->n_rules);
        }
        lint_findings_clear(&findings);
        strlist_clear(&errors);
        luaset_free(s);
        config_free(c);
        sd_event_unref(e);
        return status;
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
        if (arg_lint)
                return lint();
        if (arg_test)
                return ruletest_run(arg_paths, arg_n_paths);

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
        r = manager_new(e, arg_config ? arg_config : MEDIC_DEFAULT_CONFIG, c, arg_dry_run, NULL, &m);
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
