/*
 * test_private_file.c - the temporary files the decoder reads its dictionary and vocabulary
 * from (they hold the call sheet's names) are never on disk under a name: TMPDIR stays empty
 * while the file is readable through the path given, and the path reads nothing once done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr/asr_test_util.h"
#include "asr/internal.h"

static int entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void private_file_has_no_name(void **state)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/asr_private.XXXXXX", asr_test_tmp());
    assert_non_null(mkdtemp(dir));
    setenv("TMPDIR", dir, 1);

    char path[4096];
    int keep = -2;
    FILE *f = sdra_asr_private_file(path, sizeof path, "sdra-dict", &keep);
    assert_non_null(f);
    assert_true(keep >= 0); /* /proc is mounted where the tests run */
    assert_int_equal(strncmp(path, "/proc/self/fd/", 14), 0);
    fputs("jordan JH AO R D AH N\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(entries(dir), 0); /* nothing named, even before it is read */

    FILE *in = fopen(path, "r"); /* as sphinxbase opens it */
    assert_non_null(in);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, in));
    assert_string_equal(line, "jordan JH AO R D AH N\n");
    fclose(in);

    sdra_asr_private_file_done(path, keep);
    assert_null(fopen(path, "r")); /* gone with its descriptor */
    assert_int_equal(entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
    unsetenv("TMPDIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(private_file_has_no_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
