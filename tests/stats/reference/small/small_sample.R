# Frozen reference numbers for remit.stats small-sample functions.
# Run from this folder:  Rscript small_sample.R
# Writes small_sample_data.csv (the data read by the tests), small_sample_reference.csv
# (name,value) and versions.txt.
suppressMessages(library(survival))
options(digits = 15)
out <- list()
put <- function(name, value) out[[name]] <<- unname(value)

# --- paired data sets --------------------------------------------------------------------
# A: 12 pairs, one zero difference and two pairs of tied |differences| (the R vs scipy example)
a_before <- c(30, 28, 35, 31, 27, 33, 29, 34, 26, 32, 30, 25)
a_after  <- c(30, 26, 34, 26, 23, 31, 26, 28, 21, 25, 22, 16)
# B: 10 pairs, no ties, no zeros (exact branch)
b_before <- c(24.1, 30.2, 28.7, 35.0, 22.3, 27.9, 31.4, 26.6, 29.8, 33.3)
b_after  <- c(20.0, 27.1, 29.5, 26.2, 21.0, 20.4, 28.1, 27.9, 21.7, 24.4)
# C: 60 pairs (normal branch by size), reproducible from a seed
set.seed(20261127)
c_before <- round(rnorm(60, 30, 5), 1)
c_after  <- round(c_before - 3 + rnorm(60, 0, 4), 1)
data <- rbind(
  data.frame(set = "A", before = a_before, after = a_after),
  data.frame(set = "B", before = b_before, after = b_after),
  data.frame(set = "C", before = c_before, after = c_after)
)
write.csv(data, "small_sample_data.csv", row.names = FALSE)

for (s in c("A", "B", "C")) {
  d <- data[data$set == s, ]
  w <- suppressWarnings(wilcox.test(d$after, d$before, paired = TRUE, conf.int = TRUE))
  put(paste0(s, "_wilcox_V"), w$statistic)
  put(paste0(s, "_wilcox_p_default"), w$p.value)
  put(paste0(s, "_hl_estimate"), w$estimate)
  put(paste0(s, "_hl_ci_low"), w$conf.int[1])
  put(paste0(s, "_hl_ci_high"), w$conf.int[2])
  wn <- suppressWarnings(wilcox.test(d$after, d$before, paired = TRUE, exact = FALSE, correct = FALSE))
  put(paste0(s, "_wilcox_p_normal"), wn$p.value)
  wc <- suppressWarnings(wilcox.test(d$after, d$before, paired = TRUE, exact = FALSE, correct = TRUE))
  put(paste0(s, "_wilcox_p_normal_continuity"), wc$p.value)
  wg <- suppressWarnings(wilcox.test(d$after, d$before, paired = TRUE, alternative = "greater"))
  put(paste0(s, "_wilcox_p_greater"), wg$p.value)
  t <- t.test(d$after, d$before, paired = TRUE)
  put(paste0(s, "_t"), t$statistic)
  put(paste0(s, "_t_df"), t$parameter)
  put(paste0(s, "_t_p"), t$p.value)
  put(paste0(s, "_t_ci_low"), t$conf.int[1])
  put(paste0(s, "_t_ci_high"), t$conf.int[2])
  # d_z with the exact noncentral-t interval
  dd <- d$after - d$before
  n <- length(dd)
  tobs <- mean(dd) / sd(dd) * sqrt(n)
  f <- function(ncp, target) pt(tobs, n - 1, ncp) - target
  lo <- uniroot(f, c(tobs - 20, tobs + 20), target = 0.975, tol = 1e-12)$root
  hi <- uniroot(f, c(tobs - 20, tobs + 20), target = 0.025, tol = 1e-12)$root
  put(paste0(s, "_dz"), mean(dd) / sd(dd))
  put(paste0(s, "_dz_ci_low"), lo / sqrt(n))
  put(paste0(s, "_dz_ci_high"), hi / sqrt(n))
}

# --- proportions -------------------------------------------------------------------------
for (k in c(0, 5, 9, 12)) {
  b <- binom.test(k, 12)
  put(paste0("prop_", k, "_12_clopper_pearson_low"), b$conf.int[1])
  put(paste0("prop_", k, "_12_clopper_pearson_high"), b$conf.int[2])
  w <- prop.test(k, 12, correct = FALSE)
  put(paste0("prop_", k, "_12_wilson_low"), w$conf.int[1])
  put(paste0("prop_", k, "_12_wilson_high"), w$conf.int[2])
}

# --- exact McNemar: table rows = first occasion (no, yes), columns = second ---------------
tab <- matrix(c(3, 2, 9, 4), 2)  # b = 9 (no -> yes), c = 2 (yes -> no)
put("mcnemar_b", tab[1, 2]); put("mcnemar_c", tab[2, 1])
put("mcnemar_p", binom.test(tab[1, 2], tab[1, 2] + tab[2, 1])$p.value)

# --- Kaplan-Meier --------------------------------------------------------------------------
km_time  <- c(3, 5, 5, 8, 10, 12, 12, 12, 15, 18, 20, 24, 24, 30)
km_event <- c(1, 1, 0, 1,  1,  1,  0,  1,  0,  1,  0,  1,  0,  0)
write.csv(data.frame(time = km_time, event = km_event), "km_data.csv", row.names = FALSE)
for (ct in c("log-log", "plain", "log")) {
  fit <- survfit(Surv(km_time, km_event) ~ 1, conf.type = ct)
  tag <- gsub("-", "", ct)
  write.csv(data.frame(time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
                       n_censor = fit$n.censor, survival = fit$surv, std_err = fit$std.err,
                       lower = fit$lower, upper = fit$upper),
            paste0("km_", tag, ".csv"), row.names = FALSE)
}
fit <- survfit(Surv(km_time, km_event) ~ 1, conf.type = "log-log")
put("km_median", summary(fit)$table[["median"]])
put("km_median_lcl", summary(fit)$table[["0.95LCL"]])
put("km_median_ucl", summary(fit)$table[["0.95UCL"]])

# --- multinomial logit (estimates and log-likelihood; SEs are checked in Python) -----------
suppressMessages(library(nnet))
set.seed(7)
n_mn <- 60
mn <- data.frame(id = rep(seq_len(n_mn), each = 3), visit = rep(0:2, n_mn))
mn$arm <- rep(sample(c("a", "b"), n_mn, replace = TRUE), each = 3)
eta1 <- -0.3 + 0.5 * mn$visit
eta2 <- -0.8 + 0.9 * mn$visit + 0.6 * (mn$arm == "b")
pr <- cbind(1, exp(eta1), exp(eta2)) / (1 + exp(eta1) + exp(eta2))
mn$status <- apply(pr, 1, function(p) sample(c("none", "partial", "full"), 1, prob = p))
write.csv(mn, "multinomial_data.csv", row.names = FALSE)
mn$status <- relevel(factor(mn$status), ref = "none")
fit_mn <- multinom(status ~ visit + arm, data = mn, trace = FALSE, reltol = 1e-14, maxit = 1000)
co <- coef(fit_mn)
for (o in rownames(co)) for (term in colnames(co)) put(paste0("mn_", o, "_", term), co[o, term])
put("mn_loglik", as.numeric(logLik(fit_mn)))

res <- data.frame(name = names(out), value = sprintf("%.15g", unlist(out)))
write.csv(res, "small_sample_reference.csv", row.names = FALSE, quote = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival")),
             paste("nnet", packageVersion("nnet"))), "versions.txt")
