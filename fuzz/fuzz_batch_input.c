/*
 * fuzz_batch_input: what ph-batch does to each input line before it goes
 * into a batch, through the modules it calls: the JSON parser (with
 * borrowed strings, as ph-verify reads) and phevent_check, capture's rules
 * for an event.  Lines are split on '\n' as common/lines hands them out,
 * so one input also exercises the parser's arena from line to line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "phevent.h"
#include "stage.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct json_parser *jp;
	const char *p = (const char *)data, *end = p + size, *nl, *why;
	char err[256];
	struct phevent e;
	struct jval *v;

	if (jp == NULL)
		jp = json_parser_new();
	if (size > 0)
		(void)stage_wrong(SK_POSTHOG, p, size);
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		size_t len = (nl != NULL ? nl : end) - p;

		if ((v = json_parse(jp, p, len, err, sizeof(err))) != NULL &&
		    phevent_check(v, &e, &why) == 0 && (e.has_uuid > 1 ||
		    e.has_ts > 1))
			abort();	/* flags are 0 or 1 */
		p += len + 1;
	}
	return 0;
}
