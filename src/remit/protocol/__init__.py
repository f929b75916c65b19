"""The protocol of a trial as a TOML file: model, loading, checks, schedule arithmetic, diff."""
