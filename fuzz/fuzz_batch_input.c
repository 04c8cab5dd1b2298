/*
 * fuzz_batch_input: ph-batch's input validation (take_line: parse,
 * check as capture would, de-duplicate by uuid, batch) on arbitrary
 * lines.  The program is compiled in whole so take_line and its state
 * are the real ones; main is renamed out of the way.  No journal (jdb
 * stays NULL) and no network: batches are dropped after every input.
 */
#define main ph_batch_main
#include "../cmd/ph-batch.c"
#undef main

/* Drop the batches this input built, so memory and state stay bounded. */
static void
reset(void)
{
	struct unit *u, *next;

	if (building != NULL) {
		unit_forget(building);
		unit_free(building);
		building = NULL;
	}
	for (u = ready_head; u != NULL; u = next) {
		next = u->next;
		unit_forget(u);
		unit_free(u);
	}
	ready_head = ready_tail = NULL;
	/* Every pending uuid belonged to one of those units. */
	if (uuidset_count(&pending) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *p = (const char *)data, *end = p + size, *nl;
	uint64_t lineno = 0;

	if (!ready) {
		/* What main() does before reading, with no options. */
		rejects_open(&rej, NULL);
		parser = json_parser_new();
		uuidset_init(&pending);
		/*
		 * Small limits (each one a valid --batch-size, --batch-bytes
		 * and --max-event-bytes) so that short inputs fill batches,
		 * split on bytes and hit the event size limit.
		 */
		opt.batch_size = 4;
		opt.batch_bytes = 1024;
		opt.max_event = 3000;
		ready = 1;
	}
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		size_t len = (nl != NULL ? nl : end) - p;
		take_line("<fuzz>", ++lineno, p, len);
		p += len + 1;
	}
	reset();
	return 0;
}
