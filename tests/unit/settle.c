/*
 * Unit checks of common/settle: the marker amp-unpack writes is what
 * settle_is recognises and settle_parse reads back as the same journal
 * key; a resume marker names the same member with the same key; the
 * state files of a journal list in order, and their header reads back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "settle.h"
#include "tap.h"

int
main(void)
{
	struct settle_member m = { "123/123_2024-01-01_5#0.json.gz", 30,
	    0x0badcafe, 1234, 56789, 7 };
	struct settle_member odd = { "a\xff\"b", 4, 1, 2, 3, 1 };
	uint64_t seq = 0;
	struct buf line = { 0 }, res = { 0 }, key = { 0 }, back = { 0 };
	struct buf k = { 0 }, v = { 0 }, f = { 0 };
	const char *why;
	char dir[] = "/tmp/settle-unit-XXXXXX", jpath[128];
	uint64_t *ns;
	size_t n;

	settle_line(&line, SETTLE_MEMBER, &m);
	buf_addc(&line, '\0');
	line.len--;
	ok(strcmp(line.p, "{\"$amp2ph_member\":\"123/123_2024-01-01_5#0."
	    "json.gz\",\"crc32\":\"0badcafe\",\"compressed\":1234,"
	    "\"uncompressed\":56789,\"seq\":7}\n") == 0, "the member marker: %.*s",
	    (int)line.len - 1, line.p);
	ok(settle_is(line.p, line.len - 1) == SETTLE_MEMBER,
	    "recognised as a member marker");
	settle_key(&key, &m);
	ok(strlen(key.p) == key.len && key.len == line.len - 9 &&
	    memcmp(key.p, line.p, key.len - 1) == 0 && strstr(key.p, "seq") ==
	    NULL, "the key is the marker's text without its place: %s", key.p);
	ok(settle_parse(line.p, line.len, &back, &seq, &why) == 0 &&
	    strcmp(back.p, key.p) == 0 && seq == 7,
	    "the marker parses back to its key and place");
	struct buf at = { 0 };
	settle_at(&at, key.p, 7);
	ok(strlen(at.p) == at.len && at.len == key.len + 3 &&
	    strcmp(at.p + key.len, " #7") == 0, "a state's place: %s", at.p);
	buf_free(&at);

	settle_line(&res, SETTLE_SKIPPED, &m);
	ok(settle_is(res.p, res.len) == SETTLE_SKIPPED,
	    "recognised as a resume marker");
	back.len = 0;
	ok(settle_parse(res.p, res.len, &back, &seq, &why) == 0 &&
	    strcmp(back.p, key.p) == 0 && seq == 7,
	    "a resume marker names the member with the same key");

	ok(settle_is("{\"event\":\"x\"}", 13) == SETTLE_NONE,
	    "an event is no marker");
	ok(settle_is("{\"$amp2ph", 9) == SETTLE_NONE, "nor a cut prefix");
	ok(settle_is("{\"$amp2ph_other\":1}", 19) == SETTLE_NONE,
	    "nor another $amp2ph_ key");
	back.len = 0;
	why = "";
	int r = settle_parse("{\"$amp2ph_member\":\"x\"}", 22, &back, &seq,
	    &why);
	ok(r == -1 && strstr(why, "crc32") != NULL, "a marker without its "
	    "fields is refused: %s", why);
	ok(settle_parse("{\"$amp2ph_member\":\"x\",\"crc32\":\"zz\","
	    "\"compressed\":1,\"uncompressed\":1,\"seq\":1}", 68, &back, &seq,
	    &why) == -1,
	    "a marker with a bad crc32 is refused");

	line.len = 0;
	settle_line(&line, SETTLE_MEMBER, &odd);
	back.len = 0;
	key.len = 0;
	settle_key(&key, &odd);
	ok(settle_parse(line.p, line.len, &back, &seq, &why) == 0 &&
	    strcmp(back.p, key.p) == 0,
	    "a name that is not UTF-8 gives the same key both ways");

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(jpath, sizeof(jpath), "%s/j.db", dir);
	ok(settle_state_list(jpath, &ns) == 0, "no state files yet");
	free(ns);
	uint64_t want[] = { 10, 2, 33 };
	for (size_t i = 0; i < 3; i++) {
		char *p = settle_state_path(jpath, want[i]);
		FILE *fp = fopen(p, "w");
		fprintf(fp, "%s\n0.1\nfp%zu\n%s\nbody", SETTLE_STATE_MAGIC, i,
		    key.p);
		fclose(fp);
		free(p);
	}
	/* Neither a file being written nor another journal's. */
	char other[160];
	snprintf(other, sizeof(other), "%s/j.db-convert.7.tmp", dir);
	fclose(fopen(other, "w"));
	snprintf(other, sizeof(other), "%s/j.dbx-convert.8", dir);
	fclose(fopen(other, "w"));
	n = settle_state_list(jpath, &ns);
	ok(n == 3 && ns[0] == 2 && ns[1] == 10 && ns[2] == 33,
	    "state files listed oldest first, others left out (%zu)", n);
	free(ns);
	ok(settle_state_at(jpath, 33, &k) == 1 && strcmp(k.p, key.p) == 0,
	    "the header gives the member's key");
	char *p = settle_state_path(jpath, 10);
	FILE *fp = fopen(p, "r");
	ok(settle_state_header(fp, &k, &v, &f) == 1 && strcmp(v.p, "0.1") ==
	    0 && strcmp(f.p, "fp0") == 0, "and the version and fingerprint");
	fclose(fp);
	fp = fopen(p, "w");
	fputs("not a state\n", fp);
	fclose(fp);
	ok(settle_state_at(jpath, 10, &k) == 0, "another file has no key");
	free(p);
	ok(settle_state_at(jpath, 99, &k) == 0, "nor a missing one");

	for (uint64_t i = 0; i < 100; i++) {
		char *q = settle_state_path(jpath, i);
		unlink(q);
		free(q);
	}
	snprintf(other, sizeof(other), "%s/j.db-convert.7.tmp", dir);
	unlink(other);
	snprintf(other, sizeof(other), "%s/j.dbx-convert.8", dir);
	unlink(other);
	rmdir(dir);
	buf_free(&line);
	buf_free(&res);
	buf_free(&key);
	buf_free(&back);
	buf_free(&k);
	buf_free(&v);
	buf_free(&f);
	return tap_done();
}
