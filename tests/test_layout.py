"""The code's layout, checked: the luigi-free packages import without Luigi, no module imports
itself through others (function-level imports included), benchmarks never import tests, and the
XLM-R checkpoint layout is spelled in one module."""
import ast
import subprocess
import sys

from tests.helpers import REPO
from tests.helpers.code import PACKAGES, import_graph, modules

LUIGI_FREE = [p for p in PACKAGES if p not in ("pipeline", "bench", "tests")]


def cycles(graph: dict) -> list:
    """Strongly connected components of more than one module, or a module importing itself (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]] and cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere():
    assert cycles(import_graph()) == []


def test_benchmarks_never_import_tests():
    graph = import_graph()
    assert {(m, t) for m, targets in graph.items() if m.startswith("bench") for t in targets
            if t.startswith("tests")} == set()


def test_no_test_module_imports_another():
    """Helpers several test files use live in tests/helpers/: collecting one test file never runs another's code."""
    graph = import_graph()
    assert {(m, t) for m, targets in graph.items() if m.startswith("tests.test_") for t in targets
            if t.startswith("tests.test_")} == set()


def test_the_luigi_free_packages_import_without_luigi():
    """Every module of every package but pipeline/, bench/ and tests/, in one fresh interpreter."""
    names = [name for name in modules() if name.split(".")[0] in LUIGI_FREE and "fairseq_user_dir" not in name]
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'luigi' or m.startswith('luigi.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"common", "corpus", "eval", "training", "vocab"} <= set(LUIGI_FREE) and len(names) > 40
    assert done.stdout.strip() == "[]"


LAYOUT = ("model.pt", "dict.txt", "sentencepiece.bpe.model", "idmap.tsv", "<s>", "<pad>", "</s>", "<unk>", "<mask>",
          "encoder.", "decoder.")
KEY_PARTS = ("encoder.sentence_encoder", "encoder.lm_head", "decoder.sentence_encoder", "decoder.lm_head",
             "embed_tokens", "embed_positions", "layernorm_embedding", "emb_layer_norm")


def test_the_checkpoint_layout_is_spelled_in_common_xlmr_only():
    """File names, special symbols and state-dict keys as code (not prose) appear in one module."""
    spelled = []
    for name, path in modules().items():
        if name.startswith("tests") or name == "common.xlmr":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value in LAYOUT or (" " not in node.value and any(p in node.value for p in KEY_PARTS))):
                spelled.append(f"{name}:{node.lineno} {node.value!r}")
    assert spelled == []
