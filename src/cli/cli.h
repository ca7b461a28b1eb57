/* cli: the command table and what every command shares (global flags, printing, the
 * engine session, signals, the progress printer, log streaming). */
#ifndef ZP_CLI_H
#define ZP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "../compose/compose.h"
#include "../engine/engine.h"
#include "../release/release.h"
#include "../util/util.h"

struct orch;
struct orch_event;
struct release_remote;
struct orch_container;

/* Exit code of a command the user interrupted (Ctrl-C), as a shell reports SIGINT. */
#define CLI_EXIT_INTERRUPTED 130

/* --progress */
enum cli_progress_mode {
    CLI_PROGRESS_AUTO, /* tty when stderr is a terminal (and --ansi is not never), else plain */
    CLI_PROGRESS_TTY,
    CLI_PROGRESS_PLAIN,
    CLI_PROGRESS_QUIET,
    CLI_PROGRESS_JSON,
};

/* --ansi */
enum cli_ansi {
    CLI_ANSI_AUTO, /* colours and cursor control when the stream is a terminal */
    CLI_ANSI_NEVER,
    CLI_ANSI_ALWAYS,
};

/* Flags before the command, compatible with `docker compose`. */
struct cli_global {
    const char **files; /* -f/--file, repeatable */
    size_t nfiles;
    const char *project_name;      /* -p/--project-name */
    const char *project_directory; /* --project-directory */
    const char **env_files;        /* --env-file, repeatable */
    size_t nenv_files;
    const char **profiles; /* --profile, repeatable */
    size_t nprofiles;
    const char *host;   /* -H/--host; DOCKER_HOST otherwise */
    const char *server; /* --server NAME: a server added with `zpanel server add` */
    /* the server behind an SSH tunnel (set by cli_ssh_open), else NULL: project files are
     * synced there and bind paths point there */
    const struct release_remote *remote;
    enum cli_progress_mode progress;
    enum cli_ansi ansi;
};

struct cli_cmd {
    const char *name;
    const char *usage;   /* after "zpanel [global flags] NAME " */
    const char *summary; /* one line for `zpanel --help` */
    /* argv[0] is the command name; returns a process exit code (enum zp_exit) */
    int (*exec)(const struct cli_global *g, int argc, char **argv);
};

extern const struct cli_cmd cli_cmd_app;
extern const struct cli_cmd cli_cmd_build;
extern const struct cli_cmd cli_cmd_config;
extern const struct cli_cmd cli_cmd_version;
extern const struct cli_cmd cli_cmd_watch;

/* Print a usage error naming the flag, then the command's usage, to stderr; returns
 * ZP_EXIT_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...) ZP_PRINTF(2, 3);

/* The usage error for getopt's ':' (missing value) and '?' (unknown flag) answers, naming
 * the flag; returns ZP_EXIT_USAGE. */
int cli_getopt_error(const struct cli_cmd *cmd, int c, char **argv);

/* Print "usage: zpanel [global flags] NAME USAGE" to stdout for -h; returns ZP_EXIT_OK. */
int cli_help(const struct cli_cmd *cmd);

/* --format V: "json" sets *ret_json, plain (the other format's name: "table", "text",
 * "yaml") clears it; anything else is a usage error. Returns 0 or ZP_EXIT_USAGE (printed). */
int cli_parse_format(const struct cli_cmd *cmd, const char *v, const char *plain, bool *ret_json);

/* Load the project with the global flags; services named on the command line enable their
 * profiles. Prints every diagnostic (warnings and errors) to stderr. Returns 0 and
 * *ret, or an exit code (ZP_EXIT_INVALID for invalid files, ZP_EXIT_RUNTIME for I/O). */
int cli_load_project(const struct cli_global *g, const char *const *services, size_t nservices,
                     bool no_interpolate, struct compose_project **ret);

/* Print diagnostics to stderr, one per line, sorted by position. */
void cli_print_diags(struct zp_diags *d);

/* Is colour wanted on the stream fd (1 or 2) under --ansi? */
bool cli_color(const struct cli_global *g, int fd);

/* Append s as a JSON string (quoted, escaped) to b. */
void cli_json_str(struct zp_buf *b, const char *s);

/* A table of ncols columns: w[k] (ncols of them) gets the width of column k over the
 * heads and nrows rows of cells (row i at cells + i * ncols). */
void cli_table_widths(const char *const *heads, char *const *cells, size_t nrows, size_t ncols,
                      size_t *w);
/* Append one row of the table: every cell but the last padded to w[k], three spaces
 * between cells, then a newline. */
void cli_table_row(struct zp_buf *out, const char *const *cells, const size_t *w, size_t ncols);

/* Print an error the way every command does ("zpanel: MESSAGE" on stderr) and return the
 * exit code for it: CLI_EXIT_INTERRUPTED after Ctrl-C (nothing printed), else
 * ZP_EXIT_RUNTIME. */
int cli_error(const struct zp_err *err);

/* ---- the engine session of a command ---- */

struct cli_progress;

struct cli_session {
    struct compose_project *project;
    struct orch *orch;
    struct cli_progress *progress;
};

/* Load the project (services enable their profiles; unknown services are a usage error
 * naming them), start the progress printer (when with_progress) and open the
 * orchestrator session on -H/DOCKER_HOST. Returns 0, or the exit code after printing
 * the problem (ZP_EXIT_INVALID before anything touches the engine). */
int cli_session_open(const struct cli_global *g, const struct cli_cmd *cmd,
                     const char *const *services, size_t nservices, bool with_progress,
                     struct cli_session *ret);
/* Finish the progress view and free everything; accepts a zeroed session. */
void cli_session_close(struct cli_session *s);

/* Run one of start/stop/restart/kill/pause/unpause/rm (an enum orch_action) on the
 * services through the orchestrator, with progress; returns the exit code. */
struct orch_action_opts;
int cli_run_action(const struct cli_global *g, const struct cli_cmd *cmd, int action,
                   struct orch_action_opts *opts, char **services, size_t nservices);
/* The whole exec of an action command that takes no flag but -h (start, pause, unpause):
 * argv is the command's [SERVICE...]. */
int cli_exec_plain_action(const struct cli_global *g, const struct cli_cmd *cmd, int action,
                          int argc, char **argv);
/* The same for one whose only flags are -t/--timeout SECONDS and -h (stop, restart;
 * cmd-stop.c). */
int cli_exec_timeout_action(const struct cli_global *g, const struct cli_cmd *cmd, int action,
                            int argc, char **argv);
/* -t/--timeout SECONDS of stop, restart and down (0 to a year). Returns 0 with *ret, or the
 * usage error's exit code (printed). */
int cli_parse_stop_timeout(const struct cli_cmd *cmd, const char *v, int *ret);

/* ---- signals: handlers only write to a self-pipe ---- */

/* Called from the signal thread for each SIGINT/SIGTERM/SIGHUP (count: interrupts so
 * far, from 1) and SIGWINCH (count 0). */
typedef void (*cli_signal_fn)(void *ud, int signo, unsigned count);

/* Catch SIGINT, SIGTERM, SIGHUP and SIGWINCH from now on and call fn from a thread.
 * Returns 0 or ZP_EXIT_RUNTIME (printed). One at a time. */
int cli_signals_start(cli_signal_fn fn, void *ud);
/* Stop the thread and restore the default handlers; safe when not started. */
void cli_signals_stop(void);
/* Interrupts received since cli_signals_start. Thread-safe. */
unsigned cli_signals_count(void);

/* ---- progress printer (progress.c) ---- */

/* Create the printer for the mode (AUTO resolved with --ansi and isatty(2)); it writes to
 * stderr. */
struct cli_progress *cli_progress_new(const struct cli_global *g);
/* An orch_progress_fn: ud is the struct cli_progress. Thread-safe. */
void cli_progress_event(void *ud, const struct orch_event *ev);
/* Print a line of the command's own (a warning, "Gracefully stopping...") without
 * breaking the live view. Thread-safe. Quiet mode prints nothing. */
void cli_progress_note(struct cli_progress *p, const char *fmt, ...) ZP_PRINTF(2, 3);
/* Draw the final state and stop the live view's timer; later events still print. */
void cli_progress_done(struct cli_progress *p);
void cli_progress_free(struct cli_progress *p);

/* ---- log streaming (cmd-logs.c), shared by `logs` and attached `up` ---- */

struct cli_logs;

struct cli_logs_opts {
    const struct engine_logs_opts *engine; /* follow, tail, since, until, timestamps */
    bool prefix;                           /* "name  | " before each line */
    bool color;                            /* colour the prefixes per service */
    size_t width;                          /* prefix width (cli_logs_width) */
    /* Called (from the container's thread, serialised) when its stream ended because the
     * container stopped (not after cli_logs_cancel). May be NULL. */
    void (*on_end)(void *ud, const char *name, const char *id);
    void *ud;
    bool swarm; /* the ids are Swarm services: their logs endpoint (every task, any node) */
};

/* A set of containers whose logs print to stdout, one thread and engine each. */
struct cli_logs *cli_logs_new(const char *host, const struct cli_logs_opts *opts);
/* Start streaming container c (copied) in a new thread; color_index picks its colour.
 * Errors: ZP_E_SYSTEM (thread). */
int cli_logs_add(struct cli_logs *l, const struct orch_container *c, int color_index,
                 struct zp_err *err);
/* Make every stream end now (thread-safe, from the signal thread). */
void cli_logs_cancel(struct cli_logs *l);
/* Wait for every thread; returns 0 or the first error (ENGINE_E_CANCELLED after
 * cli_logs_cancel is not an error). */
int cli_logs_join(struct cli_logs *l, struct zp_err *err);
void cli_logs_free(struct cli_logs *l);
/* Width for prefixes: the longest container name. */
size_t cli_logs_width(const struct orch_container *c, size_t n);
/* Compose's `attach: false`: move the containers of services marked so to the end of c
 * (the others keep their order) and return how many remain in front, unless none would:
 * then all n. For attached `up` and `logs` without service names. */
size_t cli_logs_attached(const struct compose_project *p, struct orch_container *c, size_t n);
/* Parse --since/--until: RFC 3339, Unix seconds, or a duration before now ("10m").
 * Returns 0 and *ret (Unix seconds) or ZP_E_INPUT. */
int cli_parse_time(const char *s, int64_t *ret);

/* ---- terminals and attached streams (cmd-exec.c), shared by `exec` and `run` ---- */

/* Put the terminal on stdin in raw mode (cli_term_restore undoes it). ZP_E_SYSTEM when
 * stdin is not a terminal. */
int cli_term_raw(void);
void cli_term_restore(void);
/* The size of the terminal on stdin; false when there is none. */
bool cli_term_size(unsigned *ret_h, unsigned *ret_w);
/* An engine_frame_fn writing stdout frames to fd 1 and stderr frames to fd 2; a closed
 * stdout ends the stream quietly. */
int cli_stream_output(void *ctx, enum engine_stream stream, const char *data, size_t len,
                      struct zp_err *err);

/* ---- releases (cmd-update.c), shared by update, rollback, releases and up ---- */

/* A release workflow run from the command line: a sink that prints to the progress view
 * and Ctrl-C firing the workflow's cancel token. */
struct cli_release_run {
    struct release_sink sink;
    struct release_cancel *cancel;
    struct cli_progress *progress; /* borrowed; may be NULL */
    bool signals;
};

/* --keep N, or without it (v NULL) ZPANEL_KEEP_RELEASES, else RELEASE_KEEP_DEFAULT. Returns
 * 0 or the usage error's exit code (printed). */
int cli_release_parse_keep(const struct cli_cmd *cmd, const char *v, size_t *ret);
/* --wait-timeout: seconds or a duration. Returns 0 or the usage error's exit code. */
int cli_release_parse_timeout(const struct cli_cmd *cmd, const char *v, int64_t *ret_ms);
/* The flags update and rollback share: --wait-timeout, --keep and -h. Returns -1 with
 * *ret_timeout_ms and *ret_keep set and optind at the first operand, or the exit code the
 * command returns (0 after -h, the usage error's code after printing it). */
int cli_release_parse_args(const struct cli_cmd *cmd, int argc, char **argv,
                           int64_t *ret_timeout_ms, size_t *ret_keep);
/* The printing sink alone (no cancel token, no signals): for `up`, which handles Ctrl-C
 * itself. */
void cli_release_sink(struct cli_progress *progress, struct release_sink *ret);
/* Fill opts (host from g, the printing sink, a cancel token that Ctrl-C fires) and start
 * catching signals. Returns 0 or ZP_EXIT_RUNTIME (printed). */
int cli_release_run_start(struct cli_release_run *r, const struct cli_global *g,
                          struct cli_progress *progress, struct release_opts *opts);
void cli_release_run_stop(struct cli_release_run *r);
/* Print the error of a workflow (with the release it recorded) and return the exit code:
 * CLI_EXIT_INTERRUPTED after Ctrl-C (the message still says which release was left how). */
int cli_release_error(const struct zp_err *err, const struct release_result *out);

extern const struct cli_cmd cli_cmd_update;
extern const struct cli_cmd cli_cmd_releases;
extern const struct cli_cmd cli_cmd_rollback;

/* ---- commands ---- */

extern const struct cli_cmd cli_cmd_up;
extern const struct cli_cmd cli_cmd_down;
extern const struct cli_cmd cli_cmd_ps;
extern const struct cli_cmd cli_cmd_logs;
extern const struct cli_cmd cli_cmd_start;
extern const struct cli_cmd cli_cmd_stop;
extern const struct cli_cmd cli_cmd_restart;
extern const struct cli_cmd cli_cmd_kill;
extern const struct cli_cmd cli_cmd_rm;
extern const struct cli_cmd cli_cmd_pause;
extern const struct cli_cmd cli_cmd_unpause;
extern const struct cli_cmd cli_cmd_top;
extern const struct cli_cmd cli_cmd_port;
extern const struct cli_cmd cli_cmd_images;
extern const struct cli_cmd cli_cmd_exec;
extern const struct cli_cmd cli_cmd_run;
/* operating (ops): cmd-status.c, cmd-health.c, cmd-stats.c, cmd-cleanup.c, cmd-rebuild.c */
extern const struct cli_cmd cli_cmd_status;
extern const struct cli_cmd cli_cmd_health;
extern const struct cli_cmd cli_cmd_stats;
extern const struct cli_cmd cli_cmd_cleanup;
extern const struct cli_cmd cli_cmd_rebuild;
extern const struct cli_cmd cli_cmd_events;
extern const struct cli_cmd cli_cmd_backup;
extern const struct cli_cmd cli_cmd_restore;
extern const struct cli_cmd cli_cmd_proxy;
/* remote servers over SSH (cmd-server.c) */
extern const struct cli_cmd cli_cmd_server;
struct ssh_tunnel;
/* Resolve --server NAME, or an ssh:// -H/DOCKER_HOST, into a tunnel and point g->host (and
 * DOCKER_HOST) at its local socket; *ret stays NULL for local engines. Returns 0 or the
 * exit code after printing the problem. */
int cli_ssh_open(struct cli_global *g, struct ssh_tunnel **ret);
/* After the command: print what went wrong with the SSH transport (naming the server)
 * when rc is an error, then close the tunnel (NULL accepted). */
void cli_ssh_close(struct ssh_tunnel *t, int rc);
/* For a session on a server over SSH (g->remote): rewrite s->project's paths for the
 * server and, for the commands that create containers (up, run, update, rebuild, watch),
 * first sync the project's files there (a progress note says what moved). Returns 0 or
 * the exit code after printing the problem. */
int cli_remote_prepare(const struct cli_global *g, const struct cli_cmd *cmd,
                       struct cli_session *s);
/* the control plane: cmd-serve.c, cmd-user.c, cmd-token.c */
extern const struct cli_cmd cli_cmd_serve;
extern const struct cli_cmd cli_cmd_user;
extern const struct cli_cmd cli_cmd_schedule;
extern const struct cli_cmd cli_cmd_token;
extern const struct cli_cmd cli_cmd_notify;
extern const struct cli_cmd cli_cmd_destination; /* cmd-destination.c */
/* What they share (control.c): one subcommand, argv[0] its name. */
struct cli_sub {
    const char *name;
    int (*run)(int argc, char **argv);
};
/* Run the subcommand that argv[1] names (subs ends with {NULL}), or -h/--help, or print the
 * usage error for a missing or unknown one. Returns the exit code. */
int cli_run_sub(const struct cli_cmd *cmd, const struct cli_sub *subs, int argc, char **argv);
/* The state directory: --state-dir's value (flag) or else the default; newly allocated. */
char *cli_state_dir(const char *flag);
/* The flags of a subcommand that takes only --state-dir DIR, -h and, when ret_json is not
 * NULL, --format table|json (sets *ret_json, which the caller initialises). Returns -1 with
 * *ret_state_dir (NULL when not given) and optind at the first operand, or the exit code
 * the subcommand returns (0 after -h, the usage error's after printing it). */
int cli_parse_state_dir(const struct cli_cmd *cmd, int argc, char **argv, bool *ret_json,
                        const char **ret_state_dir);

/* ---- Docker Swarm (cmd-swarm.c) ---- */
extern const struct cli_cmd cli_cmd_swarm;
/* Is the session's project a Swarm project (x-zpanel.swarm, or its services exist on the
 * engine as Swarm services)? Returns 0, or the exit code after printing the error. */
int cli_swarm_project(struct cli_session *s, bool *ret);
/* ps and status of a Swarm project: its tasks, its services. Return exit codes. */
int cli_swarm_ps(struct cli_session *s, bool all, bool json, bool quiet);
int cli_swarm_status(struct cli_session *s, bool json);
/* logs and health of a Swarm project (eo: the logs' options). Return exit codes. */
int cli_swarm_logs(const struct cli_global *g, struct cli_session *s,
                   const struct engine_logs_opts *eo, bool prefix, bool color,
                   const char *const *services, size_t nservices);
int cli_swarm_health(struct cli_session *s, const char *const *services, size_t nservices,
                     bool quiet);
/* `zpanel swarm rollback`: each (named) service's previous spec (Swarm's own rollback;
 * `zpanel update/rollback` go through the release workflows). Returns an exit code. */
int cli_swarm_rollback(struct cli_session *s, const char *const *services, size_t nservices);
/* templates */
extern const struct cli_cmd cli_cmd_template;
extern const struct cli_cmd cli_cmd_init;
extern const struct cli_cmd cli_cmd_action;

#endif
