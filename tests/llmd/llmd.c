/* llmd.c: main of llmd, the LLM test double: parses flags, listens, writes
 * the port file, accepts connections (a thread each) and stops cleanly on
 * SIGTERM or SIGINT. See README.md for the flags and endpoints. */
#include "llmd.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MODELS "llama3.2:3b,nomic-embed-text,text-embedding-3-small,gpt-4o-mini"
#define THREAD_STACK (1024 * 1024)

struct llmd_fixed llmd;

static volatile sig_atomic_t got_signal;

static const char usage[] =
	"usage: llmd [--port N] [--host ADDR] [--port-file FILE] [--lanes N]\n"
	"            [--queue-max N] [--latency-ms X] [--per-item-ms X] [--jitter-ms X]\n"
	"            [--models a,b,c] [--dim N] [--api-key KEY] [--fault-rate P]\n"
	"            [--faults LIST] [--retry-after S] [--retry-after-date] [--slow-ms X]\n"
	"            [--fail-all CODE|drop] [--seed N] [--max-batch N] [--script FILE]\n"
	"            [--api both|ollama|openai] [--aliases a,b] [--ctx N] [--llama-props]\n"
	"            [--no-embeddings] [--batch-noise X] [--batch-flip P] [--quiet]\n"
	"            [--verbose]\n"
	"An HTTP server speaking the Ollama and OpenAI wire formats with deterministic\n"
	"answers, for tests. See tests/llmd/README.md.\n";

static void on_signal(int sig)
{
	got_signal = sig;
}

const struct llmd_model *model_find(const char *name)
{
	char *full = strchr(name, ':') ? NULL : xasprintf("%s:latest", name);
	const struct llmd_model *found = NULL;
	for (size_t i = 0; i < llmd.naliases && !found; i++)
		if (!strcmp(name, llmd.aliases[i]))
			found = &llmd.models[0];
	for (size_t i = 0; i < llmd.nmodels && !found; i++) {
		const struct llmd_model *m = &llmd.models[i];
		if (!strcmp(name, m->name) || !strcmp(name, m->full) ||
		    (full && !strcmp(full, m->full)))
			found = m;
	}
	free(full);
	return found;
}

static void add_models(const char *list)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			llmd.models = xrealloc(llmd.models, (llmd.nmodels + 1) * sizeof *llmd.models);
			struct llmd_model *m = &llmd.models[llmd.nmodels++];
			memset(m, 0, sizeof *m);
			m->name = xstrndup(s, (size_t)(e - s));
			m->full = strchr(m->name, ':') ? xstrdup(m->name)
				: xasprintf("%s:latest", m->name);
			m->embed_only = strstr(m->name, "embed") != NULL;
			uint64_t h = fnv64(FNV64_INIT, m->full, strlen(m->full));
			for (int k = 0; k < 4; k++) {
				h = fnv64(h, "digest", 6);
				snprintf(m->digest + 16 * k, 17, "%016llx", (unsigned long long)h);
			}
			m->size = (m->embed_only ? 200000000LL : 1000000000LL) +
				  (long long)(h % 1000000000ULL);
		}
		p += n + (p[n] == ',');
	}
	if (!llmd.nmodels)
		log_fatal("--models: no model names in '%s'", list);
}

static void free_models(void)
{
	for (size_t i = 0; i < llmd.nmodels; i++) {
		free(llmd.models[i].name);
		free(llmd.models[i].full);
	}
	free(llmd.models);
	llmd.models = NULL;
	llmd.nmodels = 0;
	for (size_t i = 0; i < llmd.naliases; i++)
		free(llmd.aliases[i]);
	free(llmd.aliases);
	llmd.aliases = NULL;
	llmd.naliases = 0;
}

/* --aliases a,b: more names of the first model, as llama-server's --alias */
static void add_aliases(const char *list)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n) {
			llmd.aliases = xrealloc(llmd.aliases, (llmd.naliases + 1) * sizeof *llmd.aliases);
			llmd.aliases[llmd.naliases++] = xstrndup(p, n);
		}
		p += n + (p[n] == ',');
	}
}

static long flag_long(const char *flag, const char *v, long min, long max)
{
	long x;
	if (parse_long(v, min, max, &x))
		log_fatal("%s: '%s' is not an integer from %ld to %ld", flag, v, min, max);
	return x;
}

static double flag_double(const char *flag, const char *v, double min, double max)
{
	double x;
	if (parse_double(v, &x) || x < min || x > max)
		log_fatal("%s: '%s' is not a number from %g to %g", flag, v, min, max);
	return x;
}

/* --script FILE: the table of scripted replies (README.md). */
static void load_script(const char *path)
{
	size_t len;
	char *text = read_file(path, &len);
	if (!text)
		log_fatal("--script %s: %s", path, strerror(errno));
	struct buf err = {0};
	if (script_load(text, len, &err))
		log_fatal("--script %s: %s", path, err.p);
	free(text);
}

static void parse_flags(int argc, char **argv, struct llmd_tunables *t)
{
	const char *models = DEFAULT_MODELS;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		const char *v = NULL;
		char *eq = NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			exit(0);
		}
		if (!strcmp(a, "--quiet")) {
			llmd.quiet = 1;
			continue;
		}
		if (!strcmp(a, "--verbose")) {
			llmd.verbose = 1;
			continue;
		}
		if (!strcmp(a, "--retry-after-date")) {
			t->retry_after_date = 1;
			continue;
		}
		if (!strcmp(a, "--no-embeddings")) {
			llmd.no_embeddings = 1;
			continue;
		}
		if (!strcmp(a, "--llama-props")) {
			llmd.llama_props = 1;
			continue;
		}
		if (strncmp(a, "--", 2))
			log_fatal("unexpected argument '%s'; see llmd --help", a);
		eq = strchr(a, '=');
		if (eq) {
			*eq = '\0';
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			log_fatal("%s needs a value; see llmd --help", a);
		}
		if (!strcmp(a, "--port"))
			llmd.port = flag_long(a, v, 0, 65535);
		else if (!strcmp(a, "--host"))
			llmd.host = v;
		else if (!strcmp(a, "--port-file"))
			llmd.port_file = v;
		else if (!strcmp(a, "--lanes"))
			t->lanes = flag_long(a, v, 1, 1000000);
		else if (!strcmp(a, "--queue-max"))
			t->queue_max = flag_long(a, v, 0, 1000000000);
		else if (!strcmp(a, "--latency-ms"))
			t->latency_ms = flag_double(a, v, 0, 1e9);
		else if (!strcmp(a, "--per-item-ms"))
			t->per_item_ms = flag_double(a, v, 0, 1e9);
		else if (!strcmp(a, "--jitter-ms"))
			t->jitter_ms = flag_double(a, v, 0, 1e9);
		else if (!strcmp(a, "--slow-ms"))
			t->slow_ms = flag_double(a, v, 0, 1e9);
		else if (!strcmp(a, "--models"))
			models = v;
		else if (!strcmp(a, "--dim"))
			llmd.dim = flag_long(a, v, 1, 65536);
		else if (!strcmp(a, "--api-key"))
			llmd.api_key = *v ? v : NULL;
		else if (!strcmp(a, "--fault-rate"))
			t->fault_rate = flag_double(a, v, 0, 1);
		else if (!strcmp(a, "--faults")) {
			struct buf err = {0};
			if (fault_parse_list(v, &t->faults, &err))
				log_fatal("--faults: %s", err.p);
		} else if (!strcmp(a, "--retry-after"))
			t->retry_after = flag_long(a, v, 0, 1000000000);
		else if (!strcmp(a, "--fail-all")) {
			if (fail_all_parse(v, &t->fail_all))
				log_fatal("--fail-all: '%s' is not an HTTP status (100-599) or drop", v);
		} else if (!strcmp(a, "--seed"))
			llmd.seed = (uint64_t)flag_long(a, v, 0, LONG_MAX);
		else if (!strcmp(a, "--max-batch"))
			t->max_batch = flag_long(a, v, 0, 1000000000);
		else if (!strcmp(a, "--batch-noise"))
			t->batch_noise = flag_double(a, v, 0, 1e6);
		else if (!strcmp(a, "--batch-flip"))
			t->batch_flip = flag_double(a, v, 0, 1);
		else if (!strcmp(a, "--script"))
			load_script(v);
		else if (!strcmp(a, "--aliases"))
			add_aliases(v);
		else if (!strcmp(a, "--ctx"))
			llmd.ctx = flag_long(a, v, 0, 100000000);
		else if (!strcmp(a, "--api")) {
			if (!strcmp(v, "both"))
				llmd.api = API_BOTH;
			else if (!strcmp(v, "ollama"))
				llmd.api = API_OLLAMA;
			else if (!strcmp(v, "openai"))
				llmd.api = API_OPENAI;
			else
				log_fatal("--api: '%s' is not both, ollama or openai", v);
		}
		else
			log_fatal("unknown flag '%s'; see llmd --help", a);
		if (eq)
			*eq = '=';
	}
	add_models(models);
}

static int listen_on(const char *host, long port, long *bound)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	char ps[16];
	snprintf(ps, sizeof ps, "%ld", port);
	int e = getaddrinfo(host, ps, &hints, &res);
	if (e)
		log_fatal("--host %s: %s", host, gai_strerror(e));
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		log_fatal("cannot listen on %s:%ld: %s (is the port taken? --port 0 picks "
			  "a free one)", host, port, strerror(errno));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*bound = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void write_port_file(const char *path, long port)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		log_fatal("--port-file %s: %s", tmp, strerror(errno));
	int bad = fprintf(f, "%ld\n", port) < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		int saved = errno;
		unlink(tmp);
		log_fatal("--port-file %s: %s", path, strerror(saved));
	}
	free(tmp);
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	http_serve(fd);
	conn_unregister(fd);
	close(fd);
	return NULL;
}

static void serve(int lfd)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	sigset_t during;
	pthread_sigmask(SIG_SETMASK, NULL, &during);
	sigdelset(&during, SIGINT);
	sigdelset(&during, SIGTERM);
	while (!got_signal) {
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		/* the signals are blocked except inside ppoll: no lost wake-up */
		int n = ppoll(&pfd, 1, NULL, &during);
		if (n < 0) {
			if (errno != EINTR)
				log_fatal("poll: %s", strerror(errno));
			continue;
		}
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				sleep_ms(10);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_register(fd);
		pthread_t th;
		if (pthread_create(&th, &attr, conn_main, (void *)(intptr_t)fd)) {
			conn_unregister(fd);
			close(fd);
		}
	}
	pthread_attr_destroy(&attr);
}

int main(int argc, char **argv)
{
	log_init("llmd");
	struct llmd_tunables t = {
		.lanes = 1, .queue_max = 512, .slow_ms = 2000, .retry_after = 1,
		.faults = FAULT_ALL_MASK,
	};
	llmd.host = "127.0.0.1";
	llmd.dim = 64;
	llmd.seed = 42;
	parse_flags(argc, argv, &t);

	/* block the stop signals in every thread; ppoll opens them in main */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	state_init(&t);
	long port;
	int lfd = listen_on(llmd.host, llmd.port, &port);
	if (llmd.port_file)
		write_port_file(llmd.port_file, port);
	if (!llmd.quiet)
		log_error("listening on %s:%ld", llmd.host, port);
	serve(lfd);
	close(lfd);
	long left = state_stop(3000);
	if (left) {
		/* a connection thread is stuck; leave its memory to the exit */
		log_error("stopping with %ld connection(s) still open", left);
		return 0;
	}
	state_free();
	script_free();
	free_models();
	return 0;
}
