/* llm_config: the client's settings from the tunables' llm section. */
#include "llm.h"
#include "util.h"

#include <errno.h>
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

int llm_config_load(struct llm_config *cfg, const struct tunables *t, char *err,
		    size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->base_url = trim_url(tun_str(t, "llm.base_url"));
	cfg->shown_url = redact_url(cfg->base_url);
	if (strncmp(cfg->base_url, "http://", 7) && strncmp(cfg->base_url, "https://", 8)) {
		snprintf(err, errlen, "llm.base_url '%s' must start with http:// or https://",
			 cfg->shown_url);
		return -1;
	}
	const char *b = tun_str(t, "llm.backend");
	if (!strcmp(b, "auto")) {
		int v1 = ends_with(cfg->base_url, "/v1");
		cfg->backend = v1 ? LLM_OPENAI : LLM_OLLAMA;
		cfg->backend_why = v1 ? "auto: the URL ends in /v1" : "auto: the URL does not end in /v1";
	} else {
		cfg->backend = !strcmp(b, "openai") ? LLM_OPENAI : LLM_OLLAMA;
		cfg->backend_why = "llm.backend";
	}
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
	memset(cfg, 0, sizeof *cfg);
}

