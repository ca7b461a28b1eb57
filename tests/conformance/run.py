#!/usr/bin/env python3
"""tests/conformance/run.py: zpanel config against what Docker Compose v2 printed.

    run.py ZPANEL SUITE_DIR [--known FILE] [-v]

For each case directory of SUITE_DIR (see generate.sh for the layout), runs
`zpanel [args] config --format json` in it with the same clean environment generate.sh
gave Compose, and compares the output with expected.json field by field (map keys in any
order, sequences in order). A case with expected.err (Compose rejected it) must be
rejected by zpanel with exit status 3 and an error naming FILE:LINE:COL (or, for a
command-line flag or a COMPOSE_* variable, naming that).

Before comparing, the deliberate differences listed in DIFFERENCES below are applied to
the expectation; each is documented in the README (section "Compose conformance").

Cases named in the --known file (one "name: reason" a line) are known disagreements:
they are counted and reported, and the run fails only if another case disagrees, or if a
known one now agrees (so the list stays true). Prints the agreement rate.
"""
import json
import os
import re
import subprocess
import sys

LOC = re.compile(r"[^\s:]+:\d+:\d+: ")
# an error about a command-line flag or an environment variable names it instead
FLAG = re.compile(r"(^|\s)(--[a-z][a-z-]*|COMPOSE_[A-Z_]+): ", re.M)


SIZE_KEYS = {"mem_limit", "memswap_limit", "mem_reservation", "shm_size", "memory", "size",
             "mem_swappiness"}
EMPTY_OK = {"ipam", "resources", "placement", "limits", "reservations"}


def sizes_as_integers(node):
    # Compose prints byte sizes (and mem_swappiness) as JSON strings ("536870912"); zpanel
    # as integers.
    if isinstance(node, dict):
        for k, v in node.items():
            if k in SIZE_KEYS and isinstance(v, str) and v.isdigit():
                node[k] = int(v)
            else:
                sizes_as_integers(v)
    elif isinstance(node, list):
        for v in node:
            sizes_as_integers(v)


def drop_empty_objects(node):
    # Compose 2.26 prints empty ipam, deploy.resources, placement, limits, reservations
    # objects ({}); zpanel leaves them out (same meaning).
    if isinstance(node, dict):
        for k in [k for k, v in node.items() if k in EMPTY_OK and v == {}]:
            del node[k]
        for v in node.values():
            drop_empty_objects(v)
    elif isinstance(node, list):
        for v in node:
            drop_empty_objects(v)


def service_rules(svc, actual):
    # Compose 2.26 prints `command: null` and `entrypoint: null` for a service that sets
    # neither; zpanel leaves them out (same meaning: the image's own).
    for k in ("command", "entrypoint"):
        if k in svc and svc[k] is None:
            del svc[k]
    # A disabled health check: Compose prints {disable: true}, zpanel the engine's form
    # {test: [NONE]} (same meaning).
    if svc.get("healthcheck") == {"disable": True}:
        svc["healthcheck"] = {"test": ["NONE"]}
    # Compose 2.26 prints blkio device entries with Go's field names (Path, Rate, Weight)
    # and rates as strings; zpanel with the specification's names and integers.
    for lst in (svc.get("blkio_config") or {}).values():
        if isinstance(lst, list):
            for i, e in enumerate(lst):
                if isinstance(e, dict):
                    lst[i] = {k.lower(): (int(v) if isinstance(v, str) and v.isdigit() else v)
                              for k, v in e.items()}
    # zpanel keeps the resolved env_file and label_file lists beside `environment` and
    # `labels` (Compose 2.26 drops them once read); and x-* extensions of a service (Compose 2.26 drops them, current Compose
    # keeps them).
    if actual:
        for k in ("env_file", "label_file"):
            if k in actual and k not in svc:
                svc[k] = actual[k]
        # an empty list written in the file (ports: []) is printed by zpanel
        for k, v in actual.items():
            if v == [] and k not in svc:
                svc[k] = []
        for k in actual:
            if k.startswith("x-") and k not in svc:
                svc[k] = actual[k]


def false_booleans(expected, actual):
    # A boolean set to false in the file: zpanel prints it, Compose leaves it out (false is
    # the default of every such field).
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k, v in actual.items():
            if v is False and k not in expected:
                expected[k] = False
            elif k in expected:
                false_booleans(expected[k], v)
    elif isinstance(expected, list) and isinstance(actual, list):
        for e, a in zip(expected, actual):
            false_booleans(e, a)


def object_rules(obj, actual):
    # x-* extensions of networks and volumes: kept by zpanel, dropped by Compose 2.26.
    # ipam.options: kept by zpanel (given to the engine), dropped silently by Compose.
    if actual:
        for k in actual:
            if k.startswith("x-") and k not in obj:
                obj[k] = actual[k]
        ai = actual.get("ipam")
        if isinstance(ai, dict) and "options" in ai:
            obj.setdefault("ipam", {}).setdefault("options", ai["options"])


def unused_objects(expected, actual):
    # zpanel keeps top-level networks, volumes, secrets and configs that no service uses;
    # `docker compose config` leaves them out of its output.
    for section in ("networks", "volumes", "secrets", "configs"):
        a = actual.get(section) or {}
        e = expected.get(section)
        for k, v in a.items():
            if e is None or k not in e:
                expected.setdefault(section, {})[k] = v


DIFFERENCES = [
    "byte sizes: integers (Compose: strings of digits)",
    "empty ipam/resources/placement/limits/reservations objects left out",
    "command/entrypoint null left out",
    "healthcheck {disable: true} printed as {test: [NONE]}",
    "blkio_config device entries: lower-case keys, integer rates",
    "env_file and label_file kept beside environment and labels",
    "an empty list written in a service (ports: []) printed",
    "x-* extensions of services, networks and volumes kept",
    "ipam.options kept",
    "top-level networks/volumes/secrets/configs no service uses kept",
    "booleans set to false printed",
]


def apply_differences(expected, actual):
    sizes_as_integers(expected)
    drop_empty_objects(expected)
    asvcs = actual.get("services") or {} if isinstance(actual, dict) else {}
    for name, svc in (expected.get("services") or {}).items():
        if isinstance(svc, dict):
            service_rules(svc, asvcs.get(name) if isinstance(asvcs.get(name), dict) else None)
    for section in ("networks", "volumes"):
        aobjs = actual.get(section) or {}
        for name, obj in (expected.get(section) or {}).items():
            if isinstance(obj, dict):
                object_rules(obj, aobjs.get(name) if isinstance(aobjs.get(name), dict) else None)
    if isinstance(actual, dict):
        unused_objects(expected, actual)
    false_booleans(expected, actual)
    return expected


def diff(a, b, path, out):
    """Append to out each path where expected a and actual b differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}" if path else k
            if k not in b:
                out.append(f"{p}: missing (expected {json.dumps(a[k])[:120]})")
            elif k not in a:
                out.append(f"{p}: unexpected {json.dumps(b[k])[:120]}")
            else:
                diff(a[k], b[k], p, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(b)} items, expected {len(a)}: "
                       f"{json.dumps(b)[:160]} vs {json.dumps(a)[:160]}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif type(a) is not type(b) and not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool)):
        out.append(f"{path}: {json.dumps(b)} ({type(b).__name__}), expected "
                   f"{json.dumps(a)} ({type(a).__name__})")
    elif a != b:
        out.append(f"{path}: {json.dumps(b)[:160]}, expected {json.dumps(a)[:160]}")


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.rstrip("\n") for l in f if l.rstrip("\n") != ""]


def run_case(zpanel, d):
    """Return None when zpanel agrees, else a list of problems."""
    args = read_lines(os.path.join(d, "args"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    for line in read_lines(os.path.join(d, "env")):
        k, _, v = line.partition("=")
        env[k] = v
    p = subprocess.run([zpanel] + args + ["config", "--format", "json"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=60)
    exp_json = os.path.join(d, "expected.json")
    exp_err = os.path.join(d, "expected.err")
    if os.path.exists(exp_err):
        if p.returncode == 0:
            with open(exp_err) as f:
                why = f.read().strip().splitlines()
            return [f"accepted, but Compose rejects it: {why[-1] if why else ''}"]
        if p.returncode != 3:
            return [f"exit status {p.returncode}, expected 3: {p.stderr.strip()[:300]}"]
        if not LOC.search(p.stderr) and not FLAG.search(p.stderr):
            return [f"rejected without FILE:LINE:COL (or the flag): {p.stderr.strip()[:300]}"]
        return None
    if not os.path.exists(exp_json):
        return ["no expected.json or expected.err (run generate.sh)"]
    if p.returncode != 0:
        return [f"rejected (exit {p.returncode}), Compose accepts it: "
                f"{p.stderr.strip()[:400]}"]
    with open(exp_json) as f:
        expected = json.loads(f.read().replace("@CASE@", d))
    try:
        actual = json.loads(p.stdout)
    except ValueError as e:
        return [f"output is not JSON: {e}"]
    problems = []
    diff(apply_differences(expected, actual), actual, "", problems)
    return problems or None


def main():
    argv = sys.argv[1:]
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    known = {}
    if "--known" in argv:
        i = argv.index("--known")
        for line in read_lines(argv[i + 1]):
            if line.startswith("#"):
                continue
            name, _, why = line.partition(":")
            known[name.strip()] = why.strip()
        del argv[i:i + 2]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    zpanel, suite = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    cases = sorted(c for c in os.listdir(suite) if os.path.isdir(os.path.join(suite, c)))
    if not cases:
        print(f"conformance: no cases in {suite}", file=sys.stderr)
        return 1
    agree = hand = 0
    bad = []
    for c in cases:
        d = os.path.join(suite, c)
        if os.path.exists(os.path.join(d, "HANDWRITTEN")):
            hand += 1
        problems = run_case(zpanel, d)
        if problems is None:
            agree += 1
            if c in known:
                bad.append(c)
                print(f"FIXED {c}: agrees now, remove it from the known list")
            elif verbose:
                print(f"ok    {c}")
            continue
        tag = "KNOWN" if c in known else "FAIL "
        if c not in known:
            bad.append(c)
        if c not in known or verbose:
            print(f"{tag} {c}")
            for pr in problems[:12]:
                print(f"        {pr}")
    n = len(cases)
    print(f"conformance {os.path.basename(suite)}: {agree}/{n} cases agree "
          f"({100.0 * agree / n:.1f}%), {hand} with hand-written expectations, "
          f"{len(known)} known differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
