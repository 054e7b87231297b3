"""The project's code as data: its modules, what they import, and a hash of what they do (for
tests/test_layout.py and tests/test_stage_versions.py)."""
import ast
import hashlib
import inspect
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.parent.name for p in REPO.glob("*/__init__.py"))


def modules() -> dict:
    """{dotted module name: path} of every Python file of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path, known: set) -> set:
    """The project's modules that the import statements of `path` name, wherever they stand."""
    named = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            named.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                         for alias in node.names)
    return named & known


def import_graph() -> dict:
    found = modules()
    return {name: imports(path, set(found)) for name, path in found.items()}


def behaviour(source: str) -> str:
    """What code does, not how it is written up: its syntax tree without docstrings (comments are
    not in it), as text."""
    tree = ast.parse(inspect.cleandoc(source) if source.startswith((" ", "\t")) else source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def module_logic(name: str) -> str:
    """sha256 (12 hex) of what module `name` and every project module it imports, at any depth,
    do: a change anywhere in it can change what a stage running it writes."""
    graph, found = import_graph(), modules()
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += sorted(graph[current])
    digest = hashlib.sha256()
    for member in sorted(seen):
        digest.update(f"{member}\n{behaviour(found[member].read_text(encoding='utf-8'))}\n".encode())
    return digest.hexdigest()[:12]


def class_logic(cls) -> str:
    """sha256 (12 hex) of what a class's own code does."""
    return hashlib.sha256(behaviour(inspect.getsource(cls)).encode()).hexdigest()[:12]
