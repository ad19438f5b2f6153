#!/usr/bin/env python3
"""The asyncio Python pattern for calling a chat model per record, as a peer
of `mine` in tests/bench/bench_client.sh: one aiohttp ClientSession (kept-
alive connections), an asyncio.Semaphore bounding the requests in flight,
the same request body as mine (Ollama /api/chat, stream false, the schema as
format), the answer parsed as JSON and added to the record as "mined".

  client_aiohttp.py --url URL --model M --prompt FILE --schema FILE
                    --concurrency N < records.ndjson > mined.ndjson

Records come out in input order. The prompt file's {{text}} is replaced by
the record's text, as mine renders it.
"""

import argparse
import asyncio
import json
import sys

import aiohttp


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


async def mine_one(http, sem, url, body, rec):
    async with sem:
        async with http.post(url, data=body,
                             headers={"Content-Type": "application/json"}) as r:
            r.raise_for_status()
            answer = await r.json()
    rec["mined"] = json.loads(answer["message"]["content"])
    return rec


async def run(args, recs, bodies):
    url = args.url.rstrip("/") + "/api/chat"
    sem = asyncio.Semaphore(args.concurrency)
    conn = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        return await asyncio.gather(
            *(mine_one(http, sem, url, b, r) for b, r in zip(bodies, recs)))


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
    recs = [json.loads(line) for line in sys.stdin if line.strip()]
    bodies = [body_of(args, template, schema, r["text"]) for r in recs]
    out = sys.stdout
    for rec in asyncio.run(run(args, recs, bodies)):
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
