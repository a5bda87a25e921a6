#!/usr/bin/env python3
"""Verify a Countersign audit export on its own, from docs/audit.md alone.

    python3 tools/verify_export.py EXPORT.jsonl|EXPORT.csv [--checkpoint FILE]...

Recomputes every entry's hash from its fields (the canonical encoding of docs/audit.md, "The
hash chain") and checks that each entry links to the one before it and that chain positions
follow each other. An export of a period starts mid-chain: its first entry's prev_hash is taken
as given. Prints "OK: N entries verified, through #SEQ (hash ...)" and exits 0, or names the
first entry that does not hold and exits 1 (2 for an unreadable file).

With --checkpoint, each line of FILE is a kept checkpoint (as the API, a webhook or `countersign
audit checkpoint` gave it): the export must hold its position with its hash. A checkpoint beyond
the end of an export that starts at #1 means entries were cut off. Signatures are not checked
here (the standard library has no Ed25519): check them with any JWT library against
/.well-known/jwks.json, or with `countersign audit verify --checkpoint FILE`.

Standard library only, and independent of Countersign's code on purpose: an auditor can read
it against the spec in a few minutes.
"""

import base64
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


def read_checkpoints(path):
    """Yields (line number, seq, hash) of each kept checkpoint, from its signed payload."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = {}
            try:
                value = json.loads(line)
            except ValueError:
                value = line
            if isinstance(value, dict):
                fields, value = value, value.get("jws", "")
            parts = str(value).split(".")
            if len(parts) != 3:
                raise ValueError(f"{path}:{number} is not a checkpoint (a JWS, or an object with \"jws\")")
            payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            if payload.get("sub") != "audit-chain":
                raise ValueError(f"{path}:{number} is not a checkpoint of the audit chain")
            for name in ("seq", "hash"):
                if name in fields and fields[name] != payload[name]:
                    raise ValueError(f"{path}:{number}: its {name} differs from what its signature covers")
            yield number, payload["seq"], payload["hash"], f"{path}:{number}: checkpoint #{payload['seq']}"


def verify(entries, wanted=None):
    """Returns (count, first seq, last seq, last hash), or raises ValueError naming the first bad
    entry or the first kept checkpoint (in `wanted`, seq -> (hash, name)) the export contradicts."""
    wanted = wanted or {}
    count, prev, expected, first = 0, None, None, None
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
        if e["seq"] in wanted and wanted[e["seq"]][0] != e["hash"]:
            raise ValueError(
                f"{wanted[e['seq']][1]} is not held: the export has hash {e['hash']} there "
                "(the entries up to it were changed, re-ordered or re-sealed)"
            )
        first = e["seq"] if first is None else first
        count, prev, expected = count + 1, e["hash"], e["seq"] + 1
    return count, first, (expected - 1 if expected else None), prev


def main(argv):
    args, checkpoint_files = [], []
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--checkpoint":
            checkpoint_files.append(next(rest, None))
        else:
            args.append(arg)
    if len(args) != 1 or None in checkpoint_files:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path = args[0]
    try:
        wanted = {}
        for file in checkpoint_files:
            for _, seq, digest, name in read_checkpoints(file):
                wanted[seq] = (digest, name)
        entries = read_csv(path) if path.endswith(".csv") else read_jsonl(path)
        count, first, seq, head = verify(entries, wanted)
        for at in sorted(wanted):
            if first == 1 and (seq is None or at > seq):
                raise ValueError(
                    f"{wanted[at][1]} is not held: the chain ends at #{seq or 0} (entries were cut off its end)"
                )
    except ValueError as e:
        print(f"BROKEN: {e}")
        return 1
    except OSError as e:
        print(f"cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    if count == 0:
        print("OK: 0 entries (the export is empty)")
    else:
        print(f"OK: {count} entries verified, through #{seq} (hash {head})")
    if wanted:
        inside = [at for at in wanted if first is not None and first <= at <= seq]
        print(
            f"OK: {len(inside)} of {len(wanted)} kept checkpoints are in this export with their hashes "
            "(the others lie outside its period); signatures are not checked here"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
