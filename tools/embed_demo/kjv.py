"""The King James Bible (Debian bible-kjv-text, read with the `bible` program of bible-kjv) as chapters of verses.

Chapter index i (0 = Genesis 1, ..., 1188 = Revelation 22) is held out iff i % 25 == 7, the split of tools/qat
(the demo chat model never saw those 48 chapters): the embedding model trains on the others, and the RAG example
documents (examples/rag/docs) are held-out chapters, so retrieval is measured on text neither model was trained on.
"""
import re
import subprocess


def chapters():
    """[(name, [verse, ...])] in canonical order, e.g. ("Genesis 8", ["And God remembered Noah, ...", ...])."""
    raw = subprocess.run(["bible", "-l0", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    out, name, cur = [], None, []
    for line in raw.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            cur.append(m.group(1).strip())
        elif line.strip():
            if cur:
                out.append((name, cur))
                cur = []
            name = line.strip()
    if cur:
        out.append((name, cur))
    if len(out) != 1189:
        raise SystemExit(f"bible-kjv: expected 1189 chapters, read {len(out)}")
    return out


def held_out(i):
    return i % 25 == 7
