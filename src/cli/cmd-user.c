/* cli/user: manage the control plane's users (`zpanel user add`), on the state directory
 * (also while serve runs). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../server/server.h"
#include "cli.h"

#include "../util/banned.h"

#define PASSWORD_READ_MAX 4096

/* One line from f without its line end; NULL at EOF or when too long. */
static char *read_line(FILE *f)
{
    char buf[PASSWORD_READ_MAX];
    if (!fgets(buf, sizeof(buf), f))
        return NULL;
    size_t n = strlen(buf);
    if (n == sizeof(buf) - 1 && buf[n - 1] != '\n')
        return NULL;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    char *s = zp_strdup(buf);
    memset(buf, 0, sizeof(buf));
    return s;
}

static char *prompt(const char *what)
{
    struct termios old, quiet;
    fprintf(stderr, "%s: ", what);
    fflush(stderr);
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *s = read_line(stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return s;
}

static int user_add(int argc, char **argv)
{
    enum { OPT_ROLE = 256, OPT_PW_STDIN, OPT_STATE_DIR };
    static const struct option opts[] = {
        {"role", required_argument, NULL, OPT_ROLE},
        {"password-stdin", no_argument, NULL, OPT_PW_STDIN},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *role = "member", *state_dir = NULL;
    bool pw_stdin = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ROLE:
            role = optarg;
            break;
        case OPT_PW_STDIN:
            pw_stdin = true;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_user);
        default:
            return cli_getopt_error(&cli_cmd_user, c, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(&cli_cmd_user, "user add takes one NAME");
    const char *name = argv[optind];
    char *pw = NULL;
    if (pw_stdin) {
        pw = read_line(stdin);
    } else if (isatty(STDIN_FILENO)) {
        pw = prompt("Password");
        char *again = pw ? prompt("Password (again)") : NULL;
        if (pw && (!again || strcmp(pw, again) != 0)) {
            free(again);
            free(pw);
            fprintf(stderr, "zpanel: the passwords differ\n");
            return ZP_EXIT_RUNTIME;
        }
        free(again);
    } else {
        return cli_usage_error(&cli_cmd_user,
                               "no terminal to ask the password on: use --password-stdin");
    }
    if (!pw) {
        fprintf(stderr, "zpanel: no password read\n");
        return ZP_EXIT_RUNTIME;
    }
    char *dir = cli_state_dir(state_dir);
    struct zp_err err;
    zp_err_init(&err);
    int rc = server_user_add(dir, name, role, pw, &err);
    memset(pw, 0, strlen(pw));
    free(pw);
    free(dir);
    if (rc == ZP_E_INPUT)
        return cli_usage_error(&cli_cmd_user, "%s", err.msg);
    if (rc)
        return cli_error(&err);
    printf("added user %s (%s)\n", name, role);
    return 0;
}

static int user_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"add", user_add}, {NULL, NULL}};
    (void)g;
    return cli_run_sub(&cli_cmd_user, subs, argc, argv);
}

const struct cli_cmd cli_cmd_user = {
    .name = "user",
    .usage = "add NAME [--role admin|member|viewer] [--password-stdin] [--state-dir DIR]",
    .summary = "manage the users of zpanel serve",
    .exec = user_exec,
};
