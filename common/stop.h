/*
 * stop: how the long-running programs (amp-export, ph-batch) stop on
 * SIGINT or SIGTERM.  The first signal only sets stop_signal, so the
 * program finishes what is in flight and records it before exiting 1 (a
 * re-run resumes); a second one exits at once.  SIGPIPE is ignored so a
 * closed stdout shows up as a write error.
 */
#ifndef STOP_H
#define STOP_H
#include <signal.h>

extern volatile sig_atomic_t stop_signal;

void	stop_on_signals(void);

#endif
