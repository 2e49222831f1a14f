"""The Colab install: pinned like requirements.txt, torch left alone, a clear message when the release is missing."""

import importlib.util
import re
import sys
import types

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from ftrag.course import colab
from ftrag.paths import repo_root

ROOT = repo_root()
_spec = importlib.util.spec_from_file_location("colab_install", ROOT / "colab" / "install.py")
install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install)
COLAB_STACK = {"numpy", "pandas", "matplotlib"}  # Colab's own; constraints.txt says why they are not pinned


def _requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[name.lower()] = version
    return pins


def _runtime_dependencies() -> set[str]:
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S)[1]
    return {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in re.findall(r'"([^"]+)"', block)}


def test_colab_constraints_pin_what_requirements_pin():
    constraints, requirements = install.pinned(), _requirement_pins()
    differ = {n: (v, requirements.get(n)) for n, v in constraints.items() if requirements.get(n) != v}
    assert not differ, f"colab/constraints.txt and requirements.txt disagree: {differ}"
    wanted = (_runtime_dependencies() & set(requirements)) - COLAB_STACK
    assert set(constraints) == wanted, f"pin in colab/constraints.txt exactly: {sorted(wanted)}"
    assert "torch" not in constraints  # Colab's torch stays


def test_constraints_parser_says_which_line_is_wrong(tmp_path):
    path = tmp_path / "constraints.txt"
    path.write_text("# comment\n\npeft==0.21.2  # why\n")
    assert install.pinned(path) == {"peft": "0.21.2"}
    path.write_text("peft==0.21.2\ntransformers>=5\n")
    with pytest.raises(ValueError, match="line 2: expected NAME==VERSION"):
        install.pinned(path)


def _run_install_cell(system):
    """Execute the install cell as Colab would (IPython's ! lines become get_ipython().system calls)."""
    code = TransformerManager().transform_cell(colab.install_cell())
    fake_ipython = types.SimpleNamespace(system=system)
    saved = sys.modules.get("google.colab")
    sys.modules["google.colab"] = types.ModuleType("google.colab")
    try:
        exec(code, {"get_ipython": lambda: fake_ipython})
    finally:
        if saved is None:
            del sys.modules["google.colab"]
        else:
            sys.modules["google.colab"] = saved


def test_install_cell_says_what_to_do_when_the_release_cannot_be_cloned():
    commands = []
    with pytest.raises(RuntimeError, match="does not exist, or is not public yet.*Before the first release"):
        _run_install_cell(commands.append)  # the clone "fails": nothing appears at /content/<repo>
    # IPython fills {ref}, {repo} and {home} from the cell's variables; the pip step never ran
    assert commands == ["git clone --quiet --depth 1 --branch {ref} https://github.com/{repo} {home}"]


def test_install_cell_does_nothing_outside_colab():
    code = TransformerManager().transform_cell(colab.install_cell())
    exec(code, {"get_ipython": lambda: pytest.fail("no shell command may run outside Colab")})


def test_release_file_is_read_and_written(tmp_path):
    path = tmp_path / "release.toml"
    path.write_text('# where the badges point\nrepo = "a/b"\nref = "v1"\n')
    assert colab.release(path) == ("a/b", "v1")
    colab.save_release("me/course", "v0.2.0", path)
    assert colab.release(path) == ("me/course", "v0.2.0")
    assert path.read_text().startswith("# where the badges point\n")
    path.write_text('repo = "a/b"\n')
    with pytest.raises(ValueError, match="must set ref"):
        colab.release(path)
