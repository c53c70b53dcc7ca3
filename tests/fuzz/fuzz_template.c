/*
 * fuzz_template - the email template engine (src/compose/template.c): a template file (subject,
 * text and html parts) parsed from arbitrary bytes and, when it parses, rendered against a
 * context shaped like the one compose builds, into a bounded buffer.
 */
#include <stdint.h>
#include <string.h>
#include <jansson.h>
#include "compose/internal.h"
#include "sdra/buf.h"

static json_t *context(void)
{
    static json_t *ctx;
    if (!ctx)
        ctx = json_pack("{s:s, s:s, s:b, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s}, s:[]}",
                        "first_name", "Jordan", "company", "Northwind <&> \"co\"", "meeting", 1,
                        "objections", "type", "price", "quote", "too expensive", "type",
                        "timing", "quote", "next quarter", "rep", "name", "Alex", "email",
                        "alex@brightwave.example", "empty");
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdra_error err = {0};
    sdra_tmpl_file tf = {0};
    if (sdra_tmpl_file_parse(&tf, (const char *)data, size, "fuzz.tmpl", &err) == 0) {
        sdra_tmpl *parts[3] = {tf.subject, tf.text, tf.html};
        for (int i = 0; i < 3; i++) {
            if (!parts[i])
                continue;
            sdra_buf out;
            sdra_buf_init(&out, 64 * 1024);
            (void)sdra_tmpl_render(parts[i], context(), i == 2, &out, &err);
            sdra_buf_release(&out);
        }
        sdra_tmpl_file_release(&tf);
    } else if (!err.msg[0] || !strstr(err.msg, "fuzz.tmpl")) {
        __builtin_trap(); /* every syntax error names the file */
    }
    return 0;
}
