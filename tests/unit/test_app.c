/* Unit tests of app's stop rule: app_stopping, app_aborting and
 * app_abort_at_ms before and after a signal, with the grace period from
 * the tunables. The second-signal exit is tested with real processes in
 * tests/shell/test_signals.sh. The in-flight cap rule of app_size_pool. */
#include "t.h"
#include "app.h"
#include "tunables.h"
#include "util.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>

int main(void)
{
	setenv("LANES_SEGMENT_STOP_GRACE_MS", "60000", 1);
	static const char *const secs[] = {"segment", NULL};
	char *argv[] = {"segment", NULL};
	struct app a;
	app_init(&a, "segment", secs, 1, argv, NULL, NULL, NULL, "usage\n");

	T_EQ_INT(app_stopping(), 0, "no stop before a signal");
	T_EQ_INT(app_aborting(), 0, "no abort before a signal");
	T_OK(isinf(app_abort_at_ms()), "abort time is INFINITY before a signal");

	double before = now_ms();
	raise(SIGTERM);
	double after = now_ms();
	T_EQ_INT(app_stop, SIGTERM, "the signal is the stop reason");
	T_EQ_INT(app_stopping(), 1, "stopping after SIGTERM");
	T_EQ_INT(app_aborting(), 0, "not aborting within the grace period");
	double at = app_abort_at_ms();
	T_OK(at >= before + 60000 - 1 && at <= after + 60000 + 1,
	     "aborting begins stop_grace_ms after the signal (%.0f ms after it)", at - before);

	/* a closed output aborts at once: no answer could be written */
	app_request_stop(APP_STOP_OUTPUT_CLOSED);
	T_EQ_INT(app_stop, SIGTERM, "the first reason stays");
	T_EQ_INT(app_aborting(), 1, "a closed output aborts at once");
	T_OK(app_abort_at_ms() <= now_ms(), "abort time moved to now");

	/* the one rule for the in-flight cap */
	a.batch = 0;
	app_size_pool(&a, 3);
	T_EQ_INT(a.inflight, 10, "auto inflight: 2 x workers + 4 records of one");
	T_EQ_INT(app_inflight_jobs(&a), 10, "as many jobs of one record");
	a.batch = 32;
	app_size_pool(&a, 3);
	T_EQ_INT(a.inflight, 320, "auto inflight with batches: (2 x workers + 4) x batch");
	T_EQ_INT(app_inflight_jobs(&a), 10, "2 x workers + 4 jobs of a batch (no extra jobs)");
	app_size_pool(&a, 4096);
	T_EQ_INT(a.inflight, APP_INFLIGHT_AUTO_MAX, "auto inflight stops at APP_INFLIGHT_AUTO_MAX");
	a.batch = 30000;
	app_size_pool(&a, 4096);
	T_EQ_INT(a.inflight, 120000, "but never under 4 batches");
	char err[256];
	T_EQ_INT(tun_set(a.tun, "segment.inflight", "100", TUN_SRC_FLAG, "test", err, sizeof err), 0,
		 "inflight set");
	a.batch = 32;
	app_size_pool(&a, 3);
	T_EQ_INT(a.inflight, 100, "a set inflight is kept as it is");
	T_EQ_INT(app_inflight_jobs(&a), 3, "jobs: whole batches within the cap");
	a.batch = 200;
	T_EQ_INT(app_inflight_jobs(&a), 1, "at least one job");

	/* the ETA's durations */
	static const struct {
		double secs;
		const char *want;
	} durations[] = {
		{-3, "0s"}, {0.4, "0s"}, {45, "45s"}, {59.6, "1m00s"}, {65, "1m05s"},
		{3599, "59m59s"}, {3600, "1h00m"}, {7380, "2h03m"}, {360000, "100h00m"},
	};
	for (size_t i = 0; i < ARRAY_LEN(durations); i++) {
		struct buf d = {0};
		app_fmt_duration(&d, durations[i].secs);
		T_EQ_STR(d.p, durations[i].want, "duration");
		buf_free(&d);
	}

	app_stop = 0;
	app_finish(&a);
	return t_done();
}
