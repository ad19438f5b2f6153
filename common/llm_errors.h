/* llm_errors: what a failed exchange with an LLM server means, private to
 * the client (llm.c). Each function fills res's code and message (what
 * happened and what to do) and says whether the same request may do
 * better later: 408, 409, 429 and 5xx but 501, dropped, cut and silent
 * answers may; other 4xx, 501, a request over the model's context, a text
 * too large for the server and an answer too big will not. */
#ifndef LANES_LLM_ERRORS_H
#define LANES_LLM_ERRORS_H

#include "llm.h"
#include "llm_http.h"
#include "llm_servers.h"

/* An answer with an HTTP error status from server e (path: the request's;
 * model: named in a 404's message, may be NULL). Sets res->refused when
 * the server refused the request for its content (a smaller one may
 * pass). Returns whether to retry. */
int llm_errors_http(const struct llm_server *e, const char *path, const char *model,
		    const struct llm_http_resp *r, struct llm_result *res);
/* An exchange that brought no whole answer (r->curl is not CURLE_OK):
 * refused, dropped, silent for idle_timeout_ms, larger than
 * max_body_bytes. Returns whether to retry. */
int llm_errors_transport(const struct llm_server *e, const char *path,
			 const struct llm_http_resp *r, const struct llm_config *cfg,
			 struct llm_result *res);
/* A 200 whose body parse (llm_wire.h) refused with prc, LLM_WIRE_CUT or
 * LLM_WIRE_SHAPE, saying why in msg. Returns whether to retry (a cut or
 * garbled body; a well-formed one of the wrong shape comes again). */
int llm_errors_body(const struct llm_server *e, const char *path, int prc, const char *msg,
		    struct llm_result *res);

#endif
