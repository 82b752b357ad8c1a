#!/usr/bin/env python3
"""Writes the RAG example's document set, examples/rag/docs/*.md: one Markdown file per KJV chapter, all chosen
among the chapters held out from training (kjv.held_out), each a heading and the verses in paragraphs of about
five verses. Deterministic (no randomness).

Usage: python3 tools/embed_demo/make_docs.py [OUT_DIR]      (default examples/rag/docs)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kjv  # noqa: E402

# distinct stories, so that a question has one right file; a few share people on purpose (Luke 10 and John 11 both
# have Martha and Mary; Genesis 8 and Exodus 8 are both 8th chapters of the Pentateuch)
CHAPTERS = ["Genesis 8", "Genesis 33", "Exodus 8", "Numbers 16", "Ruth 1", "1 Samuel 22", "1 Kings 17",
            "2 Kings 20", "Esther 7", "Proverbs 30", "Jeremiah 13", "Jeremiah 38", "Daniel 8", "Matthew 4",
            "Luke 10", "John 11", "Acts 15", "Revelation 16"]


def file_name(chapter):
    book, num = chapter.rsplit(" ", 1)
    return f"{book.lower().replace(' ', '-')}-{int(num):02d}.md"


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "examples/rag/docs"
    out.mkdir(parents=True, exist_ok=True)
    by_name = {name: (i, verses) for i, (name, verses) in enumerate(kjv.chapters())}
    for ch in CHAPTERS:
        i, verses = by_name[ch]
        assert kjv.held_out(i), f"{ch} is not held out from training"
        paras = [" ".join(verses[k:k + 5]) for k in range(0, len(verses), 5)]
        text = f"# {ch} (King James Version)\n\n" + "\n\n".join(paras) + "\n"
        (out / file_name(ch)).write_text(text)
    print(f"wrote {len(CHAPTERS)} files to {out}")


if __name__ == "__main__":
    main()
