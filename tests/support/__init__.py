"""Helpers of the test suite, imported explicitly by the test modules.

Test modules import from here (``from tests.support.trial import build_trial``); the
``conftest.py`` files only define fixtures, which may call these helpers. No test module
imports a ``conftest`` module.

- :mod:`tests.support.trial` — the one trial factory: a migrated database with one user per
  role, the protocol's sites and participants taken to chosen stages through
  :mod:`remit.services`.
- :mod:`tests.support.presets` — named trials of that factory (the export, web and import
  tests' trials, a second site).
- :mod:`tests.support.store_trial` — a small trial written with :mod:`remit.store` only, for the
  store's own tests.
- :mod:`tests.support.simulated` — a small trial made by :mod:`remit.simulate`.
- :mod:`tests.support.analysis_data` — the analysis layer's hand-made ``TrialData`` with known
  numbers (shared by the analysis and report tests).
- :mod:`tests.support.forms` — valid answers for any scale, MADRS answers, UTC times.
- :mod:`tests.support.db` — row counts per table, the audit trail's agreement with the tables,
  cheap password hashing, migrated SQLite files to copy, the PostgreSQL server of the database
  fixtures.
- :mod:`tests.support.shared` — files built once per test run and shared by the xdist workers.
- :mod:`tests.support.waiting` — waiting for readiness with a generous ceiling and a message
  naming what was awaited (no fixed wall-clock deadlines).
- :mod:`tests.support.web` — logging in through the login page, CSRF tokens, a live server.
- :mod:`tests.support.browser`, :mod:`tests.support.paths` — Debian's Chromium; the folders the
  tests read from and write to.
"""
