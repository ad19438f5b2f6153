// The peer of `segment` in the lanes benchmarks: LangChain's
// RecursiveCharacterTextSplitter doing the same job as segment, so that the
// two whole processes can be timed on the same input.
//
//   node langchain_split.mjs [--chunk-size N] [--overlap N] [--out FILE] [FILE...]
//
// With FILEs, each file is one document named by its path; without, stdin
// carries NDJSON documents {"id", "text"}. Writes one NDJSON line per chunk,
// {id, doc, seq, text, start, end}, like segment. start is found the way
// LangChain's own createDocuments() finds it (indexOf from the previous
// chunk); offsets are in UTF-16 code units, which equal bytes on ASCII text.
// With LANGCHAIN_SPLIT_TIMING=FILE it appends "<startup ms> <work ms>" to
// FILE: node start-up and module loading, then reading, splitting, writing.
import { appendFileSync, openSync, readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";

const FLUSH_BYTES = 1 << 20;

function usage(msg) {
  process.stderr.write(`langchain_split: ${msg}\n` +
    "usage: node langchain_split.mjs [--chunk-size N] [--overlap N] [--out FILE] [FILE...]\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { chunkSize: 1000, overlap: 200, out: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) usage(`${a} needs a whole number`);
      return v;
    };
    if (a === "--chunk-size") opt.chunkSize = num();
    else if (a === "--overlap") opt.overlap = num();
    else if (a === "--out") opt.out = argv[++i] ?? usage("--out needs a file");
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else opt.files.push(a);
  }
  return opt;
}

// Buffers output lines and writes them in big synchronous writes.
class Writer {
  constructor(fd) {
    this.fd = fd;
    this.parts = [];
    this.size = 0;
  }

  push(line) {
    this.parts.push(line);
    this.size += line.length;
    if (this.size >= FLUSH_BYTES) this.flush();
  }

  flush() {
    let buf = Buffer.from(this.parts.join(""), "utf8");
    this.parts = [];
    this.size = 0;
    while (buf.length) {
      try {
        buf = buf.subarray(writeSync(this.fd, buf));
      } catch (e) {
        if (e.code !== "EAGAIN") throw e;
      }
    }
  }
}

async function splitDoc(splitter, w, doc, text) {
  let seq = 0;
  let prev = -1;
  for (const chunk of await splitter.splitText(text)) {
    const start = text.indexOf(chunk, prev + 1);
    prev = start;
    w.push(JSON.stringify({ id: `${doc}:${seq}`, doc, seq, text: chunk,
      start, end: start + chunk.length }) + "\n");
    seq++;
  }
}

async function main() {
  const started = performance.now();
  const opt = parseArgs(process.argv.slice(2));
  const splitter = new RecursiveCharacterTextSplitter({
    chunkSize: opt.chunkSize, chunkOverlap: opt.overlap });
  const w = new Writer(opt.out ? openSync(opt.out, "w") : 1);
  if (opt.files.length) {
    for (const f of opt.files) await splitDoc(splitter, w, f, readFileSync(f, "utf8"));
  } else {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      const d = JSON.parse(line);
      await splitDoc(splitter, w, String(d.id), String(d.text));
    }
  }
  w.flush();
  if (process.env.LANGCHAIN_SPLIT_TIMING) {
    appendFileSync(process.env.LANGCHAIN_SPLIT_TIMING,
      `${started.toFixed(1)} ${(performance.now() - started).toFixed(1)}\n`);
  }
}

await main();
