#!/usr/bin/env python3
"""Golden ETL record counts from dissect.etl, for tests/suite/etl.rs.

For every *.etl under CORPUS_DIR (recursively) this writes
OUT_DIR/<file stem>.counts.json with the number of records per key, where
the key is what our reader can reproduce from the record header alone:

  EVENT_HEADER (manifest/TraceLogging)   "<provider guid>:<event id>"
  classic EVENT_TRACE_HEADER / instance  "classic:<event guid>/<class type>"
  SYSTEM / compact / PERFINFO (kernel)   "kernel:<group>/<type>"
  WPP message                            "wpp:<guid or ->/<message number>"
  anything else dissect accepts          "other:<header type hex>"

GUIDs are lowercase, no braces, in the Windows (little-endian fields) form.
dissect.etl 3.14 decodes EVENT_HEADER.ProviderId with UUID(bytes=...), which
byte-swaps the first three fields; we re-decode the raw 16 bytes with
UUID(bytes_le=...) so the GUIDs are the ones Windows shows.

Every record dissect yields is counted, including the logfile-header record
(kernel:0/0) of the first buffer.

Usage: python3 tests/golden/etl_counts.py CORPUS_DIR OUT_DIR
       python3 tests/golden/etl_counts.py CORPUS_DIR -      (print only)
"""

import json
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from uuid import UUID

from dissect.etl import ETL
from dissect.etl.headers.event import EventHeader
from dissect.etl.headers.headers import (
    EventInstanceGUIDHeader,
    EventTraceHeader,
    MessageTraceHeader,
)
from dissect.etl.headers.system import SystemSpecificHeader


def key_of(h):
    if isinstance(h, EventHeader):
        guid = UUID(bytes_le=bytes(h.header.ProviderId))
        return "event", f"{guid}:{h.header.Id}"
    if isinstance(h, (EventTraceHeader, EventInstanceGUIDHeader)):
        guid = UUID(bytes_le=bytes(h.header.ProviderId))
        kind = "instance" if isinstance(h, EventInstanceGUIDHeader) else "classic"
        return kind, f"classic:{guid}/{h.header.Version & 0xFF}"
    if isinstance(h, SystemSpecificHeader):
        kind = {
            "SystemHeader": "system",
            "CompactSystemHeader": "compact",
            "PerfinfoTraceHeader": "perfinfo",
        }[type(h).__name__]
        return kind, f"kernel:{h.header.Group}/{h.header.OpCode}"
    if isinstance(h, MessageTraceHeader):
        guid = h.provider_id
        return "message", f"wpp:{guid if guid else '-'}/{h.header.Id}"
    return "other", f"other:{h._marker.header_type:#04x}"


def count(path):
    with open(path, "rb") as fh:
        etl = ETL(fh)
        counts = Counter()
        kinds = Counter()
        buffers = 0
        for buf in etl.buffers():
            buffers += 1
            for rec in buf:
                kind, key = key_of(rec.header)
                counts[key] += 1
                kinds[kind] += 1
        return {
            "file": path.name,
            "produced_by": f"dissect.etl {version('dissect.etl')} (dissect.util {version('dissect.util')}) via tests/golden/etl_counts.py",
            "buffers": buffers,
            "buffers_written": etl.logfile_header.buffers_written,
            "total": sum(counts.values()),
            "kinds": dict(sorted(kinds.items())),
            "counts": dict(sorted(counts.items())),
        }


def main():
    corpus, out = Path(sys.argv[1]), sys.argv[2]
    for path in sorted(corpus.rglob("*.etl")):
        result = count(path)
        text = json.dumps(result, indent=1, sort_keys=False) + "\n"
        if out == "-":
            print(text)
        else:
            dst = Path(out) / (path.stem + ".counts.json")
            dst.write_text(text)
            print(f"{dst}: {result['total']} records", file=sys.stderr)


if __name__ == "__main__":
    main()
