"""Pure safety rules (C-SSRS triage, MADRS item 10, vital signs, SAE clocks) returning alerts."""
