#!/usr/bin/env python3
"""Writes deterministic NDJSON input for the lanes benchmarks to stdout.

  gen_records.py records COUNT [--dim N] [--seed S]
      COUNT records shaped like segment output:
      {id, doc, seq, text (300-1000 chars), start, end}, plus an
      "embedding" of N numbers when --dim is given.
  gen_records.py docs FILE [--copies K | --count N] [--size BYTES]
      FILE cut at blank lines into documents of about BYTES each, written K
      times (or until N documents are out) as {"id", "text"} documents
      (segment's NDJSON input).

The same arguments always give the same bytes (fixed seed, no clock).
"""

import argparse
import json
import random
import sys

# Words with the characters that cost a JSON writer something: quotes,
# backslashes, non-ASCII, an occasional newline.
VOCAB = (
    "the of and to in a is that for it as was with be by on not he I this are "
    "or his from at which but have an they you were her she there been one all "
    "we their its has would when who will more no if out so said what up some "
    "into them can only other new time could these two may then first any "
    "naïve café façade Zürich straße déjà-vu “quoted” \"plain\" back\\slash "
    "tab\there emoji🙂 日本語 Ελληνικά line\nbreak 3.14 2024-01-01 e-mail "
    "segment store embedding vector record pipeline filter upsert"
).split(" ")


def word_stream(rng, size):
    """About `size` characters of words separated by spaces."""
    out = []
    n = 0
    while n < size:
        w = rng.choice(VOCAB)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def gen_records(count, dim, seed):
    rng = random.Random(seed)
    pool = word_stream(rng, 1 << 21)
    starts = [i + 1 for i, c in enumerate(pool) if c == " "]
    floats = ["%.6f" % rng.uniform(-1.0, 1.0) for _ in range(4096)]
    out = sys.stdout
    buf = []
    doc = 0
    seq = 0
    pos = 0
    nseg = rng.randint(5, 60)
    for _ in range(count):
        if seq == nseg:
            doc += 1
            seq = 0
            pos = 0
            nseg = rng.randint(5, 60)
        n = rng.randint(300, 1000)
        s = starts[rng.randrange(len(starts) - 2000)]
        text = pool[s:s + n]
        rec = '{"id":%s,"doc":%s,"seq":%d,"text":%s,"start":%d,"end":%d' % (
            json.dumps("doc%d:%d" % (doc, seq)), json.dumps("doc%d" % doc),
            seq, json.dumps(text, ensure_ascii=False), pos,
            pos + len(text.encode("utf-8")))
        if dim:
            k = rng.randrange(len(floats) - dim)
            rec += ',"embedding":[' + ",".join(floats[k:k + dim]) + "]"
        buf.append(rec + "}\n")
        pos += len(text.encode("utf-8")) - 100
        seq += 1
        if len(buf) >= 4096:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


def gen_docs(path, copies, count, size):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = []
    start = 0
    while start < len(text):
        cut = text.find("\n\n", start + size)
        end = len(text) if cut < 0 else cut + 2
        docs.append(text[start:end])
        start = end
    encoded = [json.dumps(d, ensure_ascii=False) for d in docs]
    if count is None:
        count = copies * len(encoded)
    out = sys.stdout
    c = 0
    while count > 0:
        part = encoded[:count]
        out.write("".join('{"id":"c%d-d%d","text":%s}\n' % (c, i, e)
                          for i, e in enumerate(part)))
        count -= len(part)
        c += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("records")
    r.add_argument("count", type=int)
    r.add_argument("--dim", type=int, default=0)
    r.add_argument("--seed", type=int, default=1)
    d = sub.add_parser("docs")
    d.add_argument("file")
    d.add_argument("--copies", type=int, default=1)
    d.add_argument("--count", type=int)
    d.add_argument("--size", type=int, default=65536)
    a = ap.parse_args()
    try:
        if a.cmd == "records":
            gen_records(a.count, a.dim, a.seed)
        else:
            gen_docs(a.file, a.copies, a.count, a.size)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
