/*
 * `medclear report window W [--html FILE]`: the month-end report of one clearing window
 * (DESIGN.md section 7) for finance. It shows the window's period and state, what each
 * party is owed as treating party (receivable) and owes as insuring party (payable) with
 * its net, the amount of every pair, and each pair's prepayment quota usage now against
 * the yellow and red lines. The figures are the statement's own rows read through the
 * finance views (clearing.window_statements, clearing.statement_parties, clearing.usage)
 * in one snapshot, never recomputed from the claims.
 *
 * Text for a terminal by default. --html writes one self-contained page (inline SVG, CSS
 * and a few lines of script; nothing is fetched) that draws who owes whom as arrows
 * between the regions, the quota usage as bars, and the statement tables. The page goes
 * to a temporary file beside FILE that is renamed over it, so a failure never leaves
 * half a report. Amounts are int64 fen printed as yuan; bar and arrow sizes are integer
 * ratios of them (only the diagram's geometry is floating point).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc_db.h"
#include "tool.h"
#include "tool_report.h"

/* One snapshot of a window and its statement; the results are owned here. */
typedef struct report {
    int64_t yellow_bp, red_bp;
    PGresult *win, *pairs, *parties;
} report_t;

enum { W_ID, W_STATUS, W_START, W_END, W_ISSUED, W_SHA, W_SETTLEMENT, W_CONFIRM_DUE, W_PAY_DUE };
static const char WINDOW_SQL[] =
    "SELECT window_id, status, "
    "to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
    "to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
    "coalesce(to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), "
    "coalesce(statement_sha256, ''), lower(settlement), "
    "coalesce(to_char(confirm_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), "
    "coalesce(to_char(pay_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '') "
    "FROM clearing.windows WHERE window_id = $1";

/* usage_bp -1: no quota placed for the pair */
enum { P_INS, P_TRT, P_CLAIMS, P_AMOUNT, P_PAID, P_QUOTA, P_USED, P_BP };
static const char PAIRS_SQL[] =
    "SELECT s.insuring_party, s.treating_party, s.claims, s.amount_fen, s.paid, "
    "coalesce(u.quota_fen, 0), coalesce(u.used_fen, 0), coalesce(u.usage_bp, -1) "
    "FROM clearing.window_statements s LEFT JOIN clearing.usage u "
    "USING (insuring_party, treating_party) WHERE s.window_id = $1 ORDER BY 1, 2";

enum { R_PARTY, R_NAME, R_RECEIVABLE, R_PAYABLE, R_NET };
static const char PARTIES_SQL[] =
    "SELECT s.party, coalesce(p.name, ''), s.receivable_fen, s.payable_fen, s.net_fen "
    "FROM clearing.statement_parties s LEFT JOIN clearing.parties p ON p.code = s.party "
    "WHERE s.window_id = $1 ORDER BY s.party";

static void report_free(report_t *r)
{
    PQclear(r->win);
    PQclear(r->pairs);
    PQclear(r->parties);
}

/* Window ids are made by clearing.roll_window ("W20261110T101500.000"). */
static bool window_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
            return false;
    return true;
}

/* Reads window id and its statement in one snapshot. Returns 0 or the exit status. */
static int report_load(const mc_config_t *cfg, const char *id, report_t *r)
{
    int rc = 1;
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, id);
    if (!mc_db_do(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL))
        goto out;
    r->win = mc_db_run(db, WINDOW_SQL, &p);
    if (r->win && PQntuples(r->win) == 0) {
        fprintf(stderr, "medclear: no window \"%s\" (medclear window list shows them)\n", id);
        goto out;
    }
    r->pairs = r->win ? mc_db_run(db, PAIRS_SQL, &p) : NULL;
    r->parties = r->pairs ? mc_db_run(db, PARTIES_SQL, &p) : NULL;
    if (!r->parties) {
        fprintf(stderr, "medclear: could not read the statement of window \"%s\"\n", id);
        goto out;
    }
    rc = 0;
out:
    PQfinish(db); /* ends the read-only transaction */
    return rc;
}

static bool issued(const report_t *r)
{
    const char *s = mc_db_str(r->win, 0, W_STATUS);
    return strcmp(s, "OPEN") != 0 && strcmp(s, "CLOSED") != 0;
}

/* "26.58%" from basis points. */
static const char *percent(int64_t bp, char out[32])
{
    snprintf(out, 32, "%" PRId64 ".%02" PRId64 "%%", bp / 100, bp % 100);
    return out;
}

/* "70%" for a line at a whole percentage, else as percent(). */
static const char *line_label(int64_t bp, char out[32])
{
    if (bp % 100 != 0)
        return percent(bp, out);
    snprintf(out, 32, "%" PRId64 "%%", bp / 100);
    return out;
}

static int party_index(const report_t *r, const char *code)
{
    for (int i = 0; i < PQntuples(r->parties); i++)
        if (strcmp(mc_db_str(r->parties, i, R_PARTY), code) == 0)
            return i;
    return -1;
}

/* The name of party code, or "" when the clearing centre has none. */
static const char *party_name(const report_t *r, const char *code)
{
    int i = party_index(r, code);
    return i < 0 ? "" : mc_db_str(r->parties, i, R_NAME);
}

/* Sums of the statement, for the totals rows. */
typedef struct totals {
    int64_t claims, amount, receivable, payable, net;
} totals_t;

static totals_t report_totals(const report_t *r)
{
    totals_t t = {0};
    for (int i = 0; i < PQntuples(r->pairs); i++) {
        t.claims += mc_db_int(r->pairs, i, P_CLAIMS);
        t.amount += mc_db_int(r->pairs, i, P_AMOUNT);
    }
    for (int i = 0; i < PQntuples(r->parties); i++) {
        t.receivable += mc_db_int(r->parties, i, R_RECEIVABLE);
        t.payable += mc_db_int(r->parties, i, R_PAYABLE);
        t.net += mc_db_int(r->parties, i, R_NET);
    }
    return t;
}

/* ---- text --------------------------------------------------------------------------- */

#define BAR 40 /* characters for 0..100% of a quota */

/* A bar of BAR characters: '#' used, '.' free, '|' at the yellow and red lines. */
static void text_bar(const report_t *r, int64_t bp, char out[BAR + 1])
{
    int64_t fill = bp < 0 ? 0 : (bp > 10000 ? 10000 : bp) * BAR / 10000;
    for (int k = 0; k < BAR; k++)
        out[k] = k < fill ? '#' : '.';
    out[r->yellow_bp * BAR / 10000 < BAR ? r->yellow_bp * BAR / 10000 : BAR - 1] = '|';
    out[r->red_bp * BAR / 10000 < BAR ? r->red_bp * BAR / 10000 : BAR - 1] = '|';
    out[BAR] = '\0';
}

/* Writes "70%" into scale[BAR + 2] centred over the line of bp in a bar after a '['. */
static void scale_label(char *scale, int64_t bp)
{
    char label[32];
    int64_t n = (int64_t)strlen(line_label(bp, label));
    int64_t at = bp * BAR / 10000; /* the line is at 1 + at */
    at = at + n > BAR + 2 ? BAR + 2 - n : at < 0 ? 0 : at;
    memcpy(scale + at, label, (size_t)n);
}

static void print_text(const report_t *r)
{
    const PGresult *w = r->win;
    char a[32], b[32], c[32];
    totals_t t = report_totals(r);
    printf("Clearing window %s\n", mc_db_str(w, 0, W_ID));
    printf("  period     %s .. %s UTC\n", mc_db_str(w, 0, W_START), mc_db_str(w, 0, W_END));
    printf("  state      %s", mc_db_str(w, 0, W_STATUS));
    if (*mc_db_str(w, 0, W_ISSUED))
        printf(" (statement issued %s UTC)", mc_db_str(w, 0, W_ISSUED));
    printf("\n");
    if (*mc_db_str(w, 0, W_SHA))
        printf("  statement  sha256 %s\n", mc_db_str(w, 0, W_SHA));
    if (*mc_db_str(w, 0, W_CONFIRM_DUE))
        printf("  settlement %s; confirmations due %s UTC, transfers due %s UTC\n",
               mc_db_str(w, 0, W_SETTLEMENT), mc_db_str(w, 0, W_CONFIRM_DUE),
               mc_db_str(w, 0, W_PAY_DUE));
    if (!issued(r)) {
        printf("\nNo statement has been issued for this window yet "
               "(medclear window issue %s).\n",
               mc_db_str(w, 0, W_ID));
        return;
    }

    printf("\nParties (amounts in yuan)\n");
    printf("  %-8s %-16s %16s %16s %16s\n", "party", "name", "receivable", "payable", "net");
    for (int i = 0; i < PQntuples(r->parties); i++)
        printf("  %-8s %-16s %16s %16s %16s\n", mc_db_str(r->parties, i, R_PARTY),
               mc_db_str(r->parties, i, R_NAME),
               tool_yuan(mc_db_int(r->parties, i, R_RECEIVABLE), a),
               tool_yuan(mc_db_int(r->parties, i, R_PAYABLE), b),
               tool_yuan(mc_db_int(r->parties, i, R_NET), c));
    printf("  %-25s %16s %16s %16s\n", "total", tool_yuan(t.receivable, a),
           tool_yuan(t.payable, b), tool_yuan(t.net, c));
    if (t.net != 0)
        printf("  WARNING: the nets do not sum to zero\n");

    printf("\nPairs: the insuring party pays the treating party (amounts in yuan)\n");
    printf("  %-8s %-8s %8s %16s  %s\n", "insuring", "treating", "claims", "amount", "paid");
    for (int i = 0; i < PQntuples(r->pairs); i++)
        printf("  %-8s %-8s %8" PRId64 " %16s  %s\n", mc_db_str(r->pairs, i, P_INS),
               mc_db_str(r->pairs, i, P_TRT), mc_db_int(r->pairs, i, P_CLAIMS),
               tool_yuan(mc_db_int(r->pairs, i, P_AMOUNT), a),
               strcmp(mc_db_str(r->pairs, i, P_PAID), "t") == 0 ? "yes" : "no");
    printf("  %-17s %8" PRId64 " %16s\n", "total", t.claims, tool_yuan(t.amount, a));

    printf("\nQuota usage now, against the lines at %s and %s (amounts in yuan)\n",
           line_label(r->yellow_bp, a), line_label(r->red_bp, b));
    char scale[BAR + 3];
    memset(scale, ' ', sizeof(scale) - 1);
    scale[BAR + 2] = '\0';
    memcpy(scale + 1, "0%", 2);
    scale_label(scale, r->yellow_bp);
    scale_label(scale, r->red_bp);
    printf("  %-8s %-8s %14s %14s %8s  %s\n", "insuring", "treating", "used", "quota", "usage",
           scale);
    for (int i = 0; i < PQntuples(r->pairs); i++) {
        int64_t bp = mc_db_int(r->pairs, i, P_BP);
        char bar[BAR + 1];
        text_bar(r, bp, bar);
        printf("  %-8s %-8s %14s %14s %8s  [%s]%s\n", mc_db_str(r->pairs, i, P_INS),
               mc_db_str(r->pairs, i, P_TRT), tool_yuan(mc_db_int(r->pairs, i, P_USED), a),
               tool_yuan(mc_db_int(r->pairs, i, P_QUOTA), b),
               bp < 0 ? "no quota" : percent(bp, c), bar,
               bp >= r->red_bp ? " RED" : bp >= r->yellow_bp ? " YELLOW" : "");
    }
}

/* ---- HTML --------------------------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* "310000 Shanghai", escaped. */
static void esc_party(FILE *f, const report_t *r, const char *code)
{
    const char *name = party_name(r, code);
    esc(f, code);
    if (*name) {
        fputc(' ', f);
        esc(f, name);
    }
}

static const char *const palette[] = {"#1f6fb4", "#c2410c", "#15803d", "#7c3aed",
                                      "#b91c1c", "#0e7490", "#a16207", "#be185d"};
#define N_COLORS (int)(sizeof(palette) / sizeof(palette[0]))

#define SVG_W 720
#define SVG_H 660
#define NODE_R 46.0

typedef struct pt {
    double x, y;
} pt_t;

static pt_t towards(pt_t from, pt_t to, double dist)
{
    double dx = to.x - from.x, dy = to.y - from.y, len = hypot(dx, dy);
    if (len == 0)
        return from;
    return (pt_t){from.x + dx / len * dist, from.y + dy / len * dist};
}

/*
 * One arrow from node p to node q, bent to the right of its direction so the two
 * directions of a pair do not overlap: a quadratic curve of width w ending in a head at
 * q's rim (label false), or the amount written at its middle (label true: drawn after
 * every arrow, so no arrow hides an amount).
 */
static void svg_arrow(FILE *f, bool label, pt_t p, pt_t q, double w, const char *color,
                      const char *ins, const char *trt, int64_t fen)
{
    double dx = q.x - p.x, dy = q.y - p.y;
    pt_t c = {(p.x + q.x) / 2 - dy * 0.18, (p.y + q.y) / 2 + dx * 0.18};
    pt_t s = towards(p, c, NODE_R + 4), tip = towards(q, c, NODE_R + 3);
    double head = 10 + 1.3 * w, half = 5 + 0.9 * w;
    pt_t base = towards(tip, c, head);
    double ux = (tip.x - base.x) / head, uy = (tip.y - base.y) / head;
    pt_t mid = {0.25 * s.x + 0.5 * c.x + 0.25 * base.x, 0.25 * s.y + 0.5 * c.y + 0.25 * base.y};
    char y[32];
    if (label) { /* a white pill on the curve's middle, edged in the arrow's colour */
        double half_w = (double)(strlen(tool_yuan(fen, y)) + 1) * 4.2 + 6;
        fprintf(f,
                "<rect class=\"pill\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" "
                "rx=\"10\" stroke=\"%s\"/><text class=\"amount\" x=\"%.1f\" y=\"%.1f\" "
                "fill=\"%s\">&#165;%s</text>\n",
                mid.x - half_w, mid.y - 10, 2 * half_w, color, mid.x, mid.y + 1, color, y);
        return;
    }
    fputs("<path class=\"flow\" data-insuring=\"", f);
    esc(f, ins);
    fputs("\" data-treating=\"", f);
    esc(f, trt);
    fprintf(f,
            "\" data-fen=\"%" PRId64 "\" d=\"M%.1f %.1fQ%.1f %.1f %.1f %.1f\" stroke=\"%s\" "
            "stroke-width=\"%.1f\" fill=\"none\" stroke-opacity=\"0.8\"/>\n",
            fen, s.x, s.y, c.x, c.y, base.x, base.y, color, w);
    fprintf(f,
            "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\" "
            "fill-opacity=\"0.9\"/>\n",
            tip.x, tip.y, base.x - uy * half, base.y + ux * half, base.x + uy * half,
            base.y - ux * half, color);
}

/* Who owes whom: the parties on a circle, an arrow per pair from debtor to creditor. */
static void html_flows(FILE *f, const report_t *r)
{
    int n = PQntuples(r->parties);
    int64_t max = 0;
    pt_t at[64];
    char a[32];
    n = n > 64 ? 64 : n;
    for (int i = 0; i < PQntuples(r->pairs); i++) {
        int64_t v = llabs(mc_db_int(r->pairs, i, P_AMOUNT));
        max = v > max ? v : max;
    }
    fprintf(f,
            "<svg class=\"flows\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
            "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"money owed between the "
            "parties\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    if (n == 0)
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no statement lines</text>\n",
                SVG_W / 2, SVG_H / 2);
    for (int i = 0; i < n; i++) {
        double angle = -M_PI / 2 + 2 * M_PI * i / n;
        double radius = n > 1 ? 230 : 0;
        at[i] = (pt_t){SVG_W / 2 + radius * cos(angle), SVG_H / 2 + 10 + radius * sin(angle)};
    }
    for (int k = 0; k < 2 * PQntuples(r->pairs); k++) {
        int i = k % PQntuples(r->pairs);
        const char *ins = mc_db_str(r->pairs, i, P_INS), *trt = mc_db_str(r->pairs, i, P_TRT);
        int64_t fen = mc_db_int(r->pairs, i, P_AMOUNT);
        int pi = party_index(r, ins), ti = party_index(r, trt);
        if (fen == 0 || pi < 0 || ti < 0 || pi >= n || ti >= n || pi == ti)
            continue;
        /* tenths of a pixel, 2 to 16 px by the amount; a negative amount flows back */
        int64_t w10 = 20 + (int64_t)((__int128)140 * llabs(fen) / max);
        int from = fen > 0 ? pi : ti, to = fen > 0 ? ti : pi;
        svg_arrow(f, k >= PQntuples(r->pairs), at[from], at[to], (double)w10 / 10,
                  palette[from % N_COLORS], ins, trt, llabs(fen));
    }
    for (int i = 0; i < n; i++) {
        const char *code = mc_db_str(r->parties, i, R_PARTY);
        int64_t net = mc_db_int(r->parties, i, R_NET);
        bool above = at[i].y < SVG_H / 2 - 50;
        fprintf(f,
                "<g class=\"party\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.0f\" fill=\"%s\"/>"
                "<text class=\"code\" x=\"%.1f\" y=\"%.1f\">",
                at[i].x, at[i].y, NODE_R, palette[i % N_COLORS], at[i].x, at[i].y - 4);
        esc(f, code);
        fprintf(f, "</text><text class=\"name\" x=\"%.1f\" y=\"%.1f\">", at[i].x, at[i].y + 14);
        esc(f, mc_db_str(r->parties, i, R_NAME));
        fprintf(f, "</text><text class=\"net %s\" x=\"%.1f\" y=\"%.1f\">net %s&#165;%s</text></g>\n",
                net < 0 ? "pays" : "gets", at[i].x,
                above ? at[i].y - NODE_R - 10 : at[i].y + NODE_R + 20,
                net < 0 ? "&#8722;" : net > 0 ? "+" : "", tool_yuan(llabs(net), a));
    }
    fputs("</svg>\n", f);
}

/* Each pair's usage of its quota as a bar, with the yellow and red lines drawn on it. */
static void html_quota(FILE *f, const report_t *r)
{
    char a[32], b[32], c[32];
    fputs("<div class=\"quota\">\n<div class=\"scale\"><span style=\"left:0\">0%</span>", f);
    fprintf(f, "<span style=\"left:%s\">%s</span>", percent(r->yellow_bp, a),
            line_label(r->yellow_bp, b));
    fprintf(f, "<span style=\"left:%s\">%s</span>", percent(r->red_bp, a),
            line_label(r->red_bp, b));
    fputs("<span style=\"left:100%\">100%</span></div>\n", f);
    for (int i = 0; i < PQntuples(r->pairs); i++) {
        int64_t bp = mc_db_int(r->pairs, i, P_BP);
        const char *level = bp >= r->red_bp ? "red" : bp >= r->yellow_bp ? "yellow" : "green";
        fputs("<div class=\"qrow\"><div class=\"qlabel\">", f);
        esc_party(f, r, mc_db_str(r->pairs, i, P_INS));
        fputs(" &#8594; ", f);
        esc_party(f, r, mc_db_str(r->pairs, i, P_TRT));
        fprintf(f,
                "</div><div class=\"bar\"><div class=\"fill %s\" style=\"width:%s\"></div>"
                "<div class=\"line yellow\" style=\"left:%s\"></div>",
                level, percent(bp < 0 ? 0 : bp > 10000 ? 10000 : bp, a), percent(r->yellow_bp, b));
        fprintf(f, "<div class=\"line red\" style=\"left:%s\"></div></div>", percent(r->red_bp, b));
        if (bp < 0)
            fprintf(f, "<div class=\"qtext\">no quota placed, &#165;%s used</div></div>\n",
                    tool_yuan(mc_db_int(r->pairs, i, P_USED), a));
        else
            fprintf(f, "<div class=\"qtext %s\">%s: &#165;%s of &#165;%s</div></div>\n", level,
                    percent(bp, c), tool_yuan(mc_db_int(r->pairs, i, P_USED), a),
                    tool_yuan(mc_db_int(r->pairs, i, P_QUOTA), b));
    }
    fputs("</div>\n", f);
}

static void html_tables(FILE *f, const report_t *r)
{
    char a[32], b[32], c[32];
    totals_t t = report_totals(r);
    fputs("<section><h2>Statement per pair</h2>\n<table class=\"pairs\"><thead><tr><th>insuring"
          "</th><th>treating</th><th class=\"n\">claims</th><th class=\"n\">amount (&#165;)</th>"
          "<th>paid</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < PQntuples(r->pairs); i++) {
        fputs("<tr><td>", f);
        esc_party(f, r, mc_db_str(r->pairs, i, P_INS));
        fputs("</td><td>", f);
        esc_party(f, r, mc_db_str(r->pairs, i, P_TRT));
        fprintf(f, "</td><td class=\"n\">%" PRId64 "</td><td class=\"n\">%s</td><td>%s</td></tr>\n",
                mc_db_int(r->pairs, i, P_CLAIMS), tool_yuan(mc_db_int(r->pairs, i, P_AMOUNT), a),
                strcmp(mc_db_str(r->pairs, i, P_PAID), "t") == 0 ? "yes" : "no");
    }
    fprintf(f,
            "</tbody><tfoot><tr><td colspan=\"2\">total</td><td class=\"n\">%" PRId64
            "</td><td class=\"n\">%s</td><td></td></tr></tfoot></table></section>\n",
            t.claims, tool_yuan(t.amount, a));

    fputs("<section><h2>Statement per party</h2>\n<table class=\"parties\"><thead><tr><th>party"
          "</th><th class=\"n\">receivable (&#165;)</th><th class=\"n\">payable (&#165;)</th>"
          "<th class=\"n\">net (&#165;)</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < PQntuples(r->parties); i++) {
        fputs("<tr><td>", f);
        esc_party(f, r, mc_db_str(r->parties, i, R_PARTY));
        fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
                tool_yuan(mc_db_int(r->parties, i, R_RECEIVABLE), a),
                tool_yuan(mc_db_int(r->parties, i, R_PAYABLE), b),
                tool_yuan(mc_db_int(r->parties, i, R_NET), c));
    }
    fprintf(f,
            "</tbody><tfoot><tr><td>total</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
            "<td class=\"n\">%s</td></tr></tfoot></table>\n<p class=\"%s\">%s</p></section>\n",
            tool_yuan(t.receivable, a), tool_yuan(t.payable, b), tool_yuan(t.net, c),
            t.net == 0 ? "ok" : "bad",
            t.net == 0 ? "The nets sum to zero." : "WARNING: the nets do not sum to zero.");
}

static const char CSS[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#1f2937;background:#fff}"
    "h1{font-size:24px;margin:0 0 8px}h2{font-size:18px;margin:18px 0 8px}"
    ".meta td{padding:2px 14px 2px 0}.meta td:first-child{color:#6b7280}"
    ".grid{display:grid;grid-template-columns:740px 1fr;gap:24px;align-items:start}"
    ".flows text{text-anchor:middle;dominant-baseline:middle}"
    ".flows .code{fill:#fff;font-weight:bold;font-size:15px}"
    ".flows .name{fill:#fff;font-size:12px}"
    ".flows .net{font-size:14px;font-weight:bold;paint-order:stroke;stroke:#fff;stroke-width:4px}.flows .gets{fill:#15803d}"
    ".flows .pays{fill:#b91c1c}.flows .amount{font-size:13px;font-weight:bold}"
    ".flows .pill{fill:#fff;stroke-width:1.5px}"
    ".quota{position:relative}.scale{position:relative;height:18px;margin:0 0 4px;"
    "font-size:12px;color:#6b7280}.scale span{position:absolute;transform:translateX(-50%)}"
    ".qrow{margin:0 0 10px}.qlabel{font-size:13px;margin-bottom:2px}"
    ".bar{position:relative;height:16px;background:#e5e7eb;border-radius:3px}"
    ".fill{position:absolute;left:0;top:0;bottom:0;border-radius:3px}"
    ".fill.green{background:#22c55e}.fill.yellow{background:#eab308}.fill.red{background:#dc2626}"
    ".line{position:absolute;top:-4px;bottom:-4px;width:3px;margin-left:-1px;"
    "box-shadow:0 0 0 1px #fff}.line.yellow{background:#854d0e}.line.red{background:#450a0a}"
    ".qtext{font-size:12px;color:#374151}.qtext.yellow{color:#a16207}.qtext.red{color:#991b1b}"
    "table{border-collapse:collapse;font-size:14px}th,td{padding:4px 12px;"
    "border-bottom:1px solid #e5e7eb;text-align:left}.n{text-align:right;"
    "font-variant-numeric:tabular-nums}tfoot td{font-weight:bold;border-top:2px solid #9ca3af}"
    ".tables{display:grid;grid-template-columns:1fr 1fr;gap:24px}"
    "p.ok{color:#15803d}p.bad{color:#b91c1c;font-weight:bold}";

/* Marks the page rendered once the diagram and every bar are there: a test reads it. */
static const char SCRIPT[] =
    "(function(){var b=document.body,s=document.querySelector('svg.flows');"
    "var ok=s&&s.getBoundingClientRect().width>0&&"
    "s.querySelectorAll('path.flow').length===+b.dataset.flows&&"
    "document.querySelectorAll('.quota .bar').length===+b.dataset.bars;"
    "b.dataset.rendered=ok?'ok':'incomplete';})();";

static void html(FILE *f, const report_t *r)
{
    const PGresult *w = r->win;
    int flows = 0;
    for (int i = 0; i < PQntuples(r->pairs); i++)
        flows += mc_db_int(r->pairs, i, P_AMOUNT) != 0 &&
                 strcmp(mc_db_str(r->pairs, i, P_INS), mc_db_str(r->pairs, i, P_TRT)) != 0;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Clearing "
          "window ",
          f);
    esc(f, mc_db_str(w, 0, W_ID));
    fprintf(f, "</title>\n<style>%s</style></head>\n<body data-flows=\"%d\" data-bars=\"%d\">\n",
            CSS, flows, PQntuples(r->pairs));
    fputs("<h1>Clearing window ", f);
    esc(f, mc_db_str(w, 0, W_ID));
    fputs("</h1>\n<table class=\"meta\"><tr><td>period</td><td>", f);
    esc(f, mc_db_str(w, 0, W_START));
    fputs(" .. ", f);
    esc(f, mc_db_str(w, 0, W_END));
    fputs(" UTC</td></tr><tr><td>state</td><td>", f);
    esc(f, mc_db_str(w, 0, W_STATUS));
    if (*mc_db_str(w, 0, W_ISSUED)) {
        fputs(" (statement issued ", f);
        esc(f, mc_db_str(w, 0, W_ISSUED));
        fputs(" UTC)", f);
    }
    fputs("</td></tr><tr><td>statement sha256</td><td>", f);
    esc(f, *mc_db_str(w, 0, W_SHA) ? mc_db_str(w, 0, W_SHA) : "not issued yet");
    if (*mc_db_str(w, 0, W_CONFIRM_DUE)) {
        fputs("</td></tr><tr><td>settlement</td><td>", f);
        esc(f, mc_db_str(w, 0, W_SETTLEMENT));
        fputs("; confirmations due ", f);
        esc(f, mc_db_str(w, 0, W_CONFIRM_DUE));
        fputs(" UTC, transfers due ", f);
        esc(f, mc_db_str(w, 0, W_PAY_DUE));
        fputs(" UTC", f);
    }
    fputs("</td></tr></table>\n", f);
    fputs("<div class=\"grid\"><section><h2>Who owes whom</h2>\n"
          "<p>An arrow runs from the insuring party that owes to the treating party that is "
          "owed, as wide as the amount.</p>\n",
          f);
    html_flows(f, r);
    fputs("</section><section><h2>Quota usage now</h2>\n", f);
    html_quota(f, r);
    fputs("</section></div>\n<div class=\"tables\">\n", f);
    html_tables(f, r);
    fprintf(f, "</div>\n<script>%s</script>\n</body></html>\n", SCRIPT);
}

/* Writes the page to a temporary file beside path and renames it over path. */
static int write_html(const report_t *r, const char *path)
{
    char tmp[PATH_MAX];
    int e = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "medclear: could not write \"%s\": %s\n", path, strerror(ENAMETOOLONG));
        return 1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "medclear: could not write \"%s\": %s\n", path, strerror(errno));
        return 1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        e = errno;
        close(fd);
        goto fail;
    }
    html(f, r);
    if (fflush(f) != 0 || ferror(f) || fchmod(fd, 0644) != 0 || fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (!e)
        return 0;
fail:
    unlink(tmp);
    fprintf(stderr, "medclear: could not write \"%s\": %s\n", path, strerror(e));
    return 1;
}

void tool_report_closed(const mc_config_t *cfg, tool_progress_t *progress)
{
    char err[512], a[32];
    if (!progress->on)
        return;
    PGresult *res = NULL;
    PGconn *db = mc_db_connect(cfg->conninfo, err, sizeof(err));
    if (db)
        res = mc_db_run(db,
                        "SELECT w.window_id, count(c.claim_id), "
                        "coalesce(sum(c.fund_fen + c.tier2_fen), 0), "
                        "coalesce((SELECT window_id FROM clearing.windows WHERE status = 'OPEN'), '') "
                        "FROM clearing.windows w LEFT JOIN clearing.claims c USING (window_id) "
                        "WHERE w.closed_at IS NOT NULL GROUP BY w.window_id "
                        "ORDER BY w.closed_at DESC LIMIT 1",
                        NULL);
    if (res && PQntuples(res) == 1)
        tool_progress_done(progress,
                           "closed window %s: %" PRId64 " claims, fund %s yuan; %s is open",
                           mc_db_str(res, 0, 0), mc_db_int(res, 0, 1),
                           tool_yuan(mc_db_int(res, 0, 2), a), mc_db_str(res, 0, 3));
    else
        tool_progress_done(progress, "window closed");
    PQclear(res);
    PQfinish(db);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: medclear report window W [--html FILE]\n"
                 "  the statement of clearing window W: per party, per pair, quota usage;\n"
                 "  text by default, --html FILE: one self-contained page with diagrams\n");
}

int tool_report(const mc_config_t *cfg, int argc, char **argv)
{
    const char *id = NULL, *html_path = NULL;
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 1 || strcmp(argv[0], "window") != 0) {
        usage(stderr);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--html") == 0) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "medclear: --html needs a file name\n");
                return 2;
            }
            html_path = argv[++i];
        } else if (argv[i][0] == '-' || id) {
            fprintf(stderr, "medclear: report window: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            id = argv[i];
        }
    }
    if (!id) {
        fprintf(stderr, "medclear: report window needs a window id (medclear window list "
                        "shows them)\n");
        return 2;
    }
    if (!window_id_ok(id)) {
        fprintf(stderr, "medclear: \"%s\" is not a window id (like W20261110T101500.000)\n", id);
        return 2;
    }
    report_t r = {.yellow_bp = cfg->quota_yellow_bp, .red_bp = cfg->quota_red_bp};
    int rc = report_load(cfg, id, &r);
    if (rc == 0 && html_path) {
        rc = write_html(&r, html_path);
        if (rc == 0)
            printf("report of window %s written to %s\n", id, html_path);
    } else if (rc == 0) {
        print_text(&r);
    }
    report_free(&r);
    return rc;
}
