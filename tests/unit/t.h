/* t.h: the unit-test harness. Each check prints "ok N - what" or
 * "not ok N - what (file:line)"; t_done() prints "N passed, N failed" and
 * returns the exit status. tests/run.sh adds up the counts of every binary. */
#ifndef LANES_T_H
#define LANES_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_OK(cond, ...)                                                        \
	do {                                                                   \
		int t_ok_ = (cond) ? 1 : 0; /* evaluated once */               \
		if (t_ok_) {                                                   \
			t_pass++;                                              \
			printf("ok %d - ", t_pass + t_fail);                   \
		} else {                                                       \
			t_fail++;                                              \
			printf("not ok %d - ", t_pass + t_fail);               \
		}                                                              \
		printf(__VA_ARGS__);                                           \
		if (!t_ok_)                                                    \
			printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);     \
		printf("\n");                                                  \
	} while (0)

#define T_EQ_INT(a, b, what)                                                   \
	do {                                                                   \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);        \
		T_OK(t_a_ == t_b_, "%s (got %lld, want %lld)", what, t_a_,     \
		     t_b_);                                                    \
	} while (0)

#define T_EQ_STR(a, b, what)                                                   \
	do {                                                                   \
		const char *t_a_ = (a), *t_b_ = (b);                           \
		int t_same_ = (t_a_ && t_b_) ? strcmp(t_a_, t_b_) == 0         \
					     : t_a_ == t_b_;                   \
		T_OK(t_same_, "%s (got \"%s\", want \"%s\")", what,            \
		     t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");          \
	} while (0)

static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail ? 1 : 0;
}

#endif
