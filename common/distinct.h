/*
 * distinct: which distinct ids PostHog will merge persons on.  PostHog's
 * ingestion refuses to merge on a list of placeholder ids ("anonymous",
 * "null", "0", ..., also in single or double quotes: "'null'"); using one
 * as a user id would merge unrelated people, so amp-convert and ph-alias
 * never do.  The list is PostHog's, see distinct.c.
 */
#ifndef DISTINCT_H
#define DISTINCT_H
#include <stddef.h>

/* 0 for an id PostHog refuses to merge (or a blank one), else 1. */
int	distinct_id_mergeable(const char *, size_t);

#endif
