/* yyyymmdd dates: validation and conversion to and from text. */
#include "mc_date.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

bool mc_date_valid(int32_t ymd)
{
    int y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    return y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

void mc_date_format(int32_t ymd, char out[11])
{
    unsigned y = (unsigned)(ymd / 10000) % 10000u, m = (unsigned)(ymd / 100) % 100u,
             d = (unsigned)ymd % 100u;
    snprintf(out, 11, "%04u-%02u-%02u", y, m, d);
}

bool mc_date_parse(const char *s, int32_t *out)
{
    char digits[9];
    size_t n = 0;
    size_t len = strlen(s);
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        for (size_t i = 0; i < len; i++)
            if (i != 4 && i != 7)
                digits[n++] = s[i];
    } else if (len == 8) {
        memcpy(digits, s, 8);
        n = 8;
    } else {
        return false;
    }
    int32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)digits[i]))
            return false;
        v = v * 10 + (digits[i] - '0');
    }
    if (!mc_date_valid(v))
        return false;
    *out = v;
    return true;
}
