#!/usr/bin/env python3
"""The common Python pattern for calling a chat model per record, as a peer
of `mine` in tests/bench/bench_client.sh: requests + a ThreadPoolExecutor,
one requests.Session per thread (kept-alive connections), the same request
body as mine (Ollama /api/chat, stream false, the schema as format), the
answer parsed as JSON and added to the record as "mined".

  client_requests.py --url URL --model M --prompt FILE --schema FILE
                     --concurrency N < records.ndjson > mined.ndjson

Records come out in input order. The prompt file's {{text}} is replaced by
the record's text, as mine renders it.
"""

import argparse
import concurrent.futures
import json
import sys
import threading

import requests

_local = threading.local()


def session():
    """One Session per worker thread: requests.Session is not thread-safe."""
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        _local.session = s
    return s


def body_of(args, template, schema, text):
    """The bytes mine sends for this text (compact JSON, UTF-8 unescaped)."""
    body = {
        "model": args.model,
        "stream": False,
        "messages": [{"role": "user", "content": template.replace("{{text}}", text)}],
        "format": schema,
        "options": {"temperature": 0, "seed": 42, "num_predict": 2048},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def mine_one(url, body, rec):
    r = session().post(url, data=body, headers={"Content-Type": "application/json"})
    r.raise_for_status()
    rec["mined"] = json.loads(r.json()["message"]["content"])
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:11434")
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    args = ap.parse_args()
    with open(args.prompt, encoding="utf-8") as f:
        template = f.read()
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    url = args.url.rstrip("/") + "/api/chat"
    recs = [json.loads(line) for line in sys.stdin if line.strip()]
    bodies = [body_of(args, template, schema, r["text"]) for r in recs]
    out = sys.stdout
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for rec in pool.map(mine_one, [url] * len(recs), bodies, recs):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
