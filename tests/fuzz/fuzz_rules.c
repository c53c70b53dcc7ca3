/*
 * fuzz_rules - the analysis rule files (src/analyze/rules.c): arbitrary bytes as a .rules file,
 * as the valence lexicon or as the stop-word list (the first byte chooses), loaded from a
 * directory beside the project's class definitions so that rules may name real classes. A
 * loaded rule set is exercised by matching every rule over a fixed tokenised sentence.
 */
#include <stdint.h>
#include <stdio.h>
#include "analyze/internal.h"
#include "fuzz_util.h"
#include "sdra/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    static const char *names[] = {"fuzz.rules", "sentiment.lex", "stopwords.txt"};
    const char *name = names[data[0] % 3];
    char path[512];
    /* Each kind gets its own subdirectory so a file left by an earlier input never mixes in. */
    char sub[64];
    snprintf(sub, sizeof sub, "k%d", data[0] % 3);
    const char *dir = fuzz_dir();
    if (!dir)
        return 0;
    char subdir[400];
    snprintf(subdir, sizeof subdir, "%s/%s", dir, sub);
    (void)sdra_mkdir_p(subdir, NULL);
    char rel[128];
    snprintf(rel, sizeof rel, "%s/%s", sub, name);
    if (fuzz_write(path, sizeof path, rel, data + 1, size - 1) < 0)
        return 0;
    sdra_error err = {0};
    an_rules r;
    if (an_rules_load(&r, subdir, &err) == 0) {
        an_tok toks[32];
        static const char text[] = "that is more than we hoped to spend, can we talk on thursday? great!";
        int n = an_tokenize(text, toks, 32);
        for (size_t i = 0; i < (size_t)r.n_rules; i++)
            for (int at = 0; at < n; at++) {
                int cap[8];
                (void)an_rule_match_at(&r, &r.rules[i], toks, n, at, cap);
            }
        (void)an_sentiment(&r, text, toks, n);
        an_rules_release(&r);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        __builtin_trap();
    }
    return 0;
}
