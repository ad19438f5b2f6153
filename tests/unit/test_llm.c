/* Unit tests of the pure parts of the LLM client: backoff, Retry-After,
 * OpenAI reset durations, configuration from tunables (wire format and
 * why, redacted URL, refused keys, defaults). */
#include "llm.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>

int main(void)
{
	unsigned seed = 7;
	int in_range = 1, spread = 0;
	double first = -1;
	for (int i = 0; i < 1000; i++) {
		double d = llm_backoff_ms(100, 5000, 3, &seed);
		in_range &= d >= 0 && d <= 400;
		if (first < 0)
			first = d;
		spread |= fabs(d - first) > 1;
	}
	T_OK(in_range, "attempt 3 backoff within [0, base*4]");
	T_OK(spread, "backoff is jittered");
	int capped = 1;
	for (int i = 0; i < 1000; i++)
		capped &= llm_backoff_ms(100, 5000, 30, &seed) <= 5000;
	T_OK(capped, "backoff never above the cap");

	T_OK(fabs(llm_parse_retry_after("3", 0) - 3000) < 1e-9, "Retry-After seconds");
	T_OK(fabs(llm_parse_retry_after("0.5", 0) - 500) < 1e-9, "Retry-After fraction");
	/* Sun, 06 Nov 1994 08:49:37 GMT is 784111777 */
	T_OK(fabs(llm_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770) - 7000) < 1e-6,
	     "Retry-After HTTP date");
	T_OK(llm_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111790) == 0,
	     "Retry-After date in the past means now");
	T_OK(llm_parse_retry_after("soon", 0) < 0, "Retry-After garbage refused");
	T_OK(llm_parse_retry_after("-5", 0) < 0, "Retry-After negative refused");

	T_OK(fabs(llm_parse_duration("1s") - 1000) < 1e-9, "duration 1s");
	T_OK(fabs(llm_parse_duration("6m0s") - 360000) < 1e-9, "duration 6m0s");
	T_OK(fabs(llm_parse_duration("250ms") - 250) < 1e-9, "duration 250ms");
	T_OK(fabs(llm_parse_duration("1h2m3.5s") - 3723500) < 1e-9, "duration 1h2m3.5s");
	T_OK(llm_parse_duration("fast") < 0, "duration garbage refused");

	static const char *const secs[] = {"llm", NULL};
	struct tunables *t = tun_new(secs);
	char err[256];
	struct llm_config cfg;
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), 0, "defaults load");
	T_EQ_INT(cfg.backend, LLM_OLLAMA, "default backend is Ollama");
	T_EQ_STR(cfg.base_url, "http://127.0.0.1:11434", "default URL");
	T_EQ_INT(cfg.concurrency, 0, "concurrency auto is adaptive");
	llm_config_free(&cfg);
	tun_set(t, "llm.base_url", "http://host:8000/v1/", TUN_SRC_FLAG, "x", err, sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), 0, "openai URL loads");
	T_EQ_INT(cfg.backend, LLM_OPENAI, "a URL ending in /v1 means OpenAI");
	T_EQ_STR(cfg.base_url, "http://host:8000/v1", "trailing slash dropped");
	T_EQ_STR(cfg.backend_why, "auto: the URL ends in /v1", "the start line says why OpenAI");
	llm_config_free(&cfg);
	tun_set(t, "llm.base_url", "localhost:11434", TUN_SRC_FLAG, "x", err, sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), -1, "URL without scheme refused");
	llm_config_free(&cfg);
	tun_set(t, "llm.base_url", "http://host:8000", TUN_SRC_FLAG, "x", err, sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), 0, "a URL without /v1 loads");
	T_EQ_INT(cfg.backend, LLM_OLLAMA, "a URL without /v1 means Ollama (auto)");
	T_EQ_STR(cfg.backend_why, "auto: the URL does not end in /v1", "... and says so");
	llm_config_free(&cfg);
	tun_set(t, "llm.base_url", "http://me:s3cret@host:8000/v1", TUN_SRC_FLAG, "x", err,
		sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), 0, "a URL with a password loads");
	T_EQ_STR(cfg.shown_url, "http://me:<redacted>@host:8000/v1", "the shown URL hides it");
	T_EQ_STR(cfg.base_url, "http://me:s3cret@host:8000/v1", "the URL used keeps it");
	llm_config_free(&cfg);
	tun_set(t, "llm.api_key", "sk-abc\r\nX-Evil: 1", TUN_SRC_FLAG, "x", err, sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), -1, "a key with CR/LF is refused");
	T_OK(strstr(err, "line break") && !strstr(err, "sk-abc") && !strstr(err, "Evil"),
	     "the message says why and never shows the key: %s", err);
	llm_config_free(&cfg);
	tun_set(t, "llm.api_key", "sk-ok", TUN_SRC_FLAG, "x", err, sizeof err);
	tun_set(t, "llm.base_url", "http://h:1", TUN_SRC_FLAG, "x", err, sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), 0, "a plain key loads");
	T_EQ_INT(cfg.stream, 1, "chat answers are streamed by default");
	T_EQ_INT(cfg.idle_timeout_ms, 300000, "idle timeout 5 minutes by default");
	T_EQ_INT(cfg.max_body_bytes, 268435456, "answers up to 256 MiB by default");
	llm_config_free(&cfg);
	tun_set(t, "llm.api_key", "", TUN_SRC_FLAG, "x", err, sizeof err);
	tun_set(t, "llm.api_key_file", "/nonexistent/key", TUN_SRC_FLAG, "x", err, sizeof err);
	T_EQ_INT(llm_config_load(&cfg, t, err, sizeof err), -1, "missing key file refused");
	T_OK(strstr(err, "/nonexistent/key") != NULL, "message names the key file");
	llm_config_free(&cfg);
	tun_free(t);
	return t_done();
}
