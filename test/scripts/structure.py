#!/usr/bin/env python3
"""The C core's structure, read from a built tree (issue 27, item 4).

    python3 test/scripts/structure.py [TREE] [--layers MAP] [--check]

TREE (default: this repository) must be built (`make`): every src/**/*.o is
read with `nm`, and file A "uses" file B when A's object has an undefined
symbol that B's object defines.  Printed: the number of .c and .h files and
their lines, every circle (a strongly connected component of more than one
file, Tarjan) with the largest first, the .c files without a .h of their
own, the settings (DefineCustom*Variable in the sources; those of
PGC_POSTMASTER size shared memory), and, with a layer map, every edge from
a lower layer to a higher one.

The layers (STYLE.md, "Layers"): base=0 catalog=1 shared=2 policy=3
entry=4.  A file in src/<layer>/ (any depth) gets that folder's layer; the
map file (optional, `--layers`) assigns the others, one per line:
    <basename or folder>  <layer name or rank>
e.g. `escrow shared`, `charge.c entry`, `src/policy 3`; `#` starts a comment.
Files with no layer are listed and checked against nothing.

Exit status 0, or with --check 1 when there is a circle, a .c without its
own .h, a file the layer map does not place, or a layer
violation (2 on a usage error).
"""
import os
import re
import subprocess
import sys

LAYERS = {"base": 0, "catalog": 1, "shared": 2, "policy": 3, "entry": 4}
RANK_NAME = {v: k for k, v in LAYERS.items()}


def usage(msg):
    sys.stderr.write(msg + "\n" + __doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def parse_args(argv):
    tree, layers, check = None, None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--check":
            check = True
        elif a == "--layers":
            i += 1
            if i == len(argv):
                usage("--layers needs a file")
            layers = argv[i]
        elif a.startswith("--layers="):
            layers = a.split("=", 1)[1]
        elif a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        elif a.startswith("-"):
            usage("unknown option " + a)
        elif tree is None:
            tree = a
        elif layers is None:
            layers = a        # the layer map may also be the second argument
        else:
            usage("too many arguments")
        i += 1
    if tree is None:
        tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    return os.path.abspath(tree), layers, check


def walk(src, exts):
    out = []
    for d, dirs, files in os.walk(src):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if f.endswith(exts):
                out.append(os.path.relpath(os.path.join(d, f), src))
    return out


def nm_symbols(obj):
    """(defined, undefined) global symbol sets of one object file."""
    res = subprocess.run(["nm", "-P", obj], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True)
    if res.returncode != 0:
        sys.stderr.write("nm failed on %s: %s" % (obj, res.stderr))
        sys.exit(2)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind in ("U", "w"):
            undefined.add(name)
        elif kind.isupper() or kind in ("i", "u"):
            defined.add(name)       # global definitions only (lower case = local)
    return defined, undefined


def tarjan(nodes, edges):
    """Strongly connected components (iterative Tarjan)."""
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                elif w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                sccs.append(sorted(comp))
    return sccs


def read_layer_map(path):
    m = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.replace("=", " ").replace(":", " ").split()
            if len(parts) != 2:
                usage("%s:%d: expected '<file or folder> <layer>'" % (path, n))
            key, layer = parts
            rank = LAYERS.get(layer.lower())
            if rank is None:
                try:
                    rank = int(layer)
                except ValueError:
                    usage("%s:%d: unknown layer %r" % (path, n, layer))
            key = key.rstrip("/")
            if key.startswith("src/"):
                key = key[4:]
            if key.endswith((".c", ".o")):
                key = key[:-2]
            m[key] = rank
    return m


def layer_of(unit, lmap):
    """unit: path under src/ without extension, e.g. 'policy/route'."""
    parts = unit.split("/")
    if lmap:
        if unit in lmap:
            return lmap[unit]
        if parts[-1] in lmap:
            return lmap[parts[-1]]
        for i in range(len(parts) - 1, 0, -1):
            if "/".join(parts[:i]) in lmap:
                return lmap["/".join(parts[:i])]
    for p in parts[:-1]:
        if p in LAYERS:
            return LAYERS[p]
    return None


def main():
    tree, layer_file, check = parse_args(sys.argv[1:])
    src = os.path.join(tree, "src")
    if not os.path.isdir(src):
        usage("no src/ in " + tree)

    cfiles = walk(src, (".c",))
    hfiles = walk(src, (".h",))
    lines = 0
    for f in cfiles + hfiles:
        with open(os.path.join(src, f), "rb") as fh:
            lines += fh.read().count(b"\n")
    print("tree %s" % tree)
    print("files: %d .c, %d .h; %d lines of C and headers in src/"
          % (len(cfiles), len(hfiles), lines))

    objs = walk(src, (".o",))
    if not objs:
        print("no src/**/*.o: build the tree first (make)")
        return 2 if check else 0
    units = [o[:-2] for o in objs]
    defined, undefined, owner = {}, {}, {}
    for u, o in zip(units, objs):
        defined[u], undefined[u] = nm_symbols(os.path.join(src, o))
        for s in defined[u]:
            owner.setdefault(s, u)
    missing_o = sorted(c[:-2] for c in cfiles if c[:-2] not in defined)
    edges = {u: set() for u in units}
    via = {}
    for u in units:
        for s in undefined[u]:
            v = owner.get(s)
            if v is not None and v != u:
                edges[u].add(v)
                via.setdefault((u, v), []).append(s)
    nedges = sum(len(e) for e in edges.values())
    print("objects: %d; \"uses a symbol of\" edges between them: %d" % (len(units), nedges))
    if missing_o:
        print("  .c without a .o (not built): %s" % " ".join(missing_o))

    sccs = [c for c in tarjan(units, edges) if len(c) > 1]
    sccs.sort(key=lambda c: (-len(c), c))
    if sccs:
        print("largest circle: %d of %d files: %s" % (len(sccs[0]), len(units), " ".join(sccs[0])))
        print("circles (strongly connected components of more than one file): %d" % len(sccs))
        for c in sccs:
            print("  %2d: %s" % (len(c), " ".join(c)))
    else:
        print("largest circle: none (no file reaches itself)")

    # a header of the same name anywhere under src/ (src/include/ too)
    headers = set(os.path.basename(h)[:-2] for h in hfiles)
    lone = [c[:-2] for c in cfiles if os.path.basename(c)[:-2] not in headers]
    print(".c files without their own .h: %d%s" % (len(lone), (": " + " ".join(lone)) if lone else ""))

    # the settings, read from the sources: those fixed at server start
    # (PGC_POSTMASTER) size shared memory
    settings = []
    for c in cfiles:
        with open(os.path.join(src, c), errors="replace") as fh:
            text = fh.read()
        for m in re.finditer(r'DefineCustom(\w+)Variable\(\s*"([^"]+)"(.*?)PGC_(\w+)', text, re.S):
            settings.append((m.group(2), m.group(1), m.group(4)))
    fixed = sorted(n for n, t, ctx in settings if ctx == "POSTMASTER")
    other = sorted("%s (%s)" % (n, ctx.lower()) for n, t, ctx in settings if ctx != "POSTMASTER")
    print("settings: %d; fixed at server start (shared memory sizes): %d%s; others: %s"
          % (len(settings), len(fixed), (": " + " ".join(fixed)) if fixed else "",
             " ".join(other) or "none"))

    violations = []
    unassigned = []
    use_layers = layer_file is not None or any(
        p in LAYERS for u in units for p in u.split("/")[:-1])
    if use_layers:
        lmap = read_layer_map(layer_file) if layer_file else {}
        rank = {u: layer_of(u, lmap) for u in units}
        unassigned = sorted(u for u in units if rank[u] is None)
        for u in units:
            for v in sorted(edges[u]):
                if rank[u] is not None and rank[v] is not None and rank[u] < rank[v]:
                    violations.append((u, v))
        print("layer violations (a lower layer uses a higher one): %d" % len(violations))
        for u, v in violations:
            syms = sorted(via[(u, v)])
            print("  %s (%s) -> %s (%s): %s%s" % (
                u, RANK_NAME.get(rank[u], rank[u]), v, RANK_NAME.get(rank[v], rank[v]),
                " ".join(syms[:4]), " ..." if len(syms) > 4 else ""))
        if unassigned:
            print("  files with no layer (not checked): %s" % " ".join(unassigned))

    if check and (sccs or violations or lone or (use_layers and unassigned)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
