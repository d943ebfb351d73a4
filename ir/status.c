/* hg_status constructors. */
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

hg_status hg_ok(void) {
    hg_status s;
    s.code = HG_OK;
    s.msg[0] = 0;
    return s;
}

hg_status hg_verror(hg_code code, const char *fmt, va_list ap) {
    hg_status s;
    s.code = code;
    vsnprintf(s.msg, sizeof s.msg, fmt, ap);
    return s;
}

hg_status hg_error(hg_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hg_status s = hg_verror(code, fmt, ap);
    va_end(ap);
    return s;
}

hg_status hg_status_prefix(hg_status s, const char *fmt, ...) {
    if (s.code == HG_OK) return s;
    char pre[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    char msg[sizeof s.msg + sizeof pre + 2];
    snprintf(msg, sizeof msg, "%s: %s", pre, s.msg);
    memcpy(s.msg, msg, sizeof s.msg - 1);
    s.msg[sizeof s.msg - 1] = 0;
    return s;
}
