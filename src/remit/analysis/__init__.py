"""Analysis datasets, endpoint derivation and the protocol's analysis plan, run with ``stats``."""
