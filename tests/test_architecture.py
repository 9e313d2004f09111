"""Imports show the flow of data: parsed from every module's source (nothing imported).

* core modules import no stage and no entry point;
* a stage imports only core modules, its own modules, and the public module (the
  package ``__init__`` facade) of an *earlier* stage;
* there is no import cycle between creditsim modules (every import counts: those
  inside functions and under ``TYPE_CHECKING`` too);
* no import sits inside a function, except in the entry points that keep the
  CLI's start-up fast and for the listed heavy or optional packages.

The tables below are the architecture; change them, not the rules, when it moves.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Modules (and packages, with everything in them) that every stage may use.
CORE = ("catalogue", "params", "rng", "config", "errors", "rundir", "cities",
        "arrowstr", "draws", "idnumber", "rundays", "resources", "checkpoint", "paramspace",
        "fsops", "signals", "tomllines", "scenario")

#: The stages in the order data flows through them: each stage's name and the
#: modules or packages it consists of. A stage's public modules are these
#: themselves (a package's ``__init__`` facade); the rest are its internals.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("population", ("population",)),
    ("behaviour", ("behaviour",)),
    ("records", ("records",)),
    ("linkage", ("linkage",)),
    ("policy", ("policy",)),
    ("services", ("services",)),
    ("platform", ("platform",)),  # the loop, appeals and behavioural feedback
    ("audit", ("audit",)),
    ("report", ("report",)),
)

#: Entry points: may import anything ("" is the package root, ``creditsim/__init__``).
ENTRY = ("", "__main__", "pipeline", "stagetypes", "cli", "api", "devtools", "modelset",
         "params_cli", "launch", "scenario_cli", "cities_cli", "sweep")
#: A stage's command-line module (``creditsim.<stage>.cli``) is an entry point too.
ENTRY_LEAF = "cli"

#: Entry points whose imports inside functions keep ``creditsim --help`` and the
#: library import fast (the heavy stages load only when a command runs).
LAZY_ENTRY = ("cli", "api", "params_cli", "scenario_cli", "cities_cli", "sweep")

#: Modules that may be imported inside a function anywhere, with the reason.
LAZY_ALLOWED = {
    "splink": "heavy (~0.25 s and pandas); only the probabilistic linkage needs it",
    "duckdb": "a native engine (~0.06 s); only the linkage joins that run in DuckDB need it",
    "plotly": "optional (the 'report' extra); a missing install is a ReportError, not a crash",
}

#: Imports inside a function of one creditsim module by another, with the reason.
LAZY_PAIRS = {
    ("creditsim", "creditsim.sweep"):
        "creditsim.sweep / open_sweep load on first use, so `import creditsim` stays light",
    ("creditsim.report", "creditsim.report.html"):
        "report.html imports plotly at the top: loaded only once plotly is known to be there",
}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # the module imported (a creditsim module, or a top-level package name)
    file: str  # the importer's path from the repository root
    line: int
    in_function: bool

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name of every module under ``root`` (a package ``__init__`` by its
    package's name) -> its file."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _walk(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, in_function
        inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef
                                          | ast.Lambda)
        yield from _walk(child, inner)


def _base(node: ast.ImportFrom, name: str, is_pkg: bool) -> str:
    """The absolute module a ``from ... import`` statement of module ``name`` names."""
    if not node.level:
        return node.module or ""
    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
    pkg = pkg[: len(pkg) - node.level + 1]
    return ".".join([*pkg, node.module] if node.module else pkg)


def _attributes(tree: ast.Module, name: str, is_pkg: bool, mods: set[str]) -> set[str]:
    """Names a module binds at its top level to something other than a submodule
    (``from pkg import f`` then gets that object even if ``pkg.f`` is a module too)."""
    out = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, name, is_pkg)
            out |= {a.asname or a.name for a in node.names if f"{base}.{a.name}" not in mods}
    return out


def imports(root: Path) -> list[Import]:
    """Every import statement of every module under ``root``, resolved to modules."""
    mods = module_names(root)
    trees = {n: ast.parse(p.read_text(encoding="utf-8"), str(p)) for n, p in mods.items()}
    is_pkg = {n: p.name == "__init__.py" for n, p in mods.items()}
    attrs = {n: _attributes(t, n, is_pkg[n], set(mods)) for n, t in trees.items() if is_pkg[n]}
    out = []
    for name, path in mods.items():
        file = path.relative_to(root.parent.parent).as_posix()
        for node, in_func in _walk(trees[name]):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _base(node, name, is_pkg[name])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods
                           and a.name not in attrs.get(base, ()) else base for a in node.names]
            for t in dict.fromkeys(targets):
                top = t.split(".")[0]
                out.append(Import(name, t if top == root.name else top, file, node.lineno,
                                  in_func))
    return out


class Layers:
    """Where each module sits: core, a stage (by index in the flow) or an entry point."""

    def __init__(self, pkg: str) -> None:
        self.pkg = pkg

    def _under(self, module: str, names: tuple[str, ...]) -> str | None:
        for n in names:
            full = f"{self.pkg}.{n}" if n else self.pkg
            if module == full or (n and module.startswith(full + ".")):
                return full
        return None

    def is_core(self, module: str) -> bool:
        return self._under(module, CORE) is not None

    def is_entry(self, module: str) -> bool:
        return self._under(module, ENTRY) is not None or module.split(".")[-1] == ENTRY_LEAF

    def stage(self, module: str) -> tuple[int, str, str] | None:
        """(position in the flow, stage name, the public module it falls under)."""
        if self.is_entry(module):
            return None
        for i, (name, parts) in enumerate(STAGES):
            public = self._under(module, parts)
            if public is not None:
                return i, name, public
        return None


def layer_violations(imps: list[Import], pkg: str) -> list[str]:
    """Imports against the flow: core importing a stage or entry point; a stage
    importing an entry point, a later stage, or an earlier stage's internals."""
    lay = Layers(pkg)
    out = []
    for imp in imps:
        if not imp.target.startswith(pkg) or lay.is_entry(imp.importer):
            continue
        src, dst = lay.stage(imp.importer), lay.stage(imp.target)
        if lay.is_core(imp.importer):
            if not lay.is_core(imp.target):
                out.append(f"{imp.where()}: core {imp.importer} imports {imp.target} "
                           "(core modules import no stage)")
        elif src is None:
            out.append(f"{imp.where()}: {imp.importer} has no place in the layer table")
        elif lay.is_core(imp.target):
            continue
        elif dst is None:
            out.append(f"{imp.where()}: stage module {imp.importer} imports entry point "
                       f"{imp.target}")
        elif dst[0] > src[0]:
            out.append(f"{imp.where()}: {imp.importer} ({src[1]}) imports {imp.target} of the "
                       f"later stage {dst[1]}")
        elif dst[0] < src[0] and imp.target != dst[2]:
            out.append(f"{imp.where()}: {imp.importer} ({src[1]}) imports {imp.target}, an "
                       f"internal of stage {dst[1]} (use its public module {dst[2]})")
    return out


def _graph(imps: list[Import], pkg: str) -> dict[str, set[str]]:
    """Module -> the creditsim modules its import runs: the target and, across
    packages, the target's enclosing packages (their ``__init__`` runs first). The
    root package is left out: every module is under it."""
    g: dict[str, set[str]] = {}
    for imp in imps:
        if not imp.target.startswith(pkg):
            continue
        deps = g.setdefault(imp.importer, set())
        parts = imp.target.split(".")
        for k in range(2, len(parts) + 1):
            anc = ".".join(parts[:k])
            if k == len(parts) or not (imp.importer + ".").startswith(anc + "."):
                deps.add(anc)
    return g


def cycles(imps: list[Import], pkg: str) -> list[list[str]]:
    """The import cycles: strongly connected sets of more than one module (or a
    module that imports itself), each sorted, found with Tarjan's algorithm."""
    g = _graph(imps, pkg)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g.get(v, ()):
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(g):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(out)


def lazy_violations(imps: list[Import], pkg: str) -> list[str]:
    """Imports inside functions that no entry point or listed reason allows."""
    lay = Layers(pkg)
    out = []
    for imp in imps:
        if not imp.in_function:
            continue
        leaf = imp.importer.split(".")[-1]
        if (lay._under(imp.importer, LAZY_ENTRY) or leaf == ENTRY_LEAF) \
                or imp.target in LAZY_ALLOWED or (imp.importer, imp.target) in LAZY_PAIRS:
            continue
        out.append(f"{imp.where()}: {imp.importer} imports {imp.target} inside a function")
    return out


@pytest.fixture(scope="module")
def src_imports() -> list[Import]:
    return imports(SRC / "creditsim")


def _fail(problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{len(problems)} problem(s):\n" + "\n".join(problems), pytrace=False)


def test_every_module_has_a_place() -> None:
    lay = Layers("creditsim")
    _fail([f"{m}: neither core, a stage nor an entry point (add it to the tables)"
           for m in module_names(SRC / "creditsim")
           if not (lay.is_core(m) or lay.is_entry(m) or lay.stage(m))])


def test_imports_follow_the_flow(src_imports: list[Import]) -> None:
    _fail(layer_violations(src_imports, "creditsim"))


def test_no_import_cycles(src_imports: list[Import]) -> None:
    _fail([" <-> ".join(c) for c in cycles(src_imports, "creditsim")])


def test_no_imports_inside_functions(src_imports: list[Import]) -> None:
    _fail(lazy_violations(src_imports, "creditsim"))


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """A small package with one of each fault: every check reports it, and only it."""
    pkg = tmp_path / "creditsim"
    files = {
        "__init__.py": "",
        "rng.py": "import creditsim.population.synth\n",  # core imports a stage
        # the facade's attribute ``synth`` (a function) hides the submodule of that name
        "population/__init__.py": "from creditsim.population.synth import synth\n",
        "population/synth.py": "def synth():\n    from creditsim.records import a\n",
        "records/__init__.py": "",
        "records/a.py": "from creditsim.population.synth import synth\nimport polars\n",
        "linkage/__init__.py": "",
        "linkage/b.py": "from creditsim.population import synth\nfrom . import c\n",
        "linkage/c.py": "from .b import x\ndef g():\n    import splink\n",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    imps = imports(pkg)
    layers = [p.split(": ", 1)[1] for p in layer_violations(imps, "creditsim")]
    assert layers == [
        "creditsim.population.synth (population) imports creditsim.records.a of the later "
        "stage records",
        "creditsim.records.a (records) imports creditsim.population.synth, an internal of "
        "stage population (use its public module creditsim.population)",
        "core creditsim.rng imports creditsim.population.synth (core modules import no stage)",
    ]
    assert cycles(imps, "creditsim") == [
        ["creditsim.linkage.b", "creditsim.linkage.c"],
        ["creditsim.population", "creditsim.population.synth", "creditsim.records.a"],
    ]
    assert [p.split(": ", 1)[1] for p in lazy_violations(imps, "creditsim")] == [
        "creditsim.population.synth imports creditsim.records.a inside a function"]
