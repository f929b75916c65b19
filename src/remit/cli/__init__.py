"""The ``remit`` command line: a thin skin over the library."""
