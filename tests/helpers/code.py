"""The project's code as data: its modules, what they import, and a hash of what code does (for
tests/test_layout.py and tests/test_stage_versions.py)."""
import ast
import functools
import hashlib
import inspect
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.parent.name for p in REPO.glob("*/__init__.py"))


@functools.lru_cache(maxsize=None)
def modules() -> dict:
    """{dotted module name: path} of every Python file of the project's packages (read-only)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path, known: set) -> set:
    """The project's modules that the import statements of `path` name, wherever they stand."""
    return _imported(ast.parse(Path(path).read_text(encoding="utf-8")), known)


def _imported(tree, known: set) -> set:
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            named.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                         for alias in node.names)
    return named & known


@functools.lru_cache(maxsize=None)
def import_graph() -> dict:
    """{module: the project modules it imports} (read-only)."""
    found = modules()
    return {name: imports(path, set(found)) for name, path in found.items()}


def behaviour(source: str) -> str:
    """What code does, not how it is written up: its syntax tree without docstrings (comments are
    not in it), as text."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def closure(names) -> set:
    """`names` and every project module they import, at any depth, but pipeline/'s: the luigi
    layer imports every settings module and is hashed by what of it a stage uses."""
    graph, seen, todo = import_graph(), set(), list(names)
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += [name for name in graph[current] if not name.startswith("pipeline")]
    return seen


def _digest(parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def module_behaviour(name: str) -> str:
    return behaviour(modules()[name].read_text(encoding="utf-8"))


def modules_logic(names) -> str:
    """sha256 (12 hex) of what the modules `names` do."""
    return _digest(f"{name}\n{module_behaviour(name)}" for name in sorted(names))


def class_uses(cls, stop: tuple) -> tuple:
    """What the code of class `cls` (and of its bases in pipeline/) runs: ({sources of pipeline/
    functions and classes it uses, at any depth}, {other project modules it uses}). Classes that
    are subclasses of `stop` (other stages) are not followed: their versions reach a stage
    through its upstream fingerprints."""
    known = set(modules())
    sources, used, todo, seen = {}, set(), [c for c in cls.__mro__ if c.__module__.startswith("pipeline")], set()
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
        sources[f"{obj.__module__}.{obj.__qualname__}"] = behaviour(inspect.getsource(obj))
        used |= {name for name in _imported(tree, known) if not name.startswith("pipeline")}
        scope = vars(sys.modules[obj.__module__])
        for node in ast.walk(tree):
            target = scope.get(node.id) if isinstance(node, ast.Name) else None
            if inspect.ismodule(target):
                if target.__name__ in known and not target.__name__.startswith("pipeline"):
                    used.add(target.__name__)
            elif (inspect.isfunction(target) or inspect.isclass(target)) and target.__module__ in known:
                if not target.__module__.startswith("pipeline"):
                    used.add(target.__module__)
                elif not (inspect.isclass(target) and issubclass(target, stop) and target not in cls.__mro__):
                    todo.append(target)
    return sources, used


def class_logic(cls, guarded: set, stop: tuple) -> str:
    """sha256 (12 hex) of what the code of class `cls` runs (class_uses), the modules in `guarded`
    (which carry versions of their own) aside."""
    sources, used = class_uses(cls, stop)
    return _digest([*(f"{name}\n{source}" for name, source in sorted(sources.items())),
                    modules_logic(closure(used) - guarded)])
