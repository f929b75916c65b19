"""Rating scales as data (``definitions/*.toml``) and one generic scoring engine."""
