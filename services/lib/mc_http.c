/*
 * The HTTP endpoint, on GNU libmicrohttpd (Debian's libmicrohttpd12). Three GET routes
 * and nothing else; every other method is refused with 405 and every other path with 404.
 *
 * Why a library rather than a hand-written responder on a socket: the endpoint faces
 * whatever can reach the port (scrapers, probes, port scanners, a stray browser), and
 * what makes HTTP/1.1 hard is there and not in the three routes: requests that arrive in
 * pieces, pipelined or kept-alive requests, clients that open a connection and never send
 * (which would block a naive accept loop and with it /livez), oversized or malformed
 * request lines, HEAD, and a limit on connections. libmicrohttpd handles all of it in
 * its own thread, with timeouts and a connection cap, is small, is a C API without
 * further dependencies, and gets security fixes from the distribution.
 */
#include "mc_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mc_log.h"

struct mc_http {
    struct MHD_Daemon *daemon;
    mc_metrics_t *metrics;
};

/* libmicrohttpd's own error messages go to our log, as one warning line each. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    mc_warn("http: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len, const char *content_type)
{
    /* body is malloc'd; the response frees it once sent */
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
                                  const char *line)
{
    size_t len = strlen(line);
    char *body = malloc(len + 2);
    if (!body)
        abort();
    memcpy(body, line, len);
    body[len] = '\n';
    body[len + 1] = '\0';
    return reply(conn, status, body, len + 1, "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    mc_http_t *h = cls;

    /* The first call only announces the request (headers read); answer on the second. */
    if (*req_cls == NULL) {
        *req_cls = h; /* any non-NULL marker */
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a body we did not ask for: drop it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served");

    char why[256];
    if (strcmp(url, "/metrics") == 0) {
        size_t len;
        char *body = mc_metrics_render(h->metrics, &len);
        return reply(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (strcmp(url, "/livez") == 0) {
        bool ok = mc_metrics_live(h->metrics, why, sizeof(why));
        return reply_text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    if (strcmp(url, "/readyz") == 0) {
        bool ok = mc_metrics_ready(h->metrics, why, sizeof(why));
        return reply_text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /livez or /readyz");
}

mc_http_t *mc_http_start(const char *address, int port, mc_metrics_t *m, char *errstr,
                         size_t errstr_size)
{
    if (port < 1 || port > 65535) {
        snprintf(errstr, errstr_size, "metrics.port %d is not a TCP port", port);
        return NULL;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(address[0] ? address : NULL, service, &hints, &ai);
    if (gai != 0) {
        snprintf(errstr, errstr_size, "metrics.address \"%s\": %s", address, gai_strerror(gai));
        return NULL;
    }

    mc_http_t *h = calloc(1, sizeof(*h));
    if (!h)
        abort();
    h->metrics = m;
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 /* scrapers and probes are few; a slow client is cut off */
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        snprintf(errstr, errstr_size, "could not listen on %s port %d", address, port);
        free(h);
        return NULL;
    }
    return h;
}

void mc_http_stop(mc_http_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
