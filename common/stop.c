/* stop: graceful-then-immediate handling of SIGINT and SIGTERM. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "stop.h"

volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	if (stop_signal)
		_exit(EXIT_RUNTIME);	/* second ^C: now */
	stop_signal = sig;
}

void
stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
