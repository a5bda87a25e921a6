#!/usr/bin/env python3
"""Verify a Countersign audit export on its own, from docs/audit.md alone.

    python3 tools/verify_export.py EXPORT.jsonl|EXPORT.csv

Recomputes every entry's hash from its fields (the canonical encoding of docs/audit.md, "The
hash chain") and checks that each entry links to the one before it and that chain positions
follow each other. An export of a period starts mid-chain: its first entry's prev_hash is taken
as given. Prints "OK: N entries verified, through #SEQ (hash ...)" and exits 0, or names the
first entry that does not hold and exits 1 (2 for an unreadable file).

Standard library only, and independent of Countersign's code on purpose: an auditor can read
it against the spec in a few minutes.
"""

import csv
import hashlib
import json
import sys

GENESIS = "0" * 64
HASHED = (
    "action", "actor", "at", "correlation_id", "details", "id", "identity", "outcome",
    "policy_hash", "reason", "ref", "rule", "seq", "version",
)
CSV_COLUMNS = (
    "seq", "id", "at", "actor", "identity", "action", "ref", "version", "rule", "policy_hash",
    "outcome", "reason", "details", "correlation_id", "prev_hash", "hash",
)
NULL_WHEN_EMPTY = ("actor", "identity", "ref", "rule", "policy_hash", "reason", "correlation_id")


def canonical(entry):
    """The bytes that are hashed: the fourteen fields, sorted keys, no whitespace, raw UTF-8."""
    fields = {name: entry[name] for name in HASHED}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def link(prev_hash, entry):
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(entry)).hexdigest()


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, json.loads(line)


def read_csv(path):
    """The CSV's typing rules (docs/audit.md, "Export")."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if tuple(header or ()) != CSV_COLUMNS:
            raise ValueError("the CSV header is not the export's sixteen columns")
        for number, row in enumerate(rows, 2):
            e = dict(zip(CSV_COLUMNS, row))
            for name in ("seq", "id"):
                e[name] = int(e[name])
            e["version"] = int(e["version"]) if e["version"] else None
            for name in NULL_WHEN_EMPTY:
                e[name] = e[name] or None
            e["details"] = json.loads(e["details"])
            yield number, e


def verify(entries):
    """Returns (count, last seq, last hash), or raises ValueError naming the first bad entry."""
    count, prev, expected = 0, None, None
    for number, e in entries:
        where = f"entry #{e.get('seq')} (line {number})"
        missing = [name for name in HASHED + ("prev_hash", "hash") if name not in e]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}")
        if expected is not None and e["seq"] != expected:
            raise ValueError(f"{where}: expected chain position #{expected} (an entry is missing or moved)")
        if prev is None:
            prev = GENESIS if e["seq"] == 1 else e["prev_hash"]
        if e["prev_hash"] != prev:
            raise ValueError(f"{where}: prev_hash is not the previous entry's hash (the chain is broken)")
        if link(prev, e) != e["hash"]:
            raise ValueError(f"{where}: its content does not match its hash (the entry was changed)")
        count, prev, expected = count + 1, e["hash"], e["seq"] + 1
    return count, (expected - 1 if expected else None), prev


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path = argv[1]
    try:
        entries = read_csv(path) if path.endswith(".csv") else read_jsonl(path)
        count, seq, head = verify(entries)
    except ValueError as e:
        print(f"BROKEN: {e}")
        return 1
    except OSError as e:
        print(f"cannot read {path}: {e}", file=sys.stderr)
        return 2
    if count == 0:
        print("OK: 0 entries (the export is empty)")
    else:
        print(f"OK: {count} entries verified, through #{seq} (hash {head})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
