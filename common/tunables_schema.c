/* tunables_schema: every tunable of every tool, with its type, default and
 * meaning. pipelines/tunables.yaml and man/tunables.5 mirror this table
 * (tests/unit/test_tunables_doc.c checks that they agree). */
#include "tunables.h"

#include <float.h>

#define BIG 1e15

/* Keys every filter has: concurrency, memory bound, failure policy, logs. */
#define FILTER_KEYS(sec)                                                                 \
	{sec, "workers", TUN_INT, "auto", 1, 4096, 1, NULL,                              \
	 "worker threads; auto = sized from the machine (and the server), 1 = sequential"}, \
	{sec, "inflight", TUN_INT, "auto", 1, 1000000, 1, NULL,                          \
	 "records in flight at most (backpressure); auto = (2 x workers + 4) x records "  \
	 "per job, at most 65536"},                                                      \
	{sec, "max_line", TUN_INT, "33554432", 1024, 4294967296.0, 0, NULL,              \
	 "longest input line in bytes; longer lines are rejected"},                      \
	{sec, "max_failure_ratio", TUN_FLOAT, "0", 0, 1, 0, NULL,                        \
	 "share of failed records tolerated before the exit status is 1"},               \
	{sec, "stats_interval", TUN_INT, "30", 0, 86400, 0, NULL,                        \
	 "seconds between stats lines when stderr is not a terminal (0 = none)"},        \
	{sec, "progress", TUN_ENUM, "auto", 0, 0, 0, "auto|always|never",                \
	 "progress line on stderr: auto = only on a terminal"},                          \
	{sec, "stop_grace_ms", TUN_INT, "10000", 0, 86400000, 0, NULL,                   \
	 "after SIGINT or SIGTERM, how long records in flight may still finish; then they are abandoned (passed on unchanged, left pending)"}

const struct tun_def tun_schema[] = {
	{"llm", "backend", TUN_ENUM, "auto", 0, 0, 0, "auto|ollama|openai",
	 "wire format; auto = openai when the base URL ends in /v1, else ollama"},
	{"llm", "base_url", TUN_STR, "http://127.0.0.1:11434", 0, 0, 0, NULL,
	 "server address (env: OLLAMA_HOST, OPENAI_BASE_URL)"},
	{"llm", "api_key", TUN_SECRET, "", 0, 0, 0, NULL,
	 "API key (env: OPENAI_API_KEY); never logged"},
	{"llm", "api_key_file", TUN_STR, "", 0, 0, 0, NULL,
	 "file holding the API key (first line)"},
	{"llm", "connect_timeout_ms", TUN_INT, "5000", 1, 600000, 0, NULL,
	 "TCP connect timeout"},
	{"llm", "timeout_ms", TUN_INT, "3600000", 1, 86400000, 0, NULL,
	 "longest time one request may take, however busy its stream"},
	{"llm", "idle_timeout_ms", TUN_INT, "300000", 100, 86400000, 0, NULL,
	 "longest silence: a streamed answer (chat) is given up when no byte came for this long; an answer that is not streamed (embeddings) is waited for this long"},
	{"llm", "stream", TUN_ENUM, "on", 0, 0, 0, "on|off",
	 "chat answers streamed, so that a stalled server is told from a slow one (llm.idle_timeout_ms)"},
	{"llm", "max_body_bytes", TUN_INT, "268435456", 1024, 1099511627776.0, 0, NULL,
	 "largest answer, decoded (gzip included); a bigger one fails the request with body_too_large"},
	{"llm", "max_attempts", TUN_INT, "6", 1, 100, 0, NULL,
	 "attempts per request (retries for 408, 409, 429, 5xx but 501, dropped, cut or silent answers)"},
	{"llm", "backoff_ms", TUN_INT, "500", 1, 600000, 0, NULL,
	 "base of the exponential backoff (full jitter)"},
	{"llm", "backoff_max_ms", TUN_INT, "30000", 1, 3600000, 0, NULL,
	 "longest wait between attempts, also the cap of every wait a server asks for (Retry-After, x-ratelimit-reset)"},
	{"llm", "rpm", TUN_INT, "0", 0, 100000000, 0, NULL,
	 "requests per minute for the whole tool (0 = unlimited)"},
	{"llm", "tpm", TUN_INT, "0", 0, 10000000000.0, 0, NULL,
	 "tokens per minute for the whole tool (0 = unlimited)"},
	{"llm", "concurrency", TUN_INT, "auto", 1, 4096, 1, NULL,
	 "requests in flight; auto = adaptive (grows while throughput grows)"},
	{"llm", "max_concurrency", TUN_INT, "64", 1, 4096, 0, NULL,
	 "ceiling of the adaptive concurrency"},
	{"llm", "temperature", TUN_FLOAT, "0", 0, 2, 0, NULL, "sampling temperature"},
	{"llm", "seed", TUN_INT, "42", -1, 2147483647.0, 0, NULL,
	 "sampling seed (-1 = none)"},
	{"llm", "num_ctx", TUN_INT, "0", 0, 10000000, 0, NULL,
	 "Ollama context length (0 = server default)"},
	{"llm", "keep_alive", TUN_STR, "", 0, 0, 0, NULL,
	 "Ollama keep_alive (e.g. 30m; empty = server default)"},
	{"llm", "log", TUN_ENUM, "off", 0, 0, 0, "off|errors|all",
	 "request log: errors = failed requests and invalid answers whole, the others as one short line (tokens, latency); all = every prompt and answer"},
	{"llm", "log_file", TUN_STR, "", 0, 0, 0, NULL,
	 "NDJSON file the request log is appended to (store log --add moves it into the store; ingest.sh picks one)"},

	FILTER_KEYS("segment"),
	{"segment", "target", TUN_INT, "1000", 1, 100000000, 0, NULL,
	 "segment size to aim for (whole sentences)"},
	{"segment", "max", TUN_INT, "1500", 1, 100000000, 0, NULL,
	 "hard maximum segment size"},
	{"segment", "overlap", TUN_INT, "0", 0, 100000000, 0, NULL,
	 "context repeated from the previous segment"},
	{"segment", "unit", TUN_ENUM, "chars", 0, 0, 0, "chars|tokens",
	 "size unit: characters (code points) or approximate tokens (4 bytes)"},
	{"segment", "format", TUN_ENUM, "auto", 0, 0, 0, "auto|text|markdown|srt|vtt|html|pdf|docx|odt",
	 "document format; auto = from the file name and content"},
	{"segment", "field", TUN_STR, "text", 0, 0, 0, NULL,
	 "field holding the document text in NDJSON input"},
	{"segment", "root", TUN_STR, "", 0, 0, 0, NULL,
	 "file ids relative to this directory, however paths are spelled (empty = as typed)"},
	{"segment", "max_document", TUN_INT, "268435456", 1, 1099511627776.0, 0, NULL,
	 "largest document file in bytes; a bigger one (or endless input) fails with too_big"},
	{"segment", "max_pages", TUN_INT, "10000", 1, 100000000, 0, NULL,
	 "most pages of a PDF read; a longer one fails with too_big"},
	{"segment", "max_depth", TUN_INT, "256", 8, 100000, 0, NULL,
	 "deepest element nesting of HTML, DOCX and ODT read; deeper content is left out (HTML) or fails"},

	FILTER_KEYS("mine"),
	{"mine", "model", TUN_STR, "llama3.2:3b", 0, 0, 0, NULL, "chat model"},
	{"mine", "prompt", TUN_STR, "", 0, 0, 0, NULL,
	 "prompt template file (empty = pipelines/prompts/mine.txt)"},
	{"mine", "schema", TUN_STR, "", 0, 0, 0, NULL,
	 "JSON schema file of the answer (empty = pipelines/prompts/mine.schema.json)"},
	{"mine", "max_tokens", TUN_INT, "2048", 1, 1000000, 0, NULL,
	 "longest answer in tokens"},
	{"mine", "answer_attempts", TUN_INT, "3", 1, 100, 0, NULL,
	 "answers asked for per record when they are not valid JSON for the schema (the second one with the error fed back)"},
	{"mine", "field", TUN_STR, "text", 0, 0, 0, NULL,
	 "record field that {{text}} in the prompt template reads"},

	FILTER_KEYS("embed"),
	{"embed", "model", TUN_STR, "nomic-embed-text", 0, 0, 0, NULL,
	 "embedding model, or `hash` for the offline feature-hashing embedder"},
	{"embed", "batch", TUN_INT, "32", 1, 2048, 0, NULL, "texts per request"},
	{"embed", "field", TUN_STR, "text", 0, 0, 0, NULL, "field holding the text"},
	{"embed", "dim", TUN_INT, "384", 8, 65536, 0, NULL,
	 "dimension of the hash embedder (and `dimensions` for OpenAI)"},
	{"embed", "max_inflight_bytes", TUN_INT, "268435456", 65536, 1099511627776.0, 0, NULL,
	 "bytes of input lines in flight at most, beside the records cap (inflight): reading pauses at either"},

	FILTER_KEYS("classify"),
	{"classify", "taxonomy", TUN_STR, "", 0, 0, 0, NULL, "taxonomy file (YAML or NDJSON)"},
	{"classify", "mode", TUN_ENUM, "embed", 0, 0, 0, "embed|verify|triage",
	 "embed: threshold only; verify: LLM checks the best; triage: LLM picks"},
	{"classify", "threshold", TUN_FLOAT, "0.5", -1, 1, 0, NULL,
	 "lowest cosine similarity accepted"},
	{"classify", "top_k", TUN_INT, "5", 1, 1000, 0, NULL, "shortlist size"},
	{"classify", "model", TUN_STR, "llama3.2:3b", 0, 0, 0, NULL,
	 "chat model for verify and triage"},
	{"classify", "embed_model", TUN_STR, "nomic-embed-text", 0, 0, 0, NULL,
	 "embedding model (or `hash`)"},
	{"classify", "field", TUN_STR, "text", 0, 0, 0, NULL, "field holding the item text"},
	{"classify", "cache_dir", TUN_STR, "", 0, 0, 0, NULL,
	 "taxonomy vector cache (empty = $XDG_CACHE_HOME/lanes)"},
	{"classify", "prompt_verify", TUN_STR, "", 0, 0, 0, NULL,
	 "prompt template file of verify mode (empty = pipelines/prompts/classify_verify.txt)"},
	{"classify", "prompt_triage", TUN_STR, "", 0, 0, 0, NULL,
	 "prompt template file of triage mode (empty = pipelines/prompts/classify_triage.txt)"},
	{"classify", "answer_attempts", TUN_INT, "3", 1, 100, 0, NULL,
	 "answers asked for per item when they are not in the required form (later ones with the error fed back)"},
	{"classify", "max_tokens", TUN_INT, "32", 1, 1000000, 0, NULL,
	 "longest answer in tokens (verify and triage)"},
	{"classify", "batch", TUN_INT, "32", 1, 2048, 0, NULL,
	 "items per job and per embedding request"},
	{"classify", "examples", TUN_ENUM, "shortlist", 0, 0, 0, "shortlist|prompt",
	 "shortlist: entries' examples are embedded and an entry scores the best of its text and examples; prompt: examples are only shown to the chat model"},
	{"classify", "dim", TUN_INT, "384", 8, 65536, 0, NULL,
	 "dimension of the hash embedder (and `dimensions` for OpenAI); equal to embed.dim to reuse embed's vectors"},

	FILTER_KEYS("consolidate"),
	{"consolidate", "lists", TUN_STR, "people,organisations,jargon", 0, 0, 0, NULL,
	 "lists of the mined object to consolidate: LIST[:FIELD][=KIND], KIND person, organisation or term"},
	{"consolidate", "entities", TUN_STR, "", 0, 0, 0, NULL,
	 "entities of an earlier run (NDJSON) to go on from (empty = none)"},
	{"consolidate", "mode", TUN_ENUM, "embed", 0, 0, 0, "embed|verify",
	 "embed: names and embeddings only; verify: the LLM checks the uncertain band"},
	{"consolidate", "threshold", TUN_FLOAT, "0.85", -1, 1, 0, NULL,
	 "cosine similarity of two names from which they are one entity"},
	{"consolidate", "uncertain", TUN_FLOAT, "0.6", -1, 1, 0, NULL,
	 "cosine similarity from which, below the threshold, verify asks the LLM"},
	{"consolidate", "model", TUN_STR, "llama3.2:3b", 0, 0, 0, NULL,
	 "chat model of verify"},
	{"consolidate", "embed_model", TUN_STR, "nomic-embed-text", 0, 0, 0, NULL,
	 "embedding model of the names (or `hash`)"},
	{"consolidate", "dim", TUN_INT, "384", 8, 65536, 0, NULL,
	 "dimension of the hash embedder (and `dimensions` for OpenAI)"},
	{"consolidate", "batch", TUN_INT, "32", 1, 2048, 0, NULL,
	 "names per embedding request"},
	{"consolidate", "prompt", TUN_STR, "", 0, 0, 0, NULL,
	 "prompt template file of verify (empty = pipelines/prompts/consolidate_verify.txt)"},
	{"consolidate", "answer_attempts", TUN_INT, "3", 1, 100, 0, NULL,
	 "answers asked for per pair when they are not in the required form (later ones with the error fed back)"},
	{"consolidate", "max_tokens", TUN_INT, "32", 1, 1000000, 0, NULL,
	 "longest answer in tokens (verify)"},

	FILTER_KEYS("store"),
	{"store", "db", TUN_STR, "lanes.db", 0, 0, 0, NULL, "SQLite database file"},
	{"store", "batch_records", TUN_INT, "1000", 1, 10000000, 0, NULL,
	 "records per transaction at most"},
	{"store", "batch_ms", TUN_INT, "200", 1, 3600000, 0, NULL,
	 "longest a transaction stays open"},
	{"store", "synchronous", TUN_ENUM, "normal", 0, 0, 0, "off|normal|full",
	 "SQLite synchronous: normal is durable across crashes of the process in WAL mode, full also across power loss"},
	{"store", "busy_timeout_ms", TUN_INT, "60000", 0, 86400000, 0, NULL,
	 "how long a writer waits for another one"},
	{"store", "max_attempts", TUN_INT, "3", 1, 1000, 0, NULL,
	 "failed runs of a stage after which a record is given up"},
};

const size_t tun_schema_len = sizeof tun_schema / sizeof tun_schema[0];
