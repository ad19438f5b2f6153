#!/usr/bin/env python3
"""Helper of bench_classify_examples.sh: a labelled set nobody here wrote,
Debian's package descriptions and their sections, and the scikit-learn peer.

  split DUMPAVAIL OUTDIR EXAMPLES ITEMS
        reads `apt-cache dumpavail` output; keeps the sections (component
        prefix dropped: contrib/net is net) with at least EXAMPLES + 10
        packages whose description is not a repeat; per section, picks by a
        hash of the package name EXAMPLES packages as examples and at most
        ITEMS others as items to classify. Writes OUTDIR/tax.ndjson (one
        entry per section: id and label the section's name, examples the
        descriptions), OUTDIR/gold.ndjson ({"text", "gold"}) and
        OUTDIR/train.ndjson ({"text", "label"}: the examples, for the peer).
        A description is the short one, then the long one's first
        paragraph, cut to 300 characters. Prints "sections=S examples=E
        items=I".
  sklearn OUTDIR [VECTORS]
        scikit-learn's 1-nearest-neighbour classifier (cosine) trained on
        the examples, tested on the items: on its own TF-IDF features
        (words and word pairs), and, given VECTORS (the NDJSON of embed
        over train then gold, in that order), on those vectors. Prints one
        line per run: "peer=NAME accuracy=A items=I seconds=S".
"""
import hashlib
import json
import sys
import time

MAX_CHARS = 300


def packages(path):
    """Yields (name, section, description) of each stanza."""
    with open(path, encoding="utf-8", errors="replace") as f:
        stanza = {}
        key = None
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if stanza:
                    yield stanza
                stanza, key = {}, None
                continue
            if line[0] in " \t" and key:
                stanza[key] += "\n" + line
                continue
            key, _, value = line.partition(":")
            stanza[key] = value.strip()
        if stanza:
            yield stanza


def description(text):
    lines = text.split("\n")
    short = lines[0].strip()
    para = []
    for line in lines[1:]:
        line = line.strip()
        if line == ".":
            break
        para.append(line)
    full = short
    if para:
        full += ". " + " ".join(para)
    return full[:MAX_CHARS]


def rank(name):
    return hashlib.sha1(name.encode()).hexdigest()


def cmd_split(dump, outdir, n_examples, n_items):
    by_section = {}
    seen = set()
    for p in packages(dump):
        name, sec, desc = p.get("Package"), p.get("Section"), p.get("Description")
        if not name or not sec or not desc:
            continue
        sec = sec.split("/")[-1]
        text = description(desc)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        by_section.setdefault(sec, []).append((rank(name), text))
    tax, gold, train = [], [], []
    n_ex = n_it = 0
    for sec in sorted(by_section):
        pkgs = sorted(by_section[sec])
        if len(pkgs) < n_examples + 10:
            continue
        ex = [t for _, t in pkgs[:n_examples]]
        items = [t for _, t in pkgs[n_examples:n_examples + n_items]]
        tax.append({"id": sec, "label": sec, "examples": ex})
        train.extend({"text": t, "label": sec} for t in ex)
        gold.extend({"text": t, "gold": sec} for t in items)
        n_ex += len(ex)
        n_it += len(items)
    for name, rows in (("tax", tax), ("gold", gold), ("train", train)):
        with open("%s/%s.ndjson" % (outdir, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("sections=%d examples=%d items=%d" % (len(tax), n_ex, n_it))


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def knn(name, x_train, y_train, x_test, y_test, t0):
    from sklearn.neighbors import KNeighborsClassifier
    clf = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
    clf.fit(x_train, y_train)
    pred = clf.predict(x_test)
    secs = time.perf_counter() - t0
    right = sum(1 for p, g in zip(pred, y_test) if p == g)
    print("peer=%s accuracy=%.4f items=%d seconds=%.3f" % (name, right / len(y_test),
                                                           len(y_test), secs))


def cmd_sklearn(outdir, vectors=None):
    import numpy as np
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    train = read(outdir + "/train.ndjson")
    gold = read(outdir + "/gold.ndjson")
    y_train = [r["label"] for r in train]
    y_test = [r["gold"] for r in gold]
    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vec.fit_transform([r["text"] for r in train])
    x_test = vec.transform([r["text"] for r in gold])
    knn("sklearn-%s-tfidf" % sklearn.__version__, x_train, y_train, x_test, y_test, t0)
    if vectors:
        rows = read(vectors)
        x = np.array([r["embedding"] for r in rows], dtype=np.float32)
        t0 = time.perf_counter()
        knn("sklearn-%s-lanes-vectors" % sklearn.__version__, x[:len(train)], y_train,
            x[len(train):], y_test, t0)


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "split":
        cmd_split(a[1], a[2], int(a[3]), int(a[4]))
    elif len(a) in (2, 3) and a[0] == "sklearn":
        cmd_sklearn(a[1], a[2] if len(a) == 3 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
