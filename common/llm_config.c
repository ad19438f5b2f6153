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

int llm_config_load(struct llm_config *cfg, const struct tunables *t, char *err,
		    size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->base_url = trim_url(tun_str(t, "llm.base_url"));
	if (strncmp(cfg->base_url, "http://", 7) && strncmp(cfg->base_url, "https://", 8)) {
		snprintf(err, errlen, "llm.base_url '%s' must start with http:// or https://",
			 cfg->base_url);
		return -1;
	}
	const char *b = tun_str(t, "llm.backend");
	if (!strcmp(b, "openai") || (!strcmp(b, "auto") && ends_with(cfg->base_url, "/v1")))
		cfg->backend = LLM_OPENAI;
	else
		cfg->backend = LLM_OLLAMA;
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
	cfg->connect_timeout_ms = tun_int(t, "llm.connect_timeout_ms");
	cfg->timeout_ms = tun_int(t, "llm.timeout_ms");
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
	if (cfg->api_key) {
		/* do not leave the key in freed memory */
		memset(cfg->api_key, 0, strlen(cfg->api_key));
		free(cfg->api_key);
	}
	free(cfg->keep_alive);
	memset(cfg, 0, sizeof *cfg);
}

