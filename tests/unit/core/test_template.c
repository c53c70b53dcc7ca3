/* test_template.c - the core template engine (sdra/template.h): variables, escaping, sections,
 * inverted sections, dotted names, comments, standalone lines, and every syntax error (with the
 * file name and line) plus the depth and output limits. The email template file with parts is
 * tested in tests/unit/compose/test_template_file.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdra/template.h"

/* Renders src against the JSON text ctx; returns a heap string or NULL (err filled). */
static char *render(const char *src, const char *ctx_json, int escape, sdra_error *err)
{
    json_error_t je;
    json_t *ctx = json_loads(ctx_json, 0, &je);
    assert_non_null(ctx);
    sdra_tmpl *t = NULL;
    char *out = NULL;
    if (sdra_tmpl_parse(&t, src, strlen(src), "t.tmpl", 1, err) == 0) {
        sdra_buf b;
        sdra_buf_init(&b, 4096);
        if (sdra_tmpl_render(t, ctx, escape, &b, err) == 0)
            out = sdra_buf_detach(&b);
        sdra_buf_release(&b);
    }
    sdra_tmpl_destroy(t);
    json_decref(ctx);
    return out;
}

static void expect(const char *src, const char *ctx, int escape, const char *want)
{
    sdra_error err = {0};
    char *got = render(src, ctx, escape, &err);
    if (!got)
        fail_msg("render failed: %s", err.msg);
    assert_string_equal(got, want);
    free(got);
}

static void expect_error(const char *src, const char *want_msg)
{
    sdra_error err = {0};
    char *got = render(src, "{}", 0, &err);
    if (got)
        fail_msg("expected an error for '%s', got '%s'", src, got);
    assert_int_equal(err.code, SDRA_EINVAL);
    if (!strstr(err.msg, want_msg))
        fail_msg("message '%s' lacks '%s'", err.msg, want_msg);
}

static void template_variables_and_escaping(void **state)
{
    (void)state;
    expect("Hi {{name}}!", "{\"name\":\"Jordan\"}", 1, "Hi Jordan!");
    expect("{{ name }}", "{\"name\":\"Jo\"}", 1, "Jo");
    expect("{{x}}", "{\"x\":\"<a href='q'>&\\\"</a>\"}", 1,
           "&lt;a href=&#39;q&#39;&gt;&amp;&quot;&lt;/a&gt;");
    expect("{{{x}}}|{{&x}}", "{\"x\":\"<b>\"}", 1, "<b>|<b>");
    expect("{{x}}", "{\"x\":\"<b>\"}", 0, "<b>");
    expect("[{{missing}}]", "{}", 1, "[]");
    expect("{{n}} {{r}} {{t}} {{f}} {{z}}", "{\"n\":42,\"r\":2.5,\"t\":true,\"f\":false,\"z\":null}", 1,
           "42 2.5 true  ");
    expect("{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", 1, "deep");
    expect("{{a.x.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", 1, "");
    expect("no tags at all", "{}", 1, "no tags at all");
    expect("", "{}", 1, "");
    expect("a { b } c {x} }}", "{}", 1, "a { b } c {x} }}");
}

static void template_sections(void **state)
{
    (void)state;
    expect("{{#items}}<{{name}}>{{/items}}", "{\"items\":[{\"name\":\"a\"},{\"name\":\"b\"}]}", 1,
           "<a><b>");
    expect("{{#items}}{{.}},{{/items}}", "{\"items\":[\"x\",\"y\",3]}", 1, "x,y,3,");
    expect("{{#t}}yes{{/t}}{{#f}}no{{/f}}", "{\"t\":true,\"f\":false}", 1, "yes");
    expect("{{#e}}no{{/e}}{{^e}}empty{{/e}}", "{\"e\":[]}", 1, "empty");
    expect("{{#s}}[{{.}}]{{/s}}{{#z}}x{{/z}}", "{\"s\":\"str\",\"z\":\"\"}", 1, "[str]");
    expect("{{^missing}}absent{{/missing}}", "{}", 1, "absent");
    expect("{{^t}}x{{/t}}", "{\"t\":true}", 1, "");
    /* objects push context; outer names stay visible */
    expect("{{#p}}{{name}} of {{company}}{{/p}}", "{\"p\":{\"name\":\"Jo\"},\"company\":\"Acme\"}", 1,
           "Jo of Acme");
    expect("{{#a.b}}{{c}}{{/a.b}}", "{\"a\":{\"b\":{\"c\":\"in\"}}}", 1, "in");
    /* nested lists */
    expect("{{#rows}}{{#cols}}{{.}}{{/cols}};{{/rows}}",
           "{\"rows\":[{\"cols\":[1,2]},{\"cols\":[3]}]}", 1, "12;3;");
    /* an inner name shadows an outer one */
    expect("{{#p}}{{n}}{{/p}}{{n}}", "{\"p\":{\"n\":\"in\"},\"n\":\"out\"}", 1, "inout");
}

/* A numeric part of a dotted name indexes a list: "items.0" tests "has any" in a section, and
 * reads the first item; past the end, on an object or a scalar, it is absent. */
static void template_list_index(void **state)
{
    (void)state;
    const char *ctx = "{\"items\":[{\"n\":\"a\"},{\"n\":\"b\"}],\"none\":[],\"o\":{\"0\":\"zero\"},\"s\":\"x\"}";
    expect("{{#items.0}}<ul>{{#items}}<li>{{n}}</li>{{/items}}</ul>{{/items.0}}", ctx, 1,
           "<ul><li>a</li><li>b</li></ul>");
    expect("{{#none.0}}<ul>{{/none.0}}{{^none.0}}empty{{/none.0}}", ctx, 1, "empty");
    expect("{{items.1.n}}|{{items.2.n}}|{{items.01.n}}|{{o.0}}|{{s.0}}", ctx, 1, "b||b|zero|");
    expect("{{items.99999999999999999999999.n}}", ctx, 1, "");
}

static void template_load_names_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sdra-tmpl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *src = "line one\n{{#open}}\n";
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    sdra_tmpl *t = NULL;
    sdra_error err = {0};
    assert_int_equal(sdra_tmpl_load(&t, path, &err), SDRA_EINVAL);
    assert_null(t);
    char want[64];
    snprintf(want, sizeof want, "%s:2: unclosed section 'open'", path);
    assert_non_null(strstr(err.msg, want));
    unlink(path);
    assert_int_equal(sdra_tmpl_load(&t, path, &err), SDRA_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    /* content line: 0 for white space and comments only */
    assert_int_equal(sdra_tmpl_parse(&t, " {{! c }}\n\n", 11, "c", 1, &err), 0);
    assert_int_equal(sdra_tmpl_content_line(t), 0);
    sdra_tmpl_destroy(t);
    assert_int_equal(sdra_tmpl_parse(&t, "\n\n x{{y}}", 9, "c", 1, &err), 0);
    assert_int_equal(sdra_tmpl_content_line(t), 1); /* the text node starts on line 1 */
    sdra_tmpl_destroy(t);
}

static void template_comments_and_standalone_lines(void **state)
{
    (void)state;
    expect("a{{! a comment }}b", "{}", 1, "ab");
    expect("a{{! spans\ntwo lines }}b", "{}", 1, "ab");
    expect("line1\n{{! alone }}\nline2\n", "{}", 1, "line1\nline2\n");
    expect("Items:\n{{#xs}}\n- {{.}}\n{{/xs}}\nend\n", "{\"xs\":[\"a\",\"b\"]}", 0,
           "Items:\n- a\n- b\nend\n");
    expect("  {{#xs}}  \n{{.}}\n  {{/xs}}\nend", "{\"xs\":[1]}", 0, "1\nend");
    expect("{{^xs}}\nnone\n{{/xs}}\n", "{}", 0, "none\n");
    /* a tag sharing its line with text is not standalone */
    expect("x {{#t}}y{{/t}}\n", "{\"t\":true}", 0, "x y\n");
    /* variables never take their line */
    expect("{{v}}\n", "{\"v\":\"\"}", 0, "\n");
    /* CRLF line ends */
    expect("a\r\n{{#t}}\r\nb\r\n{{/t}}\r\n", "{\"t\":true}", 0, "a\r\nb\r\n");
}

static void template_syntax_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("x\n\n{{#list}}\nitem\n", "t.tmpl:3: unclosed section 'list'");
    expect_error("{{#a}}\n{{#b}}\n{{/a}}\n", "t.tmpl:3: mismatched close '{{/a}}': section 'b' opened at line 2");
    expect_error("one\ntwo {{name\nthree }}", "t.tmpl:2: unclosed tag");
    expect_error("{{name", "t.tmpl:1: unclosed tag");
    expect_error("{{{raw}}", "t.tmpl:1: unclosed tag");
    expect_error("a\n{{/x}}", "t.tmpl:2: '{{/x}}' closes a section that was never opened");
    expect_error("{{}}", "t.tmpl:1: invalid tag name");
    expect_error("{{#}}x{{/}}", "invalid tag name");
    expect_error("{{a b}}", "invalid tag name 'a b'");
    expect_error("{{a..b}}", "invalid tag name");
    expect_error("{{.a}}", "invalid tag name");
    expect_error("{{> partial}}", "unsupported tag '{{>'");
    expect_error("{{=<% %>=}}", "unsupported tag '{{='");
    expect_error("{{! never closed", "unclosed tag");
}

static void template_first_line_offset(void **state)
{
    (void)state;
    sdra_error err = {0};
    sdra_tmpl *t = NULL;
    const char *src = "a\n{{#x}}\n";
    assert_int_equal(sdra_tmpl_parse(&t, src, strlen(src), "file.tmpl", 10, &err), SDRA_EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "file.tmpl:11: unclosed section 'x'"));
}

static void template_depth_limit(void **state)
{
    (void)state;
    char src[2048] = "", tail[1024] = "";
    for (int i = 0; i < SDRA_TMPL_MAX_DEPTH; i++) {
        char o[32], c[32];
        snprintf(o, sizeof o, "{{#s%d}}", i);
        snprintf(c, sizeof c, "{{/s%d}}", SDRA_TMPL_MAX_DEPTH - 1 - i);
        strcat(src, o);
        strcat(tail, c);
    }
    char ok[4096];
    snprintf(ok, sizeof ok, "%sdeep%s", src, tail);
    sdra_error err = {0};
    sdra_tmpl *t = NULL;
    assert_int_equal(sdra_tmpl_parse(&t, ok, strlen(ok), "d", 1, &err), 0);
    sdra_tmpl_destroy(t);
    char bad[4096];
    snprintf(bad, sizeof bad, "%s{{#one_more}}x{{/one_more}}%s", src, tail);
    assert_int_equal(sdra_tmpl_parse(&t, bad, strlen(bad), "d", 1, &err), SDRA_EINVAL);
    assert_non_null(strstr(err.msg, "nested deeper than"));
}

static void template_output_limit(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:[s,s,s,s,s,s,s,s]}", "xs", "0123456789", "0123456789",
                            "0123456789", "0123456789", "0123456789", "0123456789", "0123456789",
                            "0123456789");
    sdra_tmpl *t = NULL;
    sdra_error err = {0};
    const char *src = "{{#xs}}{{.}}{{/xs}}";
    assert_int_equal(sdra_tmpl_parse(&t, src, strlen(src), "big.tmpl", 1, &err), 0);
    sdra_buf b;
    sdra_buf_init(&b, 50);
    assert_int_equal(sdra_tmpl_render(t, ctx, 1, &b, &err), SDRA_ELIMIT);
    assert_non_null(strstr(err.msg, "big.tmpl"));
    assert_true(b.len == 0);
    sdra_buf_release(&b);
    sdra_buf_init(&b, 80);
    assert_int_equal(sdra_tmpl_render(t, ctx, 1, &b, &err), 0);
    assert_int_equal(b.len, 80);
    sdra_buf_release(&b);
    sdra_tmpl_destroy(t);
    json_decref(ctx);
    /* source size limit */
    size_t n = SDRA_TMPL_MAX_SRC_BYTES + 1;
    char *huge = malloc(n);
    memset(huge, 'a', n);
    assert_int_equal(sdra_tmpl_parse(&t, huge, n, "huge", 1, &err), SDRA_ELIMIT);
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(template_variables_and_escaping),
        cmocka_unit_test(template_sections),
        cmocka_unit_test(template_list_index),
        cmocka_unit_test(template_load_names_the_file),
        cmocka_unit_test(template_comments_and_standalone_lines),
        cmocka_unit_test(template_syntax_errors_name_file_and_line),
        cmocka_unit_test(template_first_line_offset),
        cmocka_unit_test(template_depth_limit),
        cmocka_unit_test(template_output_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
