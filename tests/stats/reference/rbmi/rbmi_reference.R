# Conditional mean imputation + jackknife on rbmi's antidepressant data, for
# tests/stats/test_rbmi.py. Not run on the machine that wrote remit.stats.rbmi (no R there).
# Usage: Rscript rbmi_reference.R > rbmi_reference.csv
suppressPackageStartupMessages({
  library(rbmi)
  library(dplyr)
})
data("antidepressant_data")
dat <- expand_locf(
  antidepressant_data,
  PATIENT = levels(antidepressant_data$PATIENT),
  VISIT = levels(antidepressant_data$VISIT),
  vars = c("BASVAL", "THERAPY"),
  group = c("PATIENT"),
  order = c("PATIENT", "VISIT")
)
# the intercurrent event is the first missing visit; patient 3618 only has a gap (MAR)
first_missing <- dat %>%
  arrange(PATIENT, VISIT) %>%
  filter(is.na(CHANGE)) %>%
  group_by(PATIENT) %>%
  slice(1) %>%
  ungroup() %>%
  select(PATIENT, VISIT) %>%
  filter(PATIENT != "3618")
vars <- set_vars(
  outcome = "CHANGE", visit = "VISIT", subjid = "PATIENT", group = "THERAPY",
  covariates = c("BASVAL*VISIT", "THERAPY*VISIT")
)
vars_an <- set_vars(
  group = "THERAPY", visit = "VISIT", outcome = "CHANGE", covariates = "BASVAL"
)
out <- list()
for (strategy in c("MAR", "JR", "CR", "CIR")) {
  ice <- mutate(first_missing, strategy = strategy)
  draws_obj <- draws(dat, ice, vars, method_condmean(type = "jackknife"), quiet = TRUE)
  imputed <- impute(draws_obj, references = c(DRUG = "PLACEBO", PLACEBO = "PLACEBO"))
  pooled <- as.data.frame(pool(analyse(imputed, ancova, vars = vars_an)))
  pooled <- pooled[grepl("^trt_", pooled$parameter), ]
  pooled$strategy <- strategy
  out[[strategy]] <- pooled
}
write.csv(do.call(rbind, out), stdout(), row.names = FALSE)
cat(sprintf("# %s; rbmi %s; mmrm %s\n", R.version.string,
            packageVersion("rbmi"), packageVersion("mmrm")))
