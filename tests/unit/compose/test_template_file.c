/* test_template_file.c - the email template file (src/compose/template_file.c): parts split by
 * marker lines, line numbers of the file in errors, and the shipped styles parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"

static void template_file_parts(void **state)
{
    (void)state;
    const char *src = "{{! leading comment\n    over two lines }}\n\n--- subject ---\nHello {{n}}\n"
                      "--- text ---\nDear {{n}},\n--- html ---\n<p>{{n}}</p>\n";
    sdra_tmpl_file tf;
    sdra_error err = {0};
    assert_int_equal(sdra_tmpl_file_parse(&tf, src, strlen(src), "s.tmpl", &err), 0);
    assert_non_null(tf.subject);
    assert_non_null(tf.text);
    assert_non_null(tf.html);
    json_t *ctx = json_pack("{s:s}", "n", "A&B");
    sdra_buf b;
    sdra_buf_init(&b, 1024);
    assert_int_equal(sdra_tmpl_render(tf.subject, ctx, 0, &b, &err), 0);
    assert_string_equal(b.data, "Hello A&B");
    sdra_buf_reset(&b);
    assert_int_equal(sdra_tmpl_render(tf.text, ctx, 0, &b, &err), 0);
    assert_string_equal(b.data, "Dear A&B,\n");
    sdra_buf_reset(&b);
    assert_int_equal(sdra_tmpl_render(tf.html, ctx, 1, &b, &err), 0);
    assert_string_equal(b.data, "<p>A&amp;B</p>\n");
    sdra_buf_release(&b);
    json_decref(ctx);
    sdra_tmpl_file_release(&tf);

    /* html is optional */
    const char *nohtml = "--- subject ---\nS\n--- text ---\nT\n";
    assert_int_equal(sdra_tmpl_file_parse(&tf, nohtml, strlen(nohtml), "n.tmpl", &err), 0);
    assert_null(tf.html);
    sdra_tmpl_file_release(&tf);

    /* errors: line numbers are those of the file */
    const char *bad = "--- subject ---\nS\n--- text ---\nline\n{{#open}}\n";
    assert_int_equal(sdra_tmpl_file_parse(&tf, bad, strlen(bad), "b.tmpl", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "b.tmpl:5: unclosed section 'open'"));
    const char *notext = "--- subject ---\nS\n";
    assert_int_equal(sdra_tmpl_file_parse(&tf, notext, strlen(notext), "x.tmpl", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "'--- text ---'"));
    const char *before = "stray\n--- subject ---\nS\n--- text ---\nT\n";
    assert_int_equal(sdra_tmpl_file_parse(&tf, before, strlen(before), "y.tmpl", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "y.tmpl:1: text before the first"));
    const char *twice = "--- subject ---\nS\n--- text ---\nT\n--- text ---\nU\n";
    assert_int_equal(sdra_tmpl_file_parse(&tf, twice, strlen(twice), "z.tmpl", &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "z.tmpl:5: second"));
    assert_int_equal(sdra_tmpl_file_load(&tf, "/nonexistent/t.tmpl", &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/t.tmpl"));
}

static void template_shipped_styles_parse(void **state)
{
    (void)state;
    const char *dir = getenv("SDRA_SHARE_DIR");
    const char *styles[] = {"formal", "friendly", "concise", "consultative"};
    for (int i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/templates/%s.tmpl", dir ? dir : SDRA_SOURCE_DATA_DIR,
                 styles[i]);
        sdra_tmpl_file tf;
        sdra_error err = {0};
        if (sdra_tmpl_file_load(&tf, path, &err) < 0)
            fail_msg("%s", err.msg);
        assert_non_null(tf.html);
        sdra_tmpl_file_release(&tf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(template_file_parts),
        cmocka_unit_test(template_shipped_styles_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
