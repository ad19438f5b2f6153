/* llm_config: the client's settings from the tunables' llm section, and
 * the endpoints of each use (a tool's own, or the llm section's). */
#include "llm.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim_url(const char *u)
{
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	return xstrndup(u, n);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* A key with a control character would add headers (CR/LF) or break the
 * one it is in. */
static int key_ok(const char *k)
{
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

void llm_endpoints_free(struct llm_endpoints *eps)
{
	for (int i = 0; i < eps->n; i++) {
		free(eps->v[i].url);
		free(eps->v[i].shown_url);
		free(eps->v[i].model);
		free(eps->v[i].api_key_file);
		if (eps->v[i].api_key) {
			memset(eps->v[i].api_key, 0, strlen(eps->v[i].api_key));
			free(eps->v[i].api_key);
		}
	}
	free(eps->v);
	memset(eps, 0, sizeof *eps);
}

/* backend: auto, ollama or openai; why: the setting that chose it. */
static int set_backend(struct llm_endpoint *e, const char *backend, const char *why)
{
	if (!strcmp(backend, "auto")) {
		int v1 = ends_with(e->url, "/v1");
		e->backend = v1 ? LLM_OPENAI : LLM_OLLAMA;
		e->backend_why = v1 ? "auto: the URL ends in /v1" : "auto: the URL does not end in /v1";
	} else if (!strcmp(backend, "openai") || !strcmp(backend, "ollama")) {
		e->backend = !strcmp(backend, "openai") ? LLM_OPENAI : LLM_OLLAMA;
		e->backend_why = why;
	} else {
		return -1;
	}
	return 0;
}

/* An endpoint's own API key, read from file (its first line). */
static int endpoint_key(struct llm_endpoint *e, const char *file, const char *from, char *err,
			size_t errlen)
{
	size_t len;
	char *k = read_file(file, &len);
	if (!k) {
		snprintf(err, errlen, "%s: %s: cannot read api_key_file '%s': %s", from,
			 e->shown_url, file, strerror(errno));
		return -1;
	}
	k[strcspn(k, "\r\n")] = '\0';
	if (!key_ok(k) || !*k) {
		snprintf(err, errlen, "%s: %s: the API key in '%s' is %s", from, e->shown_url,
			 file, *k ? "refused: it holds a control character (it would add HTTP "
			 "headers)" : "empty");
		memset(k, 0, strlen(k));
		free(k);
		return -1;
	}
	if (e->api_key) {
		memset(e->api_key, 0, strlen(e->api_key));
		free(e->api_key);
	}
	free(e->api_key_file);
	e->api_key = k;
	e->api_key_file = xstrdup(file);
	return 0;
}

/* One option of an entry, "key=value" (len bytes at p). */
static int endpoint_option(struct llm_endpoint *e, const char *p, size_t len, const char *from,
			   char *err, size_t errlen)
{
	char *opt = xstrndup(p, len);
	char *eq = strchr(opt, '=');
	int rc = 0;
	if (!eq || eq == opt || !eq[1]) {
		snprintf(err, errlen, "%s: '%s' after %s is not KEY=VALUE (backend, model, "
			 "capacity, weight, api_key_file)", from, opt, e->shown_url);
		free(opt);
		return -1;
	}
	*eq = '\0';
	const char *v = eq + 1;
	double d;
	if (!strcmp(opt, "backend")) {
		if (set_backend(e, v, "its backend=")) {
			snprintf(err, errlen, "%s: %s: backend '%s' is not auto, ollama or openai",
				 from, e->shown_url, v);
			rc = -1;
		}
	} else if (!strcmp(opt, "model")) {
		free(e->model);
		e->model = xstrdup(v);
	} else if (!strcmp(opt, "capacity")) {
		if (parse_double(v, &d) || d < 1 || d > 4096 || d != floor(d)) {
			snprintf(err, errlen, "%s: %s: capacity '%s' is not a whole number from 1 to "
				 "4096", from, e->shown_url, v);
			rc = -1;
		} else
			e->capacity = (int)d;
	} else if (!strcmp(opt, "weight")) {
		if (parse_double(v, &d) || !(d > 0) || d > 1e6) {
			snprintf(err, errlen, "%s: %s: weight '%s' is not a number above 0", from,
				 e->shown_url, v);
			rc = -1;
		} else
			e->weight = d;
	} else if (!strcmp(opt, "api_key_file")) {
		rc = endpoint_key(e, v, from, err, errlen);
	} else {
		snprintf(err, errlen, "%s: %s: unknown option '%s' (backend, model, capacity, "
			 "weight, api_key_file)", from, e->shown_url, opt);
		rc = -1;
	}
	free(opt);
	return rc;
}

int llm_endpoints_parse(struct llm_endpoints *eps, const char *spec, const char *from,
			const char *backend, char *err, size_t errlen)
{
	memset(eps, 0, sizeof *eps);
	snprintf(eps->from, sizeof eps->from, "%s", from);
	const char *p = spec;
	for (;;) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		size_t len = strcspn(p, " \t\r\n");
		size_t ulen = strcspn(p, ",");
		if (ulen > len)
			ulen = len;
		eps->v = xrealloc(eps->v, (size_t)(eps->n + 1) * sizeof *eps->v);
		struct llm_endpoint *e = &eps->v[eps->n++];
		memset(e, 0, sizeof *e);
		char *u = xstrndup(p, ulen);
		e->url = trim_url(u);
		free(u);
		e->shown_url = redact_url(e->url);
		e->weight = 1;
		if (strncmp(e->url, "http://", 7) && strncmp(e->url, "https://", 8)) {
			snprintf(err, errlen, "%s: '%s' must start with http:// or https://", from,
				 e->shown_url);
			llm_endpoints_free(eps);
			return -1;
		}
		if (set_backend(e, backend, "llm.backend")) {
			snprintf(err, errlen, "llm.backend '%s' is not auto, ollama or openai", backend);
			llm_endpoints_free(eps);
			return -1;
		}
		const char *o = p + ulen;
		while (o < p + len) {
			o++; /* the comma */
			size_t olen = strcspn(o, ", \t\r\n");
			if (endpoint_option(e, o, olen, from, err, errlen)) {
				llm_endpoints_free(eps);
				return -1;
			}
			o += olen;
		}
		p += len;
	}
	if (!eps->n) {
		snprintf(err, errlen, "%s: no endpoint in the list", from);
		return -1;
	}
	return 0;
}

/* The setting of a use's endpoints: the first non-empty one of keys
 * (most specific first), unless llm.base_url came from a flag. */
static const char *pick_setting(const struct tunables *t, const char *const *keys)
{
	if (tun_source_of(t, "llm.base_url") == TUN_SRC_FLAG)
		return "llm.base_url";
	for (const char *const *k = keys; *k; k++)
		if (*tun_str(t, *k))
			return *k;
	return "llm.base_url";
}

static int load_endpoints(struct llm_config *cfg, const struct tunables *t,
			  const char *section, char *err, size_t errlen)
{
	int tool_chat = section && (!strcmp(section, "mine") || !strcmp(section, "classify") ||
				    !strcmp(section, "consolidate"));
	int tool_embed2 = section && (!strcmp(section, "classify") ||
				      !strcmp(section, "consolidate"));
	char chat_key[64], emb_key[64];
	snprintf(chat_key, sizeof chat_key, "%s.endpoints", section ? section : "llm");
	snprintf(emb_key, sizeof emb_key, "%s.embed_endpoints", section ? section : "llm");
	const char *chat_keys[] = {tool_chat ? chat_key : "llm.endpoints", "llm.endpoints", NULL};
	const char *emb_keys[] = {tool_embed2 ? emb_key : section ? "embed.endpoints"
								 : "llm.endpoints",
				  section ? "embed.endpoints" : "llm.endpoints", "llm.endpoints",
				  NULL};
	const char *const *keys[2] = {chat_keys, emb_keys};
	for (int u = 0; u < 2; u++) {
		const char *from = pick_setting(t, keys[u]);
		if (llm_endpoints_parse(&cfg->ep[u], tun_str(t, from), from,
					tun_str(t, "llm.backend"), err, errlen))
			return -1;
		if (!strcmp(from, "llm.base_url") && cfg->ep[u].n > 1) {
			snprintf(err, errlen, "llm.base_url holds one server; several go in "
				 "llm.endpoints");
			return -1;
		}
	}
	const struct llm_endpoint *first = &cfg->ep[LLM_USE_CHAT].v[0];
	cfg->base_url = xstrdup(first->url);
	cfg->shown_url = xstrdup(first->shown_url);
	cfg->backend = first->backend;
	cfg->backend_why = first->backend_why;
	return 0;
}

int llm_config_concurrency(const struct llm_config *cfg, enum llm_use use)
{
	int total = 0;
	for (int i = 0; i < cfg->ep[use].n; i++) {
		int cap = cfg->ep[use].v[i].capacity;
		int max = cap > 0 ? cap : cfg->max_concurrency;
		total += cfg->concurrency > 0 && cfg->concurrency < max ? cfg->concurrency : max;
	}
	return total > 0 ? total : 1;
}

int llm_config_load(struct llm_config *cfg, const struct tunables *t, char *err,
		    size_t errlen)
{
	return llm_config_load_for(cfg, t, NULL, err, errlen);
}

int llm_config_load_for(struct llm_config *cfg, const struct tunables *t, const char *section,
			char *err, size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	if (load_endpoints(cfg, t, section, err, errlen))
		return -1;
	const char *key = tun_str(t, "llm.api_key");
	const char *key_file = tun_str(t, "llm.api_key_file");
	if (*key_file && !*key) {
		size_t len;
		char *k = read_file(key_file, &len);
		if (!k) {
			snprintf(err, errlen, "cannot read llm.api_key_file '%s': %s", key_file,
				 strerror(errno));
			return -1;
		}
		k[strcspn(k, "\r\n")] = '\0';
		cfg->api_key = k;
	} else {
		cfg->api_key = xstrdup(key);
	}
	if (!key_ok(cfg->api_key)) {
		snprintf(err, errlen, "the API key (%s) holds a line break or another control "
			 "character: refused (it would add HTTP headers); check how it was set",
			 *key_file && !*key ? "llm.api_key_file" : "llm.api_key or OPENAI_API_KEY");
		return -1;
	}
	cfg->connect_timeout_ms = tun_int(t, "llm.connect_timeout_ms");
	cfg->timeout_ms = tun_int(t, "llm.timeout_ms");
	cfg->idle_timeout_ms = tun_int(t, "llm.idle_timeout_ms");
	cfg->max_body_bytes = tun_int(t, "llm.max_body_bytes");
	cfg->stream = !strcmp(tun_str(t, "llm.stream"), "on");
	cfg->max_attempts = (int)tun_int(t, "llm.max_attempts");
	cfg->backoff_ms = (double)tun_int(t, "llm.backoff_ms");
	cfg->backoff_max_ms = (double)tun_int(t, "llm.backoff_max_ms");
	cfg->rpm = tun_int(t, "llm.rpm");
	cfg->tpm = tun_int(t, "llm.tpm");
	cfg->concurrency = (int)tun_int(t, "llm.concurrency");
	cfg->max_concurrency = (int)tun_int(t, "llm.max_concurrency");
	if (cfg->concurrency > cfg->max_concurrency)
		cfg->max_concurrency = cfg->concurrency;
	cfg->temperature = tun_float(t, "llm.temperature");
	cfg->seed = tun_int(t, "llm.seed");
	cfg->num_ctx = tun_int(t, "llm.num_ctx");
	cfg->keep_alive = xstrdup(tun_str(t, "llm.keep_alive"));
	return 0;
}

void llm_config_free(struct llm_config *cfg)
{
	free(cfg->base_url);
	free(cfg->shown_url);
	if (cfg->api_key) {
		/* do not leave the key in freed memory */
		memset(cfg->api_key, 0, strlen(cfg->api_key));
		free(cfg->api_key);
	}
	free(cfg->keep_alive);
	llm_endpoints_free(&cfg->ep[0]);
	llm_endpoints_free(&cfg->ep[1]);
	memset(cfg, 0, sizeof *cfg);
}


void llm_config_print(const struct tunables *t, const char *section, FILE *f)
{
	int chat = !strcmp(section, "mine") || !strcmp(section, "classify") ||
		   !strcmp(section, "consolidate");
	int embed = !strcmp(section, "embed") || !strcmp(section, "classify") ||
		    !strcmp(section, "consolidate") || !strcmp(section, "store");
	struct llm_config cfg;
	char err[512];
	if (llm_config_load_for(&cfg, t, section, err, sizeof err)) {
		fprintf(f, "# servers: unusable settings: %s\n", err);
		llm_config_free(&cfg);
		return;
	}
	for (int u = 0; u < 2; u++) {
		if (!(u == LLM_USE_CHAT ? chat : embed))
			continue;
		const struct llm_endpoints *eps = &cfg.ep[u];
		fprintf(f, "# %s servers (%s):", u == LLM_USE_CHAT ? "chat" : "embedding", eps->from);
		for (int i = 0; i < eps->n; i++) {
			const struct llm_endpoint *e = &eps->v[i];
			fprintf(f, "%s %s (%s", i ? "," : "", e->shown_url,
				e->backend == LLM_OPENAI ? "openai" : "ollama");
			if (e->model)
				fprintf(f, ", model %s", e->model);
			if (e->capacity)
				fprintf(f, ", capacity %d", e->capacity);
			if (e->weight != 1)
				fprintf(f, ", weight %g", e->weight);
			fprintf(f, ")");
		}
		fprintf(f, "\n");
	}
	llm_config_free(&cfg);
}
