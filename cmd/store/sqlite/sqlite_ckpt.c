/* sqlite_ckpt: the checkpointer of a writing connection: a thread with a
 * second connection that copies the WAL back into the database (PASSIVE
 * checkpoints) while the writer goes on, woken every CKPT_BYTES of WAL;
 * past CKPT_RESTART_BYTES the writer waits for it once after a commit, so
 * that the WAL starts over and stays small. */
#include "sqlite_db.h"
#include "pool.h"

#include <string.h>

/* WAL bytes after which a commit wakes the checkpointer (SQLite's own
 * wal_autocheckpoint is 1000 pages, 4 MB of 4 KB pages). */
#define CKPT_BYTES (4 << 20)
/* WAL bytes after which the writer, once committed, waits for the
 * checkpointer to catch up: the WAL can only start over from its beginning
 * when a write begins with every page copied back, and a writer that never
 * waits would begin each batch while the copy of the last one runs. */
#define CKPT_RESTART_BYTES (16 << 20)

static void *ckpt_main(void *arg)
{
	struct sqlite_db *s = arg;
	lock_take(s->ck_lock);
	while (!s->ck_stop) {
		if (s->ck_done == s->ck_asked) {
			lock_wait(s->ck_lock);
			continue;
		}
		long pass = s->ck_asked;
		lock_give(s->ck_lock);
		/* PASSIVE: copies what is committed, never waits for the writer;
		 * SQLITE_BUSY (another process checkpointing) is fine */
		sqlite3_wal_checkpoint_v2(s->ck_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		lock_take(s->ck_lock);
		s->ck_done = pass;
		lock_broadcast(s->ck_lock);
	}
	lock_give(s->ck_lock);
	return NULL;
}

/* After each commit of this connection: n pages in the WAL. */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int n)
{
	(void)db;
	(void)name;
	struct sqlite_db *s = ud;
	s->wal_frames = n;
	if (n >= s->ck_frames) {
		lock_take(s->ck_lock);
		s->ck_asked++;
		lock_broadcast(s->ck_lock);
		lock_give(s->ck_lock);
	}
	return SQLITE_OK;
}

/* Without a second connection SQLite's automatic checkpoints stay. */
void sqlite_ckpt_start(struct sqlite_db *s)
{
	if (s->ck_db || !strcmp(s->path, ":memory:"))
		return;
	if (sqlite3_open_v2(s->path, &s->ck_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite3_close(s->ck_db);
		s->ck_db = NULL;
		return;
	}
	sqlite3_busy_timeout(s->ck_db, 0);
	/* a first read makes the connection see the database in WAL mode */
	if (sqlite3_exec(s->ck_db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(s->ck_db);
		s->ck_db = NULL;
		return;
	}
	long page = 0;
	if (sqlite_query_long(s, "PRAGMA page_size", &page) != SQLITE_OK || page <= 0)
		page = 4096;
	s->ck_frames = (int)(CKPT_BYTES / page);
	s->restart_frames = (int)(CKPT_RESTART_BYTES / page);
	s->ck_lock = lock_new();
	s->ck = thread_start(ckpt_main, s);
	sqlite3_wal_hook(s->db, wal_hook, s);
}

void sqlite_ckpt_after_commit(struct sqlite_db *s)
{
	if (!s->ck || s->wal_frames < s->restart_frames)
		return;
	lock_take(s->ck_lock);
	while (s->ck_done < s->ck_asked && !s->ck_stop)
		lock_wait(s->ck_lock);
	lock_give(s->ck_lock);
}

void sqlite_ckpt_stop(struct sqlite_db *s)
{
	if (!s->ck)
		return;
	lock_take(s->ck_lock);
	s->ck_stop = 1;
	lock_broadcast(s->ck_lock);
	lock_give(s->ck_lock);
	thread_join(s->ck);
	lock_free(s->ck_lock);
	sqlite3_close(s->ck_db);
	s->ck = NULL;
	s->ck_db = NULL;
}
