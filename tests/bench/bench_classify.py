#!/usr/bin/env python3
"""Helper of bench_classify.sh: makes the test data and times NumPy.

  taxonomy N OUT             NDJSON taxonomy of N occupation-like entries
  items N DIM SEED OUT.f32   N random unit vectors, float32, little-endian
  texts N OUT                N job-title-like item texts as NDJSON
  numpy CACHE ITEMS.f32 K SECONDS TOP1
        reads classify's vector cache (format in classify_cache.h) and the
        item vectors, computes the top-K entries of items by brute force
        (matrix product, then argpartition) in chunks until SECONDS have
        passed or every item is done; prints "items=N seconds=S
        items_per_s=R blas=..." and writes each done item's best entry
        index to TOP1.
"""
import json
import random
import struct
import sys
import time

WORDS = ("senior junior lead principal chief assistant associate trainee head "
         "regional field night mobile clinical technical digital retail "
         "industrial marine aviation agricultural dental veterinary legal "
         "financial software data network mechanical electrical civil "
         "chemical process quality safety logistics warehouse kitchen hotel "
         "school hospital community care sales marketing customer support "
         "service maintenance production assembly packaging security "
         "research laboratory design media content training policy").split()
ROLES = ("engineer developer analyst manager technician operator assistant "
         "specialist consultant coordinator officer inspector nurse teacher "
         "driver cook clerk designer planner scientist adviser supervisor "
         "installer fitter cleaner guard agent broker editor writer "
         "therapist pharmacist surveyor mechanic electrician welder").split()


def title(rng, words=2):
    return " ".join(rng.choice(WORDS) for _ in range(words)) + " " + rng.choice(ROLES)


def cmd_taxonomy(n, out):
    rng = random.Random(7)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            e = {"id": "occ-%05d" % i, "label": title(rng).capitalize(),
                 "synonyms": [title(rng, 1) for _ in range(3)]}
            if i % 3 == 0:
                e["description"] = "Works as %s in %s settings." % (
                    title(rng, 1), rng.choice(WORDS))
            f.write(json.dumps(e) + "\n")


def cmd_items(n, dim, seed, out):
    import numpy as np
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v.astype("<f4").tofile(out)


def cmd_texts(n, out):
    rng = random.Random(11)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "text": title(rng, rng.randint(1, 3))}) + "\n")


def read_cache(path):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"LNSVEC01":
        raise SystemExit("%s: not a lanes vector cache" % path)
    _version, dim, count, mlen, _reserved = struct.unpack_from("<IIQII", raw, 8)
    off = 32 + (mlen + 7) // 8 * 8 + 8 * count
    return np.frombuffer(raw, dtype="<f4", count=count * dim, offset=off).reshape(count, dim)


def blas_name():
    try:
        import numpy as np
        info = np.__config__.get_info("blas_opt_info") or {}
        libs = info.get("libraries") or []
        return ",".join(libs) or "unknown"
    except Exception:  # numpy >= 2 has no get_info
        return "unknown"


def cmd_numpy(cache, items, k, seconds, top1):
    import numpy as np
    e = read_cache(cache)
    q = np.fromfile(items, dtype="<f4").reshape(-1, e.shape[1])
    chunk = 256
    done = 0
    best = []
    t0 = time.perf_counter()
    while done < len(q):
        s = q[done:done + chunk] @ e.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        best.extend(np.take_along_axis(part, order, axis=1)[:, 0].tolist())
        done += len(s)
        if time.perf_counter() - t0 > seconds:
            break
    secs = time.perf_counter() - t0
    with open(top1, "w") as f:
        f.write("".join("%d\n" % b for b in best))
    print("items=%d seconds=%.4f items_per_s=%.1f blas=%s numpy=%s" % (
        done, secs, done / secs, blas_name(), np.__version__))


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    if a[0] == "taxonomy" and len(a) == 3:
        cmd_taxonomy(int(a[1]), a[2])
    elif a[0] == "items" and len(a) == 5:
        cmd_items(int(a[1]), int(a[2]), int(a[3]), a[4])
    elif a[0] == "texts" and len(a) == 3:
        cmd_texts(int(a[1]), a[2])
    elif a[0] == "numpy" and len(a) == 6:
        cmd_numpy(a[1], a[2], int(a[3]), float(a[4]), a[5])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
