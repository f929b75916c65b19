"""Use cases, each one transaction: enrol, schedule, record, alert, sign, lock."""
