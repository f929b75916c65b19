"""Issue 13 part 6: a deeply nested protocol file is one problem (P033), not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit.cli.app import app
from remit.errors import ProtocolError
from remit.protocol import load_protocol, protocol_from_text
from remit.protocol.loader import MAX_NESTING, parse_protocol

DEPTH = 10_000


@pytest.mark.parametrize(
    "value",
    ["[" * DEPTH + "]" * DEPTH, "{a = " * DEPTH + "1" + "}" * DEPTH],
    ids=["arrays", "inline-tables"],
)
def test_remit_protocol_check_names_a_nesting_10000_deep(tmp_path: Path, value: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(f"format_version = 1\nx = {value}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["protocol", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "P033 line 2" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ProtocolError, match="P033"):
        protocol_from_text(path.read_text(encoding="utf-8"))


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count() -> None:
    text = load_protocol("oslo-mdma-mdd").text
    assert parse_protocol(text)[0] is not None  # real protocols pass
    in_strings = text + "\n# [[[[[[[[[[ " + "[" * 100 + "\n"
    in_strings = in_strings.replace("format_version = 1", "format_version = 1\n# " + "{" * 100, 1)
    problems = parse_protocol(in_strings)[1]
    assert "P033" not in {p.code for p in problems}
    at_limit = "x = " + "[" * MAX_NESTING + "]" * MAX_NESTING
    assert "P033" not in {p.code for p in parse_protocol(at_limit)[1]}
    over = "x = " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    assert [p.code for p in parse_protocol(over)[1]] == ["P033"]
    quoted = 'x = "' + "[" * 100 + "\"\ny = '" + "{" * 100 + "'\n"
    assert "P033" not in {p.code for p in parse_protocol(quoted)[1]}
