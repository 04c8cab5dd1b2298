/*
 * fuzz_convert: amp-convert's per-line mapping (parse, validate, map
 * to a PostHog event) on arbitrary lines.  The program's files are
 * compiled in whole, as one unit, so its static functions and state are
 * the real ones; main is renamed out of the way.
 *
 * The input is split on '\n' as amp-convert's line reader does, so one
 * input can also exercise state carried from line to line (the scratch
 * buffers, key sets and the parser's arena).  jq stays off: libjq is
 * slow and not our code.
 */
#define main amp_convert_main
#include "../cmd/amp-convert/amp-convert.c"
#undef main
#include "../cmd/amp-convert/convert.c"
#include "../cmd/amp-convert/elements.c"
#include "../cmd/amp-convert/obj.c"
#include "../cmd/amp-convert/pageleave.c"
#include "../cmd/amp-convert/person.c"
#include "../cmd/amp-convert/session.c"
#include "../cmd/amp-convert/state.c"

static void
init(void)
{
	/* What main() does before reading, without options. */
	if (freopen("/dev/null", "w", stdout) == NULL)
		err(1, "/dev/null");
	amp_rules_init(&rules);
	rejects_open(&rej, NULL);
	parser = json_parser_new();
	json_parser_borrow(parser);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *p = (const char *)data, *end = p + size, *nl;
	uint64_t lineno = 0;

	if (!ready) {
		init();
		ready = 1;
	}
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		size_t len = (nl != NULL ? nl : end) - p;
		do_line("<fuzz>", ++lineno, p, len);
		/* Bound memory: the output is never flushed here. */
		out.len = 0;
		p += len + 1;
	}
	return 0;
}
