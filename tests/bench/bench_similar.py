#!/usr/bin/env python3
"""Helper of bench_similar.sh: the vectors, NumPy and jq's input.

  make N DIM SEED OUT.npy RECORDS.ndjson
        N random unit vectors of DIM float32 (NumPy's default_rng(SEED)) to
        OUT.npy, and N records {id, doc, seq, text} to RECORDS.ndjson (ids
        r000000..., ten records a document).
  fill DB MODEL VECTORS.npy
        writes the vectors into the vector table of a lanes store that
        `store put` made from RECORDS.ndjson, row i for record r<i>, as
        `store put` stores them (little-endian float32 blobs; the record's
        vec_model and its embed stage ok), in one transaction.
  query VECTORS.npy I OUT.json
        writes vector I as a JSON array (the query of the run).
  numpy VECTORS.npy QUERY.json K [memory]
        NumPy brute force: loads the .npy file, scores every vector
        (matrix-vector product; the vectors are unit length), takes the K
        best (argpartition, then sort). Prints "seconds=S load=L top=i,i,..."
        with S the time of the whole search including the load (L), or with
        `memory`, timed REPEAT times after the load, the best.
  ndjson VECTORS.npy N OUT.ndjson MODEL
        the first N vectors as records with "embedding" (jq's input).
"""
import json
import sqlite3
import sys
import time


def cmd_make(n, dim, seed, out, records):
    import numpy as np
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.save(out, v.astype("<f4"))
    with open(records, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": "r%06d" % i, "doc": "d%05d" % (i // 10), "seq": i % 10,
                                "text": "record %d" % i}) + "\n")


def cmd_fill(db, model, vectors):
    import numpy as np
    v = np.load(vectors).astype("<f4")
    con = sqlite3.connect(db)
    now = time.time()
    rid = {row[1]: row[0] for row in con.execute("SELECT rid, id FROM records")}
    rows = [(rid["r%06d" % i], model, v.shape[1], v[i].tobytes(), now) for i in range(len(v))]
    with con:
        con.executemany("INSERT OR REPLACE INTO vector_data (rid, model, dim, vec, updated) "
                        "VALUES (?, ?, ?, ?, ?)", rows)
        con.executemany("UPDATE records SET vec_model = ? WHERE rid = ?",
                        [(model, r[0]) for r in rows])
        con.executemany("INSERT OR REPLACE INTO stage_data (rid, stage, status, model, "
                        "failures, updated) VALUES (?, 'embed', 'ok', ?, 0, ?)",
                        [(r[0], model, now) for r in rows])
    con.close()


def cmd_query(vectors, i, out):
    import numpy as np
    v = np.load(vectors, mmap_mode="r")
    with open(out, "w") as f:
        json.dump([float(x) for x in v[i]], f)


def top_k(v, q, k):
    import numpy as np
    s = v @ q
    part = np.argpartition(-s, k - 1)[:k]
    return part[np.argsort(-s[part], kind="stable")]


def cmd_numpy(vectors, query, k, mode):
    import numpy as np
    with open(query) as f:
        q = np.array(json.load(f), dtype=np.float32)
    t0 = time.perf_counter()
    v = np.load(vectors)
    load = time.perf_counter() - t0
    top = top_k(v, q, k)
    secs = time.perf_counter() - t0
    if mode == "memory":
        secs = min(timed(lambda: top_k(v, q, k)) for _ in range(5))
    print("seconds=%.4f load=%.4f top=%s" % (secs, load, ",".join(str(int(i)) for i in top)))


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cmd_ndjson(vectors, n, out, model):
    import numpy as np
    v = np.load(vectors, mmap_mode="r")
    with open(out, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": "r%06d" % i, "embedding": [float(x) for x in v[i]],
                                "embedding_model": model}) + "\n")


def main():
    a = sys.argv[1:]
    if len(a) == 6 and a[0] == "make":
        cmd_make(int(a[1]), int(a[2]), int(a[3]), a[4], a[5])
    elif len(a) == 4 and a[0] == "fill":
        cmd_fill(a[1], a[2], a[3])
    elif len(a) == 4 and a[0] == "query":
        cmd_query(a[1], int(a[2]), a[3])
    elif len(a) in (4, 5) and a[0] == "numpy":
        cmd_numpy(a[1], a[2], int(a[3]), a[4] if len(a) == 5 else "")
    elif len(a) == 5 and a[0] == "ndjson":
        cmd_ndjson(a[1], int(a[2]), a[3], a[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
