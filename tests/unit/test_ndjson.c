/* Unit tests of common/ndjson.c: line reading, caps, validation, writer. */
#include "ndjson.h"
#include "t.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* A pipe whose write end is fed by a child so large inputs stream. */
static int feed(const char *data, size_t len)
{
	char path[] = "/tmp/lanes-ndjson-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len)
		return -1;
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int main(void)
{
	const char *in = "{\"a\":1}\n\n  \n{\"b\":2}\r\nlast";
	int fd = feed(in, strlen(in));
	struct ndjson_reader *r = ndjson_open(fd, "<t>", 100, NULL);
	char *text;
	size_t len;
	long line;
	T_EQ_INT(ndjson_read(r, &text, &len, &line), NDJSON_LINE, "first line");
	T_EQ_STR(text, "{\"a\":1}", "first text");
	T_EQ_INT(line, 1, "first lineno");
	free(text);
	T_EQ_INT(ndjson_read(r, &text, &len, &line), NDJSON_LINE, "blank lines skipped");
	T_EQ_STR(text, "{\"b\":2}", "CR stripped");
	T_EQ_INT(line, 4, "line numbers count blank lines");
	free(text);
	T_EQ_INT(ndjson_read(r, &text, &len, &line), NDJSON_LINE, "unterminated last line");
	T_EQ_STR(text, "last", "last text");
	free(text);
	T_EQ_INT(ndjson_read(r, &text, &len, &line), NDJSON_EOF, "eof");
	ndjson_close(r);
	close(fd);

	/* a line over the cap is skipped whole, the next one is read */
	size_t big = 5 * 1024 * 1024;
	char *data = xmalloc(big + 64);
	memset(data, 'x', big);
	data[0] = '"';
	size_t n = big;
	const char *tail = "\n{\"ok\":true}\n";
	memcpy(data + n, tail, strlen(tail));
	n += strlen(tail);
	fd = feed(data, n);
	r = ndjson_open(fd, "<t>", 1024 * 1024, NULL);
	T_EQ_INT(ndjson_read(r, &text, &len, &line), NDJSON_TOOLONG, "over the cap");
	T_EQ_INT(len, big, "size of the long line");
	T_EQ_INT(ndjson_read(r, &text, &len, &line), NDJSON_LINE, "next line after a long one");
	T_EQ_STR(text, "{\"ok\":true}", "text after a long one");
	T_EQ_INT(line, 2, "its line number");
	free(text);
	ndjson_close(r);
	close(fd);
	free(data);

	char err[256];
	cJSON *v = ndjson_parse("{\"a\":[1]}", 9, err, sizeof err);
	T_OK(v != NULL, "object parses");
	cJSON_Delete(v);
	T_OK(!ndjson_parse("[1]", 3, err, sizeof err), "array refused");
	T_EQ_STR(err, "not a JSON object", "array message");
	T_OK(!ndjson_parse("{\"a\":", 5, err, sizeof err), "truncated refused");
	T_OK(strstr(err, "not JSON") != NULL, "truncated message");
	T_OK(!ndjson_parse("{\"a\":\"\xff\"}", 8, err, sizeof err), "bad UTF-8 refused");
	T_EQ_STR(err, "invalid UTF-8 at column 7", "bad UTF-8 message");
	T_OK(!ndjson_parse("{\"a\":\0}", 7, err, sizeof err), "NUL refused");
	T_OK(!ndjson_parse("{} {}", 5, err, sizeof err), "trailing text refused");

	/* writer: lines count as written when write(2) takes them */
	int p[2];
	atomic_long lines = 0;
	T_OK(pipe(p) == 0, "pipe");
	struct ndjson_writer *w = ndjson_writer_new(p[1]);
	ndjson_writer_count(w, &lines);
	ndjson_write(w, "{\"a\":1}", 7);
	ndjson_write(w, "{\"b\":2}", 7);
	T_EQ_INT(atomic_load(&lines), 0, "lines held in the buffer are not counted written");
	T_EQ_INT(ndjson_flush(w), 0, "flush");
	T_EQ_INT(atomic_load(&lines), 2, "flushed lines are counted written");
	char got[32] = "";
	T_EQ_INT(read(p[0], got, sizeof got - 1), 16, "both lines in the pipe");

	/* writer: EPIPE is a quiet end, and refused lines are not written */
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	ndjson_write(w, "{}", 2);
	T_EQ_INT(ndjson_flush(w), -1, "flush to a closed pipe fails");
	T_EQ_INT(ndjson_writer_state(w), 1, "state says closed by reader");
	T_EQ_INT(atomic_load(&lines), 2, "a line the closed pipe refused is not counted");
	ndjson_writer_free(w);
	close(p[1]);
	return t_done();
}
