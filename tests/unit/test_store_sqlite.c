/* test_store_sqlite: the record store API on a scratch database: merging
 * on the text, batches and rollback, vectors round trip as float32, stage
 * status and pass-through errors, scans, stats, migrations refused, backup. */
#include "store_cmd.h"
#include "store.h"
#include "t.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_store_XXXXXX";

static char *path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static struct store *open_db(const char *name, long max_attempts)
{
	char *p = path(name);
	struct store_opts o = {.db = p, .busy_timeout_ms = 5000, .synchronous = "normal",
			       .max_attempts = max_attempts, .create = 1};
	char err[512] = "";
	struct store *s = store_open(&o, err, sizeof err);
	if (!s)
		printf("# %s\n", err);
	free(p);
	return s;
}

static struct store_scratch scratch;

/* Parses and puts one line; returns store_write's result (-2: bad line). */
static int put(struct store *s, const char *line)
{
	char err[512];
	struct store_item it;
	int rc = store_item_parse(&it, line, strlen(line), &scratch, err, sizeof err);
	if (rc == 0)
		rc = store_write(s, &it.rec, NULL, err, sizeof err);
	else
		rc = -2;
	store_item_free(&it);
	return rc;
}

static char *get(struct store *s, const char *id, const char *model)
{
	struct buf b = {0};
	char err[512];
	int rc = store_get(s, id, model, &b, err, sizeof err);
	if (rc != 1) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static void check_get(struct store *s, const char *id, const char *want, const char *what)
{
	char *got = get(s, id, NULL);
	T_EQ_STR(got, want, what);
	free(got);
}

static void test_merge(void)
{
	struct store *s = open_db("merge.db", 3);
	T_OK(s != NULL, "a new database opens");
	if (!s)
		return;
	char err[256];
	T_EQ_INT(put(s, "{\"id\":\"a\",\"x\":1,\"y\":{\"k\":[1,2]},\"s\":\"\\u00e9\"}"), 0, "put a");
	T_EQ_INT(put(s, "{\"id\":\"a\",\"y\":3,\"z\":\"new\"}"), 0, "put a again");
	T_EQ_INT(store_batch_records(s), 2, "two records in the open batch");
	T_EQ_INT(store_commit(s, NULL, err, sizeof err), 0, "commit");
	T_EQ_INT(store_batch_records(s), 0, "no batch after commit");
	check_get(s, "a", "{\"id\":\"a\",\"x\":1,\"y\":3,\"s\":\"\\u00e9\",\"z\":\"new\"}",
		  "members replaced in place, new ones appended, bytes kept");

	T_EQ_INT(put(s, "{ \"id\" : \"w\" , \"x\" : 1.50 }"), 0, "put with spaces");
	T_EQ_INT(put(s, "{\"id\":\"w\",\"z\":2}"), 0, "put a new member");
	T_EQ_INT(put(s, "{\"id\":\"e\"}"), 0, "put a bare id");
	T_EQ_INT(put(s, "{\"id\":\"e\",\"a\":[]}"), 0, "put into a bare record");
	store_commit(s, NULL, err, sizeof err);
	check_get(s, "w", "{ \"id\" : \"w\" , \"x\" : 1.50 ,\"z\":2}",
		  "spacing of the stored text kept around the merge");
	check_get(s, "e", "{\"id\":\"e\",\"a\":[]}", "merge into an object with one member");
	char *none = get(s, "nope", NULL);
	T_OK(none == NULL, "an unknown id is not found");

	/* a batch not committed is rolled back at close */
	T_EQ_INT(put(s, "{\"id\":\"lost\"}"), 0, "put without commit");
	store_close(s);
	s = open_db("merge.db", 3);
	none = s ? get(s, "lost", NULL) : NULL;
	T_OK(s && none == NULL, "an uncommitted batch is rolled back at close");
	store_close(s);
}

static void test_vectors(void)
{
	struct store *s = open_db("vec.db", 3);
	if (!s)
		return;
	char err[256];
	struct buf line = {0};
	float want[64];
	unsigned seed = 7;
	buf_puts(&line, "{\"id\":\"v\",\"embedding\":[");
	for (int i = 0; i < 64; i++) {
		seed = seed * 1103515245u + 12345u;
		want[i] = (float)((double)(seed >> 8) / 16777216.0 * 2 - 1) * 1e3f;
		buf_printf(&line, "%s%.17g", i ? "," : "", (double)want[i]);
	}
	buf_puts(&line, "],\"embedding_model\":\"m\"}");
	T_EQ_INT(put(s, line.p), 0, "put a 64-number vector");
	T_EQ_INT(put(s, "{\"id\":\"v\",\"embedding\":[1,2],\"embedding_model\":\"m2\"}"), 0,
		 "put a vector of another model");
	store_commit(s, NULL, err, sizeof err);
	char *got = get(s, "v", "m");
	cJSON *j = got ? cJSON_Parse(got) : NULL;
	cJSON *emb = cJSON_GetObjectItemCaseSensitive(j, "embedding");
	int n = cJSON_GetArraySize(emb), same = n == 64;
	for (int i = 0; same && i < 64; i++)
		same = (float)cJSON_GetArrayItem(emb, i)->valuedouble == want[i];
	T_OK(same, "every number reads back as the same float32 (%d numbers)", n);
	cJSON_Delete(j);
	free(got);
	check_get(s, "v", "{\"id\":\"v\",\"embedding\":[1,2],\"embedding_model\":\"m2\"}",
		  "without a model, the latest vector");

	T_EQ_INT(put(s, "{\"id\":\"bad\",\"embedding\":[1,\"x\"]}"), -2, "a non-number is refused");
	T_EQ_INT(put(s, "{\"id\":\"bad\",\"embedding\":[1e300]}"), -2, "a number beyond float32 is refused");
	T_EQ_INT(put(s, "{\"id\":\"bad\",\"embedding\":[]}"), -2, "an empty vector is refused");
	store_close(s);

	char *p = path("vec.db");
	sqlite3 *db;
	sqlite3_open(p, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT length(vec), dim FROM vectors WHERE id = 'v' AND model = 'm'",
			   -1, &st, NULL);
	T_OK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 256 &&
		     sqlite3_column_int(st, 1) == 64,
	     "stored as a BLOB of 4 x dim bytes");
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(p);
	buf_free(&line);
}

struct rows {
	struct buf ids;
};

static int collect(const char *line, size_t len, void *ud)
{
	struct rows *r = ud;
	cJSON *j = cJSON_ParseWithLength(line, len);
	cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
	buf_printf(&r->ids, "%s%s", r->ids.len ? " " : "", cJSON_IsString(id) ? id->valuestring : "?");
	cJSON_Delete(j);
	return 0;
}

static void scan_ids(struct store *s, const struct store_query *q, const char *want,
		     const char *what)
{
	struct rows r = {{0}};
	char err[256];
	int rc = store_scan(s, q, collect, &r, err, sizeof err);
	T_OK(rc == 0, "%s: scan ok", what);
	T_EQ_STR(r.ids.p ? r.ids.p : "", want, what);
	buf_free(&r.ids);
}

static void test_stages(void)
{
	struct store *s = open_db("stages.db", 2);
	if (!s)
		return;
	char err[256];
	const char *err_line =
		"{\"id\":\"a:1\",\"doc\":\"a\",\"seq\":1,\"text\":\"t\","
		"\"errors\":{\"embed\":{\"code\":\"c\",\"message\":\"m\"}}}";
	put(s, "{\"id\":\"a:0\",\"doc\":\"a\",\"seq\":0,\"text\":\"t\",\"embedding\":[1],"
	       "\"embedding_model\":\"e1\"}");
	put(s, err_line);
	put(s, "{\"id\":\"a:2\",\"doc\":\"a\",\"seq\":2,\"text\":\"t\"}");
	put(s, "{\"id\":\"b:0\",\"doc\":\"b\",\"seq\":0,\"text\":\"t\",\"embedding\":[1],"
	       "\"embedding_model\":\"e0\"}");
	store_commit(s, NULL, err, sizeof err);

	struct store_query q = {.pending = 1, .stage = "embed"};
	scan_ids(s, &q, "a:1 a:2", "pending: missing and failed under the limit");
	q.model = "e1";
	scan_ids(s, &q, "a:1 a:2 b:0", "pending --model: another model's output too");

	/* the error as read out passes through without counting */
	char *out = get(s, "a:1", NULL);
	T_OK(out && strstr(out, "\"failures\":1}"), "errors read out carry failures: %s",
	     out ? out : "(null)");
	if (out)
		put(s, out);
	free(out);
	store_commit(s, NULL, err, sizeof err);
	q.model = NULL;
	scan_ids(s, &q, "a:1 a:2", "a passed-through error is not a new failure");

	/* a second real failure reaches max_attempts (2): given up */
	put(s, err_line);
	store_commit(s, NULL, err, sizeof err);
	scan_ids(s, &q, "a:2", "given up after max_attempts failures");
	struct store_query g = {.stage = "embed", .status = STORE_GIVEN_UP};
	scan_ids(s, &g, "a:1", "dump --status given_up");
	g.status = STORE_MISSING;
	scan_ids(s, &g, "a:2", "dump --status missing");
	struct store_query d = {.order = STORE_BY_DOC, .doc = "a"};
	scan_ids(s, &d, "a:0 a:1 a:2", "one document in doc order");

	struct store_stats st;
	T_EQ_INT(store_stats(s, &st, err, sizeof err), 0, "stats");
	T_EQ_INT(st.records, 4, "stats: records");
	T_EQ_INT(st.vectors, 2, "stats: vectors");
	T_EQ_INT(st.given_up, 1, "stats: given up");
	T_EQ_INT(st.nmodels, 2, "stats: models");
	T_OK(st.nstages >= 4 && !strcmp(st.stages[2].stage, "embed") && st.stages[2].ok == 2 &&
		     st.stages[2].given_up == 1 && st.stages[2].missing == 1,
	     "stats: embed ok 2, given_up 1, missing 1");
	store_stats_free(&st);

	/* a later success clears the failure */
	put(s, "{\"id\":\"a:1\",\"embedding\":[2],\"embedding_model\":\"e1\"}");
	store_commit(s, NULL, err, sizeof err);
	out = get(s, "a:1", NULL);
	T_OK(out && !strstr(out, "errors"), "success clears the error: %s", out ? out : "(null)");
	free(out);

	char *copy = path("copy.db");
	T_EQ_INT(store_backup(s, copy, err, sizeof err), 0, "backup");
	store_close(s);
	s = open_db("copy.db", 2);
	out = s ? get(s, "a:0", NULL) : NULL;
	T_OK(out != NULL, "the backup opens and holds the records");
	free(out);
	store_close(s);
	free(copy);
}

static void test_refused(void)
{
	char *p = path("newer.db");
	sqlite3 *db;
	sqlite3_open(p, &db);
	sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL);
	sqlite3_close(db);
	struct store_opts o = {.db = p, .busy_timeout_ms = 100, .synchronous = "normal",
			       .max_attempts = 3, .create = 1};
	char err[512] = "";
	struct store *s = store_open(&o, err, sizeof err);
	T_OK(!s && strstr(err, "schema version 7 is newer"), "a newer schema is refused: %s", err);
	free(p);

	p = path("other.db");
	sqlite3_open(p, &db);
	sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
	sqlite3_close(db);
	o.db = p;
	s = store_open(&o, err, sizeof err);
	T_OK(!s && strstr(err, "not a lanes database"), "another SQLite database is refused: %s", err);
	free(p);

	p = path("missing.db");
	o.db = p;
	o.create = 0;
	s = store_open(&o, err, sizeof err);
	T_OK(!s && strstr(err, "cannot open database") && access(p, F_OK) != 0,
	     "a reader does not create a missing database: %s", err);
	free(p);

	o.synchronous = "sometimes";
	o.create = 1;
	o.db = "/nonexistent-dir/x.db";
	s = store_open(&o, err, sizeof err);
	T_OK(!s && strstr(err, "cannot open database '/nonexistent-dir/x.db'"),
	     "an impossible path is refused: %s", err);

	T_EQ_INT(store_status_parse("given_up"), STORE_GIVEN_UP, "status names parse");
	T_EQ_STR(store_status_name(STORE_MISSING), "missing", "status names print");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_merge();
	test_vectors();
	test_stages();
	test_refused();
	store_scratch_free(&scratch);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	return t_done();
}
