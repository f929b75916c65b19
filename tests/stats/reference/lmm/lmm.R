# Frozen reference numbers for remit.stats.mixed (random-effects LMM, Satterthwaite df).
# Run from this folder:  Rscript lmm.R
# Data: lme4's sleepstudy (complete, 18 subjects x 10 days) and an unbalanced copy with a
# between-subject group and intermittent + monotone missing days (rule below).
suppressMessages({library(lme4); library(lmerTest)})
options(digits = 15)
data("sleepstudy", package = "lme4")
s <- sleepstudy
s$Subject <- as.character(s$Subject)
s$group <- ifelse(as.integer(factor(s$Subject)) %% 2 == 0, "B", "A")
write.csv(s, "sleepstudy.csv", row.names = FALSE)
# unbalanced: drop day 3 for every third subject (intermittent) and days >= 7 for every fourth
# subject (monotone dropout)
idx <- as.integer(factor(s$Subject))
u <- s[!((idx %% 3 == 0 & s$Days == 3) | (idx %% 4 == 0 & s$Days >= 7)), ]
write.csv(u, "sleepstudy_unbalanced.csv", row.names = FALSE)

rows <- list()
add <- function(model, fit) {
  co <- summary(fit)$coefficients
  vc <- as.data.frame(VarCorr(fit))
  for (i in seq_len(nrow(co))) {
    rows[[length(rows) + 1]] <<- data.frame(model = model, kind = "coef", name = rownames(co)[i],
      estimate = co[i, "Estimate"], se = co[i, "Std. Error"], df = co[i, "df"],
      t = co[i, "t value"], p = co[i, "Pr(>|t|)"])
  }
  for (i in seq_len(nrow(vc))) {
    nm <- paste(vc$grp[i], vc$var1[i], ifelse(is.na(vc$var2[i]), "", vc$var2[i]), sep = ":")
    rows[[length(rows) + 1]] <<- data.frame(model = model, kind = "vcov", name = nm,
      estimate = vc$vcov[i], se = NA, df = NA, t = NA, p = NA)
  }
  rows[[length(rows) + 1]] <<- data.frame(model = model, kind = "fit", name = "neg2_loglik",
    estimate = -2 * as.numeric(logLik(fit)), se = NA, df = NA, t = NA, p = NA)
}
# Tight optimiser tolerances so that the references are the optimum to ~1e-8.
ctl <- lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, ftol_rel = 1e-14, maxeval = 1e5))
add("slope_reml", lmer(Reaction ~ Days + (Days | Subject), s, REML = TRUE, control = ctl))
add("slope_ml", lmer(Reaction ~ Days + (Days | Subject), s, REML = FALSE, control = ctl))
add("intercept_reml", lmer(Reaction ~ Days + (1 | Subject), s, REML = TRUE, control = ctl))
fit_u <- lmer(Reaction ~ Days * group + (Days | Subject), u, REML = TRUE, control = ctl)
add("unbalanced_slope_reml", fit_u)
# contrast: the slope in group B (Days + Days:groupB), lmerTest::contest1D, Satterthwaite
ct <- contest1D(fit_u, c(0, 1, 0, 1))
rows[[length(rows) + 1]] <- data.frame(model = "unbalanced_slope_reml", kind = "contrast",
  name = "Days+Days:groupB", estimate = ct$Estimate, se = ct$`Std. Error`, df = ct$df,
  t = ct$`t value`, p = ct$`Pr(>|t|)`)
add("unbalanced_intercept_ml",
    lmer(Reaction ~ Days + group + (1 | Subject), u, REML = FALSE, control = ctl))
out <- do.call(rbind, rows)
write.csv(out, "lmm_reference.csv", row.names = FALSE)
writeLines(c(R.version.string, paste("lme4", packageVersion("lme4")),
             paste("lmerTest", packageVersion("lmerTest"))), "versions.txt")
