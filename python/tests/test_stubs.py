"""The type stubs describe what the extension really has."""

import ast
import os

import lil
import lil._lil as ext


def stub_names(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            members = set()
            for item in getattr(node, "body", []):
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            names[node.name] = members
    return names


def public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def test_every_public_name_and_member_has_a_stub():
    here = os.path.dirname(lil.__file__)
    for module, stub in ((ext, "_lil.pyi"), (ext.kv, "kv.pyi")):
        stubs = stub_names(os.path.join(here, stub))
        for name in public(module) - {"kv"}:
            assert name in stubs, f"{stub} lacks {name}"
            obj = getattr(module, name)
            if isinstance(obj, type):
                inherited = set().union(*(public(base) for base in obj.__mro__[1:]))
                missing = public(obj) - inherited - stubs[name] - set(getattr(obj, "__members__", {}))
                assert not missing, f"{stub}: {name} lacks {sorted(missing)}"
