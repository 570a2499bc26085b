#include "mc_text.h"

#include <stdlib.h>
#include <string.h>

int mc_format_int(char *out, int64_t v)
{
    char rev[20];
    int n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = rev[--n];
    out[len] = '\0';
    return len;
}

size_t mc_hex(char *out, const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return 2 * len;
}

bool mc_parse_int(const char *s, int64_t *v)
{
    bool minus = *s == '-';
    const char *p = s + minus;
    uint64_t u = 0, limit = minus ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (*p == '\0')
        return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (u > (limit - d) / 10)
            return false;
        u = u * 10 + d;
    }
    *v = minus ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/*
 * Reads one value of array or record text from *p up to (not over) a delimiter in stop,
 * undoing its quoting: "..." (inside it, \x is x and, in records, "" is ")
 * and \x outside quotes. Writes it with a NUL at *out and moves both on. Returns -1 on
 * an unterminated quote or a missing delimiter, 1 when nothing at all was there (no
 * quotes either: an SQL NULL in a record), 0 otherwise.
 */
static int read_value(const char **p, char **out, const char *stop, bool doubled_quotes)
{
    const char *s = *p;
    char *o = *out;
    bool any = false;
    while (*s && !strchr(stop, *s)) {
        any = true;
        if (*s == '"') {
            for (s++;; s++) {
                if (*s == '\0')
                    return -1;
                if (*s == '\\') {
                    if (*++s == '\0')
                        return -1;
                } else if (*s == '"') {
                    if (!doubled_quotes || s[1] != '"')
                        break;
                    s++;
                }
                *o++ = *s;
            }
            s++;
        } else {
            if (*s == '\\' && *++s == '\0')
                return -1;
            *o++ = *s++;
        }
    }
    if (*s == '\0')
        return -1;
    *o++ = '\0';
    *p = s;
    *out = o;
    return any ? 0 : 1;
}

bool mc_composites_parse(mc_composites_t *c, const char *text, int n_fields)
{
    *c = (mc_composites_t){.n_fields = n_fields};
    if (n_fields <= 0)
        return false;
    size_t size = strlen(text) + 1;
    c->text = malloc(size);
    char *record = malloc(size); /* one element's record text, unquoted */
    if (!c->text || !record)
        abort();
    char *out = c->text;
    int cap = 0; /* elements c->field has room for */
    const char *p = text;
    bool ok = *p == '{' && p[1] != '}';
    bool empty = *p == '{' && p[1] == '}';
    while (ok) {
        /* an element, p on the '{' or ',' before it: its record text, then its fields */
        p++;
        char *r = record;
        ok = read_value(&p, &r, ",}", false) == 0 && record[0] == '(';
        if (ok && c->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **more = realloc(c->field, (size_t)cap * (size_t)n_fields * sizeof(*more));
            if (!more)
                abort();
            c->field = more;
        }
        const char *f = record + 1;
        for (int j = 0; ok && j < n_fields; j++) {
            char *value = out;
            int got = read_value(&f, &out, ",)", true);
            ok = got >= 0 && *f++ == (j + 1 < n_fields ? ',' : ')');
            c->field[c->n * n_fields + j] = got == 0 ? value : NULL;
        }
        ok = ok && *f == '\0';
        if (!ok || *p == '}')
            break;
        c->n++;
    }
    if (ok)
        c->n++;
    ok = (ok || empty) && p[empty ? 1 : 0] == '}' && p[empty ? 2 : 1] == '\0';
    free(record);
    if (!ok) {
        mc_composites_free(c);
        *c = (mc_composites_t){.n_fields = n_fields};
    }
    return ok;
}

void mc_composites_free(mc_composites_t *c)
{
    free(c->field);
    free(c->text);
    c->field = NULL;
    c->text = NULL;
    c->n = 0;
}

int mc_compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}
