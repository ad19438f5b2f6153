/* Unit tests of app's stop rule: app_stopping, app_aborting and
 * app_abort_at_ms before and after a signal, with the grace period from
 * the tunables. The second-signal exit is tested with real processes in
 * tests/shell/test_signals.sh. */
#include "t.h"
#include "app.h"
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

	app_stop = 0;
	app_finish(&a);
	return t_done();
}
