#!/usr/bin/env python3
"""Import circles between the library's modules (issue 15's measure).

Each file of src/ is a module (`src/switch/accept.rs` is `switch::accept`).
An edge A -> B is a `crate::...` or `super::...` path in A that resolves to
module B (the deepest module the path names). A parent's edges to its own
children (`mod x; pub use x::Y;`) are left out: a module owns its children.
Prints every strongly connected component of more than one module.

    python3 scripts/measure/import_cycles.py [SRC_DIR]
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "src"
modules = {}
for dirpath, _, files in os.walk(src):
    for name in files:
        if not name.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(dirpath, name), src)[:-3].split(os.sep)
        if rel[-1] == "mod":
            rel = rel[:-1]
        if rel == ["lib"]:
            rel = []
        modules[tuple(rel)] = os.path.join(dirpath, name)

def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)

def resolve(path):
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in modules:
            return tuple(path[:n])
    return None

edges = {m: set() for m in modules}
path_re = re.compile(r"\b((?:crate|super)(?:::\w+)+)")
group_re = re.compile(r"\buse\s+((?:crate|super)(?:::\w+)*)::\{([^;]*)\};", re.S)
for mod, file in modules.items():
    text = strip_comments(open(file).read())
    paths = [p.split("::") for p in path_re.findall(text)]
    for prefix, body in group_re.findall(text):
        for item in re.findall(r"\b\w+(?:::\w+)*", body):
            paths.append(prefix.split("::") + item.split("::"))
    for p in paths:
        if p[0] == "crate":
            target = p[1:]
        else:
            base = list(mod)
            while p and p[0] == "super":
                base = base[:-1]
                p = p[1:]
            target = base + p
        t = resolve(target)
        if t is None or t == mod:
            continue
        if t[: len(mod)] == mod:  # a parent reaching into its own child
            continue
        edges[mod].add(t)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(comp)
for v in modules:
    if v not in index:
        visit(v)
name = lambda m: "::".join(m) or "lib"
print(f"{len(modules)} modules, {sum(len(e) for e in edges.values())} edges, {len(sccs)} circles")
for comp in sorted(sccs, key=len, reverse=True):
    members = sorted(comp)
    print(f"- {len(members)}: " + ", ".join(name(m) for m in members))

# The core points one way: nothing outside a protocol's module names it.
protocols = {"websocket", "h2c"}
upward = sorted(
    (name(m), name(t))
    for m, ts in edges.items()
    for t in ts
    if t and t[0] in protocols and (not m or m[0] not in protocols)
    # Wings built on a protocol, not the core: the gateway forwards
    # WebSocket upgrades (it checks the upstream's Sec-WebSocket-Accept).
    and m[:1] not in (("fuzz",), ("fuzz_bridge",), ("testing",), ("forward",))
)
print(f"{len(upward)} core modules that import a protocol's module")
for m, t in upward:
    print(f"- {m} -> {t}")
