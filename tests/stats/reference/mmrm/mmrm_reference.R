# Frozen reference numbers for remit's MMRM from Debian's R (nlme, lmerTest, pbkrtest, emmeans).
#
# Run from the repository root:
#   Rscript tests/stats/reference/mmrm/mmrm_reference.R
# It writes (next to this script)
#   missing_visits.csv     the simulated data it read (intermittent and monotone missing visits)
#   mmrm_reference.csv     model, quantity, name, value (17 significant digits)
#   versions.txt           R and package versions
#
# Conventions:
# * -2*logLik(gls) is on SAS PROC MIXED's scale (REML: (N - p) log(2 pi) + log|V| +
#   log|X'V^-1X| + r'V^-1r), so it is compared directly.
# * gls fitted by ML reports standard errors rescaled by sqrt(N / (N - p)); the test compares
#   ML estimates, Sigma and -2LL only.
# * Standard errors from gls are model-based (asymptotic), i.e. sqrt(diag((X'V^-1X)^-1)).
# * lmer random-intercept model = compound symmetry with a non-negative covariance; lmerTest
#   gives Satterthwaite df, pbkrtest the Kenward-Roger adjusted covariance.

suppressPackageStartupMessages({
  library(nlme)
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(emmeans)
})

here <- "tests/stats/reference/mmrm"

# ---------------------------------------------------------------- simulated data
set.seed(20261127)
n <- 90
visits <- paste0("V", 1:4)
sigma <- matrix(c(
  16, 10, 8, 7,
  10, 20, 13, 11,
  8, 13, 25, 17,
  7, 11, 17, 30
), 4, 4)
arm <- rep(c("CTRL", "TRT"), length.out = n)
base <- round(rnorm(n, 30, 5), 1)
effect <- c(0, -1, -2, -3)
rows <- list()
chol_s <- chol(sigma)
for (i in seq_len(n)) {
  e <- as.vector(rnorm(4) %*% chol_s)
  mu <- 2 - 0.2 * (base[i] - 30) - (1:4) * 1.5 + (arm[i] == "TRT") * effect
  y <- round(mu + e, 3)
  keep <- rep(TRUE, 4)
  u <- runif(1)
  if (u < 0.25) {
    # monotone dropout after visit 1, 2 or 3
    last <- sample(1:3, 1)
    keep[(last + 1):4] <- FALSE
  } else if (u < 0.45) {
    # intermittent: one inner visit missed
    keep[sample(2:3, 1)] <- FALSE
  }
  for (v in 1:4) {
    rows[[length(rows) + 1]] <- data.frame(
      id = sprintf("S%03d", i), visit = visits[v], vnum = v, arm = arm[i], base = base[i],
      y = if (keep[v]) y[v] else NA_real_
    )
  }
}
dat <- do.call(rbind, rows)
# analysis weights (SAS WEIGHT semantics: Var(y_ij) = Sigma_jj / w_ij)
set.seed(7)
dat$w <- round(runif(nrow(dat), 0.5, 2), 3)
dat$invw <- 1 / dat$w
# unequally spaced visit times (weeks) for the spatial exponential structure
dat$week <- c(1, 2, 4, 8)[dat$vnum]
# actual study days vary around the planned week: subject-specific positions
set.seed(11)
dat$day <- round(7 * dat$week + rnorm(nrow(dat), 0, 2), 1)
write.csv(dat, file.path(here, "missing_visits.csv"), row.names = FALSE, na = "")

d <- dat[!is.na(dat$y), ]
d$visit <- factor(d$visit)
d$arm <- factor(d$arm)
d$id <- factor(d$id)

out <- data.frame(model = character(), quantity = character(), name = character(),
                  value = numeric(), stringsAsFactors = FALSE)
put <- function(model, quantity, name, value) {
  out[nrow(out) + seq_along(value), ] <<- data.frame(
    model = model, quantity = quantity, name = name, value = as.numeric(value),
    stringsAsFactors = FALSE
  )
}

form <- y ~ base + arm * visit

sigma_of <- function(fit) {
  # marginal covariance over visits V1..V4 from a subject with all visits; for the weighted
  # fit getVarCov gives W^-1/2 Sigma W^-1/2 of that subject, so the weights are undone
  full_id <- names(which(table(d$id) == 4))[1]
  v <- getVarCov(fit, individual = full_id)
  sw <- sqrt(d$w[d$id == full_id])
  diag(sw) %*% v %*% diag(sw)
}

record_gls <- function(label, fit, reml = TRUE, weighted = FALSE) {
  ll <- as.numeric(logLik(fit))
  put(label, "neg2_loglik", "", -2 * ll)
  cf <- summary(fit)$tTable
  put(label, "estimate", rownames(cf), cf[, "Value"])
  put(label, "se", rownames(cf), cf[, "Std.Error"])
  s <- if (weighted) sigma_of(fit) else getVarCov(fit, individual = names(which(table(d$id) == 4))[1])
  for (a in 1:4) for (b in a:4) put(label, "sigma", sprintf("%d,%d", a, b), s[a, b])
  if (reml) {
    em <- emmeans(fit, ~ arm | visit, mode = "df.error")
    es <- summary(em)
    put(label, "lsmean", paste(es$visit, es$arm), es$emmean)
    put(label, "lsmean_se", paste(es$visit, es$arm), es$SE)
  }
}

ctl <- glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-12)

us <- gls(form, data = d, correlation = corSymm(form = ~ vnum | id),
          weights = varIdent(form = ~ 1 | visit), method = "REML", control = ctl)
record_gls("us_reml", us)

us_ml <- gls(form, data = d, correlation = corSymm(form = ~ vnum | id),
             weights = varIdent(form = ~ 1 | visit), method = "ML", control = ctl)
record_gls("us_ml", us_ml, reml = FALSE)

us_w <- gls(form, data = d, correlation = corSymm(form = ~ vnum | id),
            weights = varComb(varIdent(form = ~ 1 | visit), varFixed(~ invw)),
            method = "REML", control = ctl)
record_gls("us_weighted_reml", us_w, reml = FALSE, weighted = TRUE)

ar1 <- gls(form, data = d, correlation = corAR1(form = ~ vnum | id), method = "REML",
           control = ctl)
record_gls("ar1_reml", ar1)

ar1h <- gls(form, data = d, correlation = corAR1(form = ~ vnum | id),
            weights = varIdent(form = ~ 1 | visit), method = "REML", control = ctl)
record_gls("ar1h_reml", ar1h)

sp <- gls(form, data = d, correlation = corExp(form = ~ week | id), method = "REML",
          control = ctl)
record_gls("sp_exp_reml", sp)
put("sp_exp_reml", "range", "", coef(sp$modelStruct$corStruct, unconstrained = FALSE))

sp_day <- gls(form, data = d, correlation = corExp(form = ~ day | id), method = "REML",
              control = ctl)
record_gls("sp_exp_day_reml", sp_day, reml = FALSE)
put("sp_exp_day_reml", "range", "", coef(sp_day$modelStruct$corStruct, unconstrained = FALSE))

cs <- gls(form, data = d, correlation = corCompSymm(form = ~ vnum | id), method = "REML",
          control = ctl)
record_gls("cs_reml", cs)

csh <- gls(form, data = d, correlation = corCompSymm(form = ~ vnum | id),
           weights = varIdent(form = ~ 1 | visit), method = "REML", control = ctl)
record_gls("csh_reml", csh)

# random intercept = compound symmetry with non-negative covariance
lmm <- lmer(y ~ base + arm * visit + (1 | id), data = d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa",
                                  optCtrl = list(rhobeg = 0.2, rhoend = 1e-10)))
ct <- summary(lmm, ddf = "Satterthwaite")$coefficients
put("cs_lmer", "estimate", rownames(ct), ct[, "Estimate"])
put("cs_lmer", "se", rownames(ct), ct[, "Std. Error"])
put("cs_lmer", "df_satterthwaite", rownames(ct), ct[, "df"])
kr_cov <- as.matrix(vcovAdj(lmm))
put("cs_lmer", "se_kr", rownames(ct), sqrt(diag(kr_cov)))
ctk <- summary(lmm, ddf = "Kenward-Roger")$coefficients
put("cs_lmer", "df_kr", rownames(ctk), ctk[, "df"])
put("cs_lmer", "neg2_loglik_reml", "", -2 * as.numeric(logLik(lmm)))
# multi-row F test of the arm:visit interaction (3 rows): lmerTest Satterthwaite and
# pbkrtest Kenward-Roger (the reduced model drops the interaction columns)
av <- anova(lmm, ddf = "Satterthwaite", type = 3)
put("cs_lmer", "f_satterthwaite", c("F", "num_df", "den_df"),
    c(av["arm:visit", "F value"], av["arm:visit", "NumDF"], av["arm:visit", "DenDF"]))
small <- update(lmm, . ~ . - arm:visit)
kr <- KRmodcomp(lmm, small)$test
put("cs_lmer", "f_kenward_roger", c("F", "num_df", "den_df", "scale"),
    c(kr["Ftest", "stat"], kr["Ftest", "ndf"], kr["Ftest", "ddf"], kr["Ftest", "F.scaling"]))

out$value <- format(out$value, digits = 17)
write.csv(out, file.path(here, "mmrm_reference.csv"), row.names = FALSE, quote = TRUE)

versions <- c(
  R.version.string,
  paste("nlme", packageVersion("nlme")),
  paste("lme4", packageVersion("lme4")),
  paste("lmerTest", packageVersion("lmerTest")),
  paste("pbkrtest", packageVersion("pbkrtest")),
  paste("emmeans", packageVersion("emmeans")),
  paste("generated", format(Sys.time(), tz = "UTC", usetz = TRUE))
)
writeLines(versions, file.path(here, "versions.txt"))
