"""The shape of the house: dependencies run one way (trainers -> ganbench; cli -> the rest), no import
cycles anywhere, function-level imports included. Built from the source with `ast`, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ganbench", "trainers")


def module_names(root: Path, packages=PACKAGES) -> dict[str, Path]:
    mods = {}
    for pkg in packages:
        for path in (root / pkg).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def import_graph(root: Path, packages=PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its body (from-imports of a submodule count
    as an edge to that submodule, else to the module named)."""
    mods = module_names(root, packages)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(filter(None, (known(a.name) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in mods else known(target))
        edges.discard(None)
        edges.discard(mod)
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def is_cli(mod: str) -> bool:
    return mod == "ganbench.cli" or mod.startswith("ganbench.cli.") or mod == "ganbench.__main__"


def test_no_import_cycles():
    assert cycles(import_graph(ROOT)) == []


def test_only_the_cli_imports_trainers():
    graph = import_graph(ROOT)
    bad = {m: sorted(e for e in edges if e.split(".")[0] == "trainers") for m, edges in graph.items()}
    bad = {m: e for m, e in bad.items() if e and m.startswith("ganbench") and not is_cli(m)}
    assert bad == {}
    assert "trainers.cli" in graph["ganbench.cli"]  # the composition root really wires the trainers in


def test_the_base_modules_import_nothing_above_them():
    graph = import_graph(ROOT)
    assert graph["ganbench.atomic"] <= {"ganbench.errors"}  # a refused write is a UserError
    assert graph["ganbench.errors"] == set()
    assert graph["ganbench.inputs.imageset"] <= {"ganbench.errors"}
    for mod, edges in graph.items():  # metrics are pure: no I/O layer, no inputs, no report
        if mod.startswith("ganbench.metrics"):
            assert all(e.startswith("ganbench.metrics") for e in edges), (mod, edges)
    for mod in ("ganbench.check", "ganbench.scoring", "ganbench.results"):  # the pipeline is not the report
        assert not any(e.startswith(("ganbench.report.site", "ganbench.report.pages")) for e in graph[mod])


def test_the_checker_sees_function_level_cycles_and_relative_imports(tmp_path):
    pkg = tmp_path / "ganbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from ganbench.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    (pkg / "c.py").write_text("import ganbench.a\n")
    graph = import_graph(tmp_path, ("ganbench",))
    assert graph["ganbench.a"] == {"ganbench.sub.b"} and graph["ganbench.sub.b"] == {"ganbench.a"}
    assert cycles(graph) == [["ganbench.a", "ganbench.sub.b"]]


def test_every_plain_train_option_is_a_train_setting():
    """`ganbench train` passes its options to TrainSettings by name: a new option is a click decorator and
    a field, nothing else; an option without its field would fail here, not at a user's run."""
    import dataclasses

    from trainers.cli import train_command
    from trainers.settings import TrainSettings

    special = {"arch", "preset", "data", "lr", "aux", "diffaug", "resume", "sets"}
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    options = {p.name.rstrip("_") for p in train_command.params} - special
    assert options and options <= fields, options - fields
