/* llm_wire: what differs between the two wire formats the client speaks,
 * Ollama's native API (llm_ollama.c) and the OpenAI-compatible one
 * (llm_openai.c): paths, request bodies, and how answers, vectors and
 * model lists are read. llm.c picks one per client and never looks inside
 * a body itself. Also the helpers both formats share (llm_wire.c). */
#ifndef LANES_LLM_WIRE_H
#define LANES_LLM_WIRE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "llm.h"
#include "util.h"

/* A chat answer read from a 200 body. */
struct llm_answer {
	char *text;        /* the model's text (owned) */
	long prompt_tokens, completion_tokens; /* -1 until the answer says */
	int truncated;     /* finish_reason / done_reason "length" */
};

/* How a wire format reads one answer object: the model's text (streamed:
 * a chunk of a streamed answer), and the token counts and finish reason
 * into a. */
typedef const char *(*llm_wire_content_fn)(const cJSON *obj, int streamed);
typedef void (*llm_wire_usage_fn)(struct llm_answer *a, const cJSON *obj);

struct llm_wire {
	const char *name;        /* "ollama", "openai" */
	const char *chat_path, *embed_path, *models_path;
	/* Appends the body of a chat request. schema: the answer's JSON schema
	 * as text, or NULL; json_schema_ok 0: the server refused json_schema,
	 * ask for a JSON object instead; stream: ask for a streamed answer;
	 * seed: the sampling seed, -1 for none. */
	void (*chat_body)(struct buf *b, const struct llm_config *cfg, const struct llm_chat *req,
			  const char *schema, int json_schema_ok, int stream, long seed);
	/* Read a chat answer with llm_wire_chat_parse. */
	llm_wire_content_fn content;
	llm_wire_usage_fn usage;
	/* Appends the body of an embedding request of n texts. */
	void (*embed_body)(struct buf *b, const struct llm_config *cfg, const char *model,
			   const char *const *texts, size_t n, int dim_hint);
	/* The vectors of an embedding answer: the array under vectors_key;
	 * by_index: items {"index", "embedding"} in any order, else bare
	 * arrays in input order. */
	const char *vectors_key;
	int by_index;
	/* The model list: objects under models_key named by name_key. */
	const char *models_key, *name_key;
	/* The message for a model the server lacks: not in its list (names:
	 * the names listed, server_msg NULL) or a 404 on a model request
	 * (server_msg: the server's words, names NULL). */
	void (*model_missing)(char *out, size_t outlen, const char *model, const char *base_url,
			      const char *names, const char *server_msg);
};

extern const struct llm_wire llm_ollama_wire;
extern const struct llm_wire llm_openai_wire;

/* What a reader of an answer found wrong. */
enum { LLM_WIRE_CUT = -1,   /* cut or garbled: the same request may do better */
       LLM_WIRE_SHAPE = -2, /* well-formed but not the answer asked for */
};

/* Reads a chat answer: one JSON object, or a stream of them (NDJSON lines
 * whose last has "done": true, or SSE "data: {...}" events ending with
 * "data: [DONE]"). Returns 0 and fills a (the caller frees a->text), or
 * LLM_WIRE_CUT / LLM_WIRE_SHAPE with a message in err. */
int llm_wire_chat_parse(const char *body, size_t n, struct llm_answer *a,
			llm_wire_content_fn content, llm_wire_usage_fn usage, char *err,
			size_t errlen);

/* Reads the n vectors of an embedding answer in input order into *v
 * (n x *dim floats, the caller frees), and the request's tokens into
 * *tokens (OpenAI usage.prompt_tokens, Ollama prompt_eval_count; -1 when
 * the answer has none). Returns 0, or LLM_WIRE_CUT (not JSON) /
 * LLM_WIRE_SHAPE with a message in err and *v NULL. */
int llm_wire_embed_parse(const struct llm_wire *w, const char *body, size_t n_body, size_t n,
			 float **v, int *dim, long *tokens, char *err, size_t errlen);

/* Looks model up in a parsed model list, by name or by one of an entry's
 * "aliases" (llama-server): returns 1 when listed (info gets the first 12
 * digits of its digest, when the list has one), 0 when not.
 * have gets the names listed (the first few hundred bytes). */
int llm_wire_model_listed(const struct llm_wire *w, const cJSON *list, const char *model,
			  char *info, size_t infolen, struct buf *have);

/* Appends the start both formats share: {"model":...,"stream":S,
 * "messages":[note, system, user, and the fed-back turn when there is
 * one]; note (may be NULL) is a system message of the client's own. */
void llm_wire_chat_head(struct buf *b, const struct llm_chat *req, int stream, const char *note);
/* Appends {"model":...,"input":[texts...]. */
void llm_wire_embed_head(struct buf *b, const char *model, const char *const *texts, size_t n);

#endif
