"""A sound two-item scale file for tests of the scale loader, checker and ranges (items ``a``
and ``b`` 0–3 summed into a 0–6 total, a yes/no ``flag`` not scored, two bands)."""

TINY_SCALE = """\
code = "tiny"
name = "Tiny scale"
short_name = "TINY-2"
description = "Two items and a yes/no"
respondent = "self"
recall = "today"
licence_note = "test"
total_range = [0, 6]

[total]
parts = ["a", "b"]

[[items]]
code = "a"
label = "A"
kind = "integer"
min = 0
max = 3

[[items]]
code = "b"
label = "B"
kind = "integer"
min = 0
max = 3

[[items]]
code = "flag"
label = "Flag"
kind = "boolean"
scored = false

[[bands]]
min = 0
max = 2
label = "low"

[[bands]]
min = 3
max = 6
label = "high"

[[derived]]
name = "flagged"
rule = "item"
params = { item = "flag" }

[safety]
items = ["2"]
fields = ["flagged"]
"""
