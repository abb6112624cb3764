"""The README's Python example runs as written (on a folder of stems the test writes)."""

import re
from pathlib import Path

from tests.conftest import write_stems

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs(tmp_path, capsys):
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None, "the README has no Python example"
    write_stems(tmp_path / "stems", 3, seconds=2.0)
    code = block.group(1).replace('"path/to/stems"', repr(str(tmp_path / "stems")))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the docs under test
    assert tuple(namespace["result"].mix.shape) == (1, 2, 32000)
    assert '"stem02.wav"' in capsys.readouterr().out
