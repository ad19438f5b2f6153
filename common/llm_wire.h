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
	long prompt_tokens, completion_tokens;
	int truncated;     /* finish_reason / done_reason "length" */
};

struct llm_wire {
	const char *name;        /* "ollama", "openai" */
	const char *chat_path, *embed_path, *models_path;
	/* Appends the body of a chat request. schema: the answer's JSON schema
	 * as text, or NULL; json_schema_ok 0: the server refused json_schema,
	 * ask for a JSON object instead. */
	void (*chat_body)(struct buf *b, const struct llm_config *cfg, const struct llm_chat *req,
			  const char *schema, int json_schema_ok);
	/* Reads a chat answer, whole or streamed. Returns 0 and fills a (the
	 * caller frees a->text), or -1 with a message in err. */
	int (*chat_parse)(const char *body, size_t n, struct llm_answer *a, char *err,
			  size_t errlen);
	/* Appends the body of an embedding request of n texts. */
	void (*embed_body)(struct buf *b, const struct llm_config *cfg, const char *model,
			   const char *const *texts, size_t n, int dim_hint);
	/* Reads n vectors in input order into *v (n x *dim floats, the caller
	 * frees). Returns 0, or -1 with a message in err and *v NULL. */
	int (*embed_parse)(const char *body, size_t n_body, size_t n, float **v, int *dim,
			   char *err, size_t errlen);
	/* Looks model up in a parsed model list: returns 1 when listed (info
	 * gets the digest, when the list has one), 0 when not. have gets the
	 * names listed (the first few hundred bytes). */
	int (*model_listed)(const cJSON *list, const char *model, char *info, size_t infolen,
			    struct buf *have);
	/* The message for a model the server lacks: not in its list (names:
	 * the names listed, server_msg NULL) or a 404 on a model request
	 * (server_msg: the server's words, names NULL). */
	void (*model_missing)(char *out, size_t outlen, const char *model, const char *base_url,
			      const char *names, const char *server_msg);
};

extern const struct llm_wire llm_ollama_wire;
extern const struct llm_wire llm_openai_wire;

/* The JSON value of body when body is exactly one (white space around
 * allowed), else NULL. Free with cJSON_Delete. */
cJSON *llm_wire_single(const char *body, size_t n);

/* Calls fn on each JSON object of a streamed answer: NDJSON lines or SSE
 * "data: {...}" events; "data: [DONE]" sets *done. Returns 0, or -1 when
 * fn does or a line is not JSON (err says which). */
int llm_wire_stream(const char *body, size_t n, int *done,
		    int (*fn)(const cJSON *obj, void *ud), void *ud, char *err, size_t errlen);

/* Copies a JSON array of numbers into v (dim of them; *dim set by the
 * first vector when 0). Returns 0, or -1 with err naming vector idx. */
int llm_wire_vector(const cJSON *arr, size_t idx, float **v, size_t n, int *dim, char *err,
		    size_t errlen);

/* Appends {"role":role,"content":content} after a comma unless *first. */
void llm_wire_message(struct buf *b, int *first, const char *role, const char *content);

/* Whether a listed model name is model: equal, or Ollama's "m" for
 * "m:latest". */
int llm_wire_name_matches(const char *have, const char *want);

#endif
