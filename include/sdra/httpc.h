/*
 * sdra/httpc.h - one HTTP client for every remote service sdra talks to (model servers today;
 * CRM and mail APIs later), over libcurl.
 *
 * It does one request with a bounded number of attempts and gives back the status, the body
 * (bounded) and what the server said about retrying. It owns the parts every caller would
 * otherwise repeat: http/https only (no file://, no other curl protocol, redirects not
 * followed), a deadline per attempt and a connect deadline, a hard cap on the response size,
 * retries with exponential backoff and jitter on transient failures (connection errors,
 * timeouts, 408, 429, 500, 502, 503, 504) honouring Retry-After (seconds or an HTTP date,
 * capped at max_backoff_ms), and error messages that never carry the bearer token or the
 * userinfo of the URL.
 *
 *     sdra_httpc_request q = sdra_httpc_default_request();
 *     q.url = "http://127.0.0.1:8000/v1/chat/completions";
 *     q.bearer = getenv("SDRA_LLM_API_KEY");          // may be NULL
 *     q.content_type = "application/json";
 *     q.body = json; q.body_len = strlen(json);
 *     sdra_httpc_response r = {0};
 *     if (sdra_httpc_do(&r, &q, &err) < 0) { ... err.msg: "http://127.0.0.1:8000/v1/chat/
 *         completions: HTTP 503 after 3 attempts: model is loading" ... }
 *     use(r.body, r.body_len);
 *     sdra_httpc_response_release(&r);
 *
 * Thread safety: sdra_httpc_do may be called from many threads at once (each call uses its own
 * curl easy handle); sdra_httpc_global_init() must have run once before threads start (the
 * first sdra_httpc_do calls it if nobody did, which is safe while single-threaded).
 */
#ifndef SDRA_HTTPC_H
#define SDRA_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include "sdra/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One part of a multipart/form-data body. A file part has filename set (and usually
 * content_type); a plain field has neither. value is not copied and need not be NUL-terminated. */
typedef struct sdra_httpc_part {
    const char *name;
    const void *value;
    size_t value_len;
    const char *filename;     /* NULL for a plain field */
    const char *content_type; /* NULL = curl's default */
} sdra_httpc_part;

#define SDRA_HTTPC_MAX_HEADERS 8

typedef struct sdra_httpc_request {
    const char *method;        /* "GET", "POST" (default), "PUT", "PATCH", "DELETE" */
    const char *url;           /* http:// or https:// only; anything else is SDRA_EINVAL */
    const char *bearer;        /* sent as "Authorization: Bearer ..."; NULL = none; never logged */
    const char *headers[SDRA_HTTPC_MAX_HEADERS]; /* extra "Name: value" lines; NULL-terminated */
    const char *content_type;  /* of body */
    const void *body;          /* request body (not copied), or NULL */
    size_t body_len;
    const sdra_httpc_part *parts; /* multipart/form-data instead of body when n_parts > 0 */
    size_t n_parts;
    long timeout_ms;           /* whole attempt; default 60000 */
    long connect_timeout_ms;   /* default 5000 */
    size_t max_response_bytes; /* default 8 MiB; a larger body fails with SDRA_ELIMIT */
    int max_attempts;          /* default 3; 1 = no retry */
    long backoff_ms;           /* first backoff; doubled each retry with jitter; default 250 */
    long max_backoff_ms;       /* cap for backoff and Retry-After; default 10000 */
    const volatile int *cancel; /* when non-NULL and *cancel != 0, stop (SDRA_ECANCELED) */
    const char *capture_header; /* a response header whose value is returned in captured */
    const char *resolve;       /* "host:port:address" (CURLOPT_RESOLVE): connect to address, no
                                * DNS lookup; how a caller pins the address it checked (SSRF) */
} sdra_httpc_request;

sdra_httpc_request sdra_httpc_default_request(void);

typedef struct sdra_httpc_response {
    long status;             /* last HTTP status, 0 when no response came */
    char *body;              /* NUL-terminated (not counted in body_len); caller releases */
    size_t body_len;
    char content_type[128];  /* "" when absent */
    double retry_after_s;    /* the last Retry-After, or -1 when none */
    int attempts;            /* how many attempts were made */
    char captured[256];      /* the value of the request's capture_header, "" when absent */
} sdra_httpc_response;

/*
 * Does the request. Returns 0 when the last attempt got a 2xx. Otherwise a negative code, with
 * *out still filled with the last status and body (so callers can read an error document):
 *   SDRA_EINVAL      bad URL, scheme not http/https, bad request struct;
 *   SDRA_EDENIED     401 or 403;
 *   SDRA_ENOTFOUND   404;
 *   SDRA_EUPSTREAM   any other non-2xx after the attempts, connection refused, DNS or TLS
 *                    failure (the message says which: "TLS: certificate verify failed");
 *   SDRA_ETIMEOUT    the deadline passed on the last attempt;
 *   SDRA_ELIMIT      the response was larger than max_response_bytes;
 *   SDRA_ECANCELED   *cancel was set.
 * The message is one line: "<url without userinfo>: <what happened>", and when the body is an
 * OpenAI-style error document ({"error":{"message":...}}) it ends with that message.
 */
int sdra_httpc_do(sdra_httpc_response *out, const sdra_httpc_request *req, sdra_error *err);

/* Frees out->body and zeroes *out. NULL is fine. */
void sdra_httpc_response_release(sdra_httpc_response *out);

/* curl_global_init, once per process; safe to call more than once. */
int sdra_httpc_global_init(sdra_error *err);

/* Copies url into out (size n) without its userinfo ("http://u:p@h/x" -> "http://h/x"), for
 * messages and logs. */
void sdra_httpc_redact_url(const char *url, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
