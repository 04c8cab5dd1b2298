/* Unit checks of common/keyset: membership across growth and clearing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "tap.h"

int
main(void)
{
	struct keyset k = { 0 };
	static char keys[3000][48];
	int bad = 0;

	for (int i = 0; i < 3000; i++)
		/* Lengths 1 to 40, many sharing long prefixes and tails. */
		snprintf(keys[i], sizeof(keys[i]), "%.*s%d",
		    i % 37, "$initial_geoip_subdivision_2_name_xyz", i);

	keyset_clear(&k);
	ok(keyset_add(&k, "", 0) == 1 && keyset_add(&k, "", 0) == 0,
	    "the empty key, once");
	ok(keyset_add(&k, "abc", 2) == 1 && keyset_add(&k, "ab", 2) == 0 &&
	    keyset_add(&k, "abc", 3) == 1, "keys by length, not NUL");
	for (int i = 0; i < 3000; i++)
		bad += keyset_add(&k, keys[i], strlen(keys[i])) != 1;
	ok(bad == 0, "3000 new keys are new, through the growth");
	bad = 0;
	for (int i = 0; i < 3000; i++) {
		char copy[48];
		memcpy(copy, keys[i], sizeof(copy));
		bad += keyset_add(&k, copy, strlen(copy)) != 0;
	}
	ok(bad == 0, "and are there after it, found by content");

	bad = 0;
	for (int round = 0; round < 1000; round++) {
		keyset_clear(&k);
		for (int i = round; i < round + 20; i++)
			bad += keyset_add(&k, keys[i], strlen(keys[i])) != 1;
		bad += keyset_add(&k, keys[round], strlen(keys[round])) != 0;
		bad += keyset_add(&k, keys[round + 20],
		    strlen(keys[round + 20])) != 1;
	}
	ok(bad == 0, "clearing forgets every key, 1000 times");

	k.gen = UINT32_MAX;
	keyset_clear(&k);
	ok(keyset_add(&k, keys[0], strlen(keys[0])) == 1 &&
	    keyset_add(&k, keys[0], strlen(keys[0])) == 0,
	    "clearing when the generation wraps");
	keyset_free(&k);

	struct keyset small = { 0 };
	keyset_clear(&small);
	for (int i = 0; i < 5; i++)
		keyset_add(&small, keys[i], strlen(keys[i]));
	ok(keyset_add(&small, keys[4], strlen(keys[4])) == 0 &&
	    keyset_add(&small, keys[5], strlen(keys[5])) == 1,
	    "a small set");
	keyset_free(&small);
	return tap_done();
}
