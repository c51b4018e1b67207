"""The README's two commands are the contract with a new user and with CI."""

from __future__ import annotations

import re

from conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must open with a bash block"
    assert text.index("```bash") < 40, "the commands must be the README's first lines"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_readme_opens_with_exactly_two_commands_pinning_torch():
    cmds = _readme_commands()
    assert len(cmds) == 2
    for c in cmds:
        assert "pip install" in c and "torch==2.13.0" in c
    assert "examples/run_example.sh" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_example_script_uses_the_bundled_real_edf():
    script = (ROOT / "examples" / "run_example.sh").read_text(encoding="utf-8")
    assert "MB0400FU.EDF" in script and "ieegrecon reconstruct" in script and "ieegrecon calibrate" in script
    assert (ROOT / "examples" / "MB0400FU.EDF").is_file()
