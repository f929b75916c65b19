# Reference numbers for the hand-made trial of tests/support/analysis_data.py, computed with R.
# Run from this folder:  Rscript fixture_reference.R > fixture_reference.json
# Reads fixture_totals.csv (MADRS and SDS totals at V3, V13, FU7; P10 has no FU7, P11 no V13).
suppressPackageStartupMessages({
  library(nlme)
  library(emmeans)
})
d <- read.csv("fixture_totals.csv", stringsAsFactors = FALSE)
d$visit <- factor(d$visit, levels = c("V3", "V13", "FU7"))
num <- function(x) formatC(x, digits = 15, format = "g")
out <- list()
add <- function(key, value) out[[key]] <<- value

for (scale in c("madrs", "sds")) {
  s <- d[d$scale == scale, ]
  wide <- reshape(s[, c("participant_id", "visit", "value")], idvar = "participant_id",
                  timevar = "visit", direction = "wide")
  for (v in c("V13", "FU7")) {
    ok <- !is.na(wide[[paste0("value.", v)]]) & !is.na(wide$value.V3)
    after <- wide[[paste0("value.", v)]][ok]
    before <- wide$value.V3[ok]
    w <- suppressWarnings(wilcox.test(after, before, paired = TRUE, exact = FALSE,
                                      correct = FALSE))
    add(paste0(scale, "/", v, "/wilcoxon_V"), unname(w$statistic))
    add(paste0(scale, "/", v, "/wilcoxon_p_normal"), w$p.value)
  }
  # MMRM: unstructured covariance over visits, REML; LS-mean differences vs V3, unadjusted.
  # emmeans has only an approximate (numerical) Satterthwaite df for gls: compare df loosely.
  s$id <- factor(s$participant_id)
  fit <- gls(value ~ visit, data = s, method = "REML",
             correlation = corSymm(form = ~ as.integer(visit) | id),
             weights = varIdent(form = ~ 1 | visit))
  add(paste0(scale, "/mmrm/neg2_reml_loglik"), -2 * as.numeric(logLik(fit)))
  em <- emmeans(fit, ~ visit, mode = "satterthwaite")
  ct <- summary(contrast(em, method = "trt.vs.ctrl", ref = 1, adjust = "none"), infer = TRUE)
  for (i in seq_len(nrow(ct))) {
    v <- c("V13", "FU7")[i]
    add(paste0(scale, "/mmrm/", v, "/estimate"), ct$estimate[i])
    add(paste0(scale, "/mmrm/", v, "/se"), ct$SE[i])
    add(paste0(scale, "/mmrm/", v, "/df"), ct$df[i])
    add(paste0(scale, "/mmrm/", v, "/p"), ct$p.value[i])
  }
}
# responders at V13: 8 of 11; Clopper-Pearson (binom.test) and Wilson (prop.test, no correction)
add("prop/8of11/cp_low", binom.test(8, 11)$conf.int[1])
add("prop/8of11/cp_high", binom.test(8, 11)$conf.int[2])
add("prop/8of11/wilson_low", prop.test(8, 11, correct = FALSE)$conf.int[1])
add("prop/8of11/wilson_high", prop.test(8, 11, correct = FALSE)$conf.int[2])
# remission V13 -> FU7: discordant pairs b = 0 (no -> yes), c = 2 (yes -> no): exact McNemar
add("mcnemar/remission/p", binom.test(0, 2)$p.value)
cat("{\n")
cat(sprintf('  "_R": "%s", "_nlme": "%s", "_emmeans": "%s",\n', R.version.string,
            packageVersion("nlme"), packageVersion("emmeans")))
keys <- names(out)
for (i in seq_along(keys)) {
  cat(sprintf('  "%s": %s%s\n', keys[i], num(out[[keys[i]]]), if (i < length(keys)) "," else ""))
}
cat("}\n")
