/* cli/progress: prints the orchestrator's progress events on stderr: a live
 * view redrawn in place on a terminal, one line per event (plain), errors only
 * (quiet), or JSON lines. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../orchestrator/orchestrator.h"
#include "cli.h"

#include "../util/banned.h"

#define TICK_MS 100
#define MAX_LINES 10000 /* objects remembered by the live view */

/* One object of the live view. */
struct line {
    enum orch_obj obj;
    char *name;
    enum orch_state state; /* WORKING, DONE, FAILED or INFO ("Running") */
    char *status;          /* "Creating", "Started", or the error */
    char *detail;          /* latest output line of a build, shown while working */
    int64_t start_ns, end_ns;
};

struct cli_progress {
    enum cli_progress_mode mode;
    bool color;
    pthread_mutex_t lock; /* guards everything below, and writes to stderr */
    struct line *lines;
    size_t n, cap;
    size_t committed; /* lines before this one are printed for good */
    size_t drawn;     /* lines of the view on the screen now */
    unsigned frame;   /* spinner frame */
    bool stop;        /* the timer thread must end */
    bool done;
    pthread_cond_t cond;
    pthread_t timer;
    bool timer_running;
};

static const char *obj_name(enum orch_obj o)
{
    switch (o) {
    case ORCH_OBJ_PROJECT:
        return "Project";
    case ORCH_OBJ_NETWORK:
        return "Network";
    case ORCH_OBJ_VOLUME:
        return "Volume";
    case ORCH_OBJ_IMAGE:
        return "Image";
    case ORCH_OBJ_CONTAINER:
        return "Container";
    case ORCH_OBJ_SERVICE:
        return "Service";
    case ORCH_OBJ_CONFIG:
        return "Config";
    case ORCH_OBJ_SECRET:
        return "Secret";
    }
    return "Object";
}

static const char *state_name(enum orch_state s)
{
    switch (s) {
    case ORCH_WORKING:
        return "working";
    case ORCH_DONE:
        return "done";
    case ORCH_FAILED:
        return "failed";
    case ORCH_INFO:
        return "info";
    case ORCH_WARNING:
        return "warning";
    }
    return "info";
}

/* A one-word INFO on an object is a state ("Running"); anything else is a note
 * (limit adjustments) or an output line (builds). */
static bool is_state_text(const struct orch_event *ev)
{
    return ev->obj != ORCH_OBJ_PROJECT && ev->text && *ev->text && !strchr(ev->text, ' ') &&
           strlen(ev->text) <= 24;
}

static unsigned term_rows(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 2)
        return ws.ws_row;
    return 24;
}

/* ---- live view (lock held) ---- */

static const char *const spinner[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

static void draw_line(struct cli_progress *p, const struct line *l, size_t width, int64_t now)
{
    const char *mark;
    const char *on = "", *off = "";
    switch (l->state) {
    case ORCH_WORKING:
        mark = spinner[p->frame % 10];
        on = p->color ? "\033[34m" : "";
        break;
    case ORCH_FAILED:
        mark = "✘";
        on = p->color ? "\033[31m" : "";
        break;
    default:
        mark = "✔";
        on = p->color ? "\033[32m" : "";
        break;
    }
    if (*on)
        off = "\033[0m";
    char label[512];
    snprintf(label, sizeof(label), "%s %s", obj_name(l->obj), l->name);
    int64_t end = l->state == ORCH_WORKING ? now : l->end_ns;
    double secs = (double)(end - l->start_ns) / 1e9;
    fprintf(stderr, "\033[K %s%s%s %-*s  %-10s", on, mark, off, (int)width, label,
            l->status ? l->status : "");
    if (l->state == ORCH_WORKING && l->detail)
        fprintf(stderr, "  %s%.60s%s", p->color ? "\033[2m" : "", l->detail,
                p->color ? "\033[0m" : "");
    fprintf(stderr, " %.1fs\n", secs < 0 ? 0 : secs);
}

static void redraw(struct cli_progress *p)
{
    int64_t now = zp_mono_ns();
    if (p->drawn)
        fprintf(stderr, "\033[%zuA", p->drawn);
    /* keep the view within the terminal: older lines are printed once and left */
    size_t max = term_rows() - 2;
    size_t width = 0;
    for (size_t i = 0; i < p->n; i++) {
        size_t w = strlen(obj_name(p->lines[i].obj)) + 1 + strlen(p->lines[i].name);
        if (w > width)
            width = w;
    }
    size_t ndone = 0;
    for (size_t i = 0; i < p->n; i++)
        ndone += p->lines[i].state != ORCH_WORKING;
    fprintf(stderr, "\033[K%s[+] Running %zu/%zu%s\n", p->color ? "\033[1m" : "", ndone, p->n,
            p->color ? "\033[0m" : "");
    while (p->n - p->committed > max) {
        draw_line(p, &p->lines[p->committed], width, now);
        p->committed++;
    }
    for (size_t i = p->committed; i < p->n; i++)
        draw_line(p, &p->lines[i], width, now);
    p->drawn = p->n - p->committed + 1;
    fflush(stderr);
}

/* Print a line above the live view (lock held). */
static void print_above(struct cli_progress *p, const char *text)
{
    if (p->mode == CLI_PROGRESS_TTY && p->drawn) {
        fprintf(stderr, "\033[%zuA\033[J", p->drawn);
        p->drawn = 0;
    }
    fprintf(stderr, "%s\n", text);
    if (p->mode == CLI_PROGRESS_TTY && p->n)
        redraw(p);
    fflush(stderr);
}

static struct line *find_line(struct cli_progress *p, enum orch_obj obj, const char *name)
{
    for (size_t i = p->n; i > 0; i--)
        if (p->lines[i - 1].obj == obj && strcmp(p->lines[i - 1].name, name) == 0)
            return &p->lines[i - 1];
    if (p->n >= MAX_LINES)
        return NULL;
    zp_grow((void **)&p->lines, &p->cap, p->n + 1, sizeof(*p->lines));
    struct line *l = &p->lines[p->n++];
    memset(l, 0, sizeof(*l));
    l->obj = obj;
    l->name = zp_strdup(name);
    return l;
}

static void *timer_thread(void *arg)
{
    struct cli_progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts = zp_mono_deadline(TICK_MS);
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        if (p->stop)
            break;
        p->frame++;
        bool working = false;
        for (size_t i = p->committed; i < p->n && !working; i++)
            working = p->lines[i].state == ORCH_WORKING;
        if (working)
            redraw(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void tty_event(struct cli_progress *p, const struct orch_event *ev)
{
    const char *name = ev->name ? ev->name : "";
    if (ev->state == ORCH_WARNING || (ev->state == ORCH_INFO && !is_state_text(ev))) {
        if (ev->state == ORCH_INFO && ev->obj != ORCH_OBJ_PROJECT) {
            /* an output line (build): shown beside the object while it works */
            struct line *l = find_line(p, ev->obj, name);
            if (l) {
                free(l->detail);
                l->detail = zp_strdup(ev->text ? ev->text : "");
                if (!l->status) {
                    l->status = zp_strdup("Working");
                    l->state = ORCH_WORKING;
                    l->start_ns = ev->time_ns;
                }
            }
            redraw(p);
            return;
        }
        char *s = zp_asprintf("%s%s%s", ev->state == ORCH_WARNING ? "WARNING: " : "",
                              ev->text ? ev->text : "", "");
        if (p->color && ev->state == ORCH_WARNING) {
            char *c = zp_asprintf("\033[33m%s\033[0m", s);
            free(s);
            s = c;
        }
        print_above(p, s);
        free(s);
        return;
    }
    struct line *l = find_line(p, ev->obj, name);
    if (!l)
        return;
    if (ev->state == ORCH_WORKING && l->state != ORCH_WORKING) {
        l->start_ns = ev->time_ns;
    } else if (!l->status) {
        l->start_ns = ev->time_ns;
    }
    if (ev->state != ORCH_WORKING)
        l->end_ns = ev->time_ns;
    l->state = ev->state;
    free(l->status);
    l->status = ev->state == ORCH_FAILED ? zp_asprintf("Error: %s", ev->text ? ev->text : "")
                                         : zp_strdup(ev->text ? ev->text : "");
    redraw(p);
}

static void plain_event(struct cli_progress *p, const struct orch_event *ev)
{
    const char *text = ev->text ? ev->text : "";
    switch (ev->state) {
    case ORCH_WARNING:
        fprintf(stderr, "WARNING: %s\n", text);
        break;
    case ORCH_FAILED:
        fprintf(stderr, "%s %s  Error: %s\n", obj_name(ev->obj), ev->name ? ev->name : "", text);
        break;
    case ORCH_INFO:
        if (ev->obj == ORCH_OBJ_PROJECT) {
            fprintf(stderr, "%s\n", text);
            break;
        }
        /* fall through */
    default:
        fprintf(stderr, "%s %s  %s\n", obj_name(ev->obj), ev->name ? ev->name : "", text);
    }
    (void)p;
    fflush(stderr);
}

static void json_event(const struct orch_event *ev)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_adds(&b, "{\"time\":");
    cli_json_str(&b, when);
    zp_buf_adds(&b, ",\"object\":");
    char obj[16];
    snprintf(obj, sizeof(obj), "%s", obj_name(ev->obj));
    obj[0] = (char)(obj[0] - 'A' + 'a');
    cli_json_str(&b, obj);
    zp_buf_adds(&b, ",\"name\":");
    cli_json_str(&b, ev->name);
    if (ev->service) {
        zp_buf_adds(&b, ",\"service\":");
        cli_json_str(&b, ev->service);
    }
    zp_buf_adds(&b, ",\"state\":");
    cli_json_str(&b, state_name(ev->state));
    zp_buf_adds(&b, ",\"text\":");
    cli_json_str(&b, ev->text);
    zp_buf_adds(&b, "}\n");
    fputs(zp_buf_cstr(&b), stderr);
    fflush(stderr);
    zp_buf_release(&b);
}

/* ---- interface ---- */

struct cli_progress *cli_progress_new(const struct cli_global *g)
{
    struct cli_progress *p = zp_calloc(1, sizeof(*p));
    p->mode = g->progress;
    if (p->mode == CLI_PROGRESS_AUTO)
        p->mode = isatty(STDERR_FILENO) && g->ansi != CLI_ANSI_NEVER ? CLI_PROGRESS_TTY
                                                                     : CLI_PROGRESS_PLAIN;
    p->color = p->mode == CLI_PROGRESS_TTY && cli_color(g, STDERR_FILENO);
    pthread_mutex_init(&p->lock, NULL);
    zp_cond_init_mono(&p->cond);
    return p;
}

void cli_progress_event(void *ud, const struct orch_event *ev)
{
    struct cli_progress *p = ud;
    pthread_mutex_lock(&p->lock);
    switch (p->mode) {
    case CLI_PROGRESS_TTY:
        if (p->done) {
            /* after the view is final (e.g. while attached), print events as lines */
            pthread_mutex_unlock(&p->lock);
            plain_event(p, ev);
            return;
        }
        if (!p->timer_running && pthread_create(&p->timer, NULL, timer_thread, p) == 0)
            p->timer_running = true;
        tty_event(p, ev);
        break;
    case CLI_PROGRESS_PLAIN:
    case CLI_PROGRESS_AUTO:
        plain_event(p, ev);
        break;
    case CLI_PROGRESS_QUIET:
        if (ev->state == ORCH_FAILED) {
            fprintf(stderr, "%s %s  Error: %s\n", obj_name(ev->obj), ev->name ? ev->name : "",
                    ev->text ? ev->text : "");
            fflush(stderr);
        }
        break;
    case CLI_PROGRESS_JSON:
        json_event(ev);
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_note(struct cli_progress *p, const char *fmt, ...)
{
    if (!p || p->mode == CLI_PROGRESS_QUIET)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *text = zp_vasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->lock);
    if (p->mode == CLI_PROGRESS_JSON) {
        struct zp_buf b = ZP_BUF_INIT;
        zp_buf_adds(&b, "{\"object\":\"project\",\"state\":\"info\",\"text\":");
        cli_json_str(&b, text);
        zp_buf_adds(&b, "}\n");
        fputs(zp_buf_cstr(&b), stderr);
        zp_buf_release(&b);
        fflush(stderr);
    } else if (p->mode == CLI_PROGRESS_TTY && !p->done) {
        print_above(p, text);
    } else {
        fprintf(stderr, "%s\n", text);
        fflush(stderr);
    }
    pthread_mutex_unlock(&p->lock);
    free(text);
}

void cli_progress_done(struct cli_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    bool joined = p->timer_running;
    pthread_mutex_unlock(&p->lock);
    if (joined)
        pthread_join(p->timer, NULL);
    pthread_mutex_lock(&p->lock);
    p->timer_running = false;
    if (p->mode == CLI_PROGRESS_TTY && !p->done && p->n)
        redraw(p);
    p->done = true;
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_free(struct cli_progress *p)
{
    if (!p)
        return;
    cli_progress_done(p);
    for (size_t i = 0; i < p->n; i++) {
        free(p->lines[i].name);
        free(p->lines[i].status);
        free(p->lines[i].detail);
    }
    free(p->lines);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}
