/*
 * retry: when to try an HTTP request again.  Exponential backoff with
 * full jitter (so many clients after one outage do not retry in step),
 * and the server's Retry-After, which wins when it asks for longer.
 */
#ifndef RETRY_H
#define RETRY_H

/* Seconds to wait before attempt number attempt+1 (attempt >= 1). */
double	retry_backoff(int attempt, double base, double cap);
/*
 * The wait before the next attempt: backoff from 1 s doubling to 60 s, or
 * the server's Retry-After (-1: none) when it asks for longer (at most
 * 10 minutes).
 */
double	retry_wait(int attempt, double retry_after);
/* Retry-After as seconds (delta-seconds or HTTP-date); -1 if absent/bad. */
double	retry_after_parse(const char *value);
/* 1 for statuses worth retrying: 408, 425, 429, 5xx (0: network error). */
int	retry_status(long status);
double	monotime(void);

#endif
