"""Helpers of the test suite, imported explicitly by the test modules.

Test modules import from here (``from tests.support.trial import build_trial``); the
``conftest.py`` files only define fixtures, which may call these helpers. No test module
imports a ``conftest`` module.

- :mod:`tests.support.trial` — the one trial factory: a migrated database with one user per
  role, the protocol's sites and participants taken to chosen stages through
  :mod:`remit.services`.
- :mod:`tests.support.forms` — valid answers for any scale, MADRS answers, UTC times.
- :mod:`tests.support.db` — row counts per table, cheap password hashing, the PostgreSQL
  server of the database fixtures.
- :mod:`tests.support.analysis_data` — the analysis layer's hand-made ``TrialData`` with known
  numbers (shared by the analysis and report tests).
- :mod:`tests.support.waiting` — waiting for readiness with a generous ceiling and a message
  naming what was awaited (no fixed wall-clock deadlines).
- :mod:`tests.support.web` — logging in through the login page, CSRF tokens, a live server.
"""
