/* Unit checks of common/natsort: digit runs compare as numbers. */
#include <stdlib.h>
#include <string.h>

#include "natsort.h"
#include "tap.h"

static int
sign(int c)
{
	return (c > 0) - (c < 0);
}

static void
less(const char *a, const char *b)
{
	int ab = natcmp(a, b), ba = natcmp(b, a);

	if (!ok(ab < 0 && ba > 0, "\"%s\" before \"%s\"", a, b))
		diag("natcmp(a, b) %d, natcmp(b, a) %d", ab, ba);
}

static void
same(const char *a, const char *b)
{
	ok(natcmp(a, b) == 0 && natcmp(b, a) == 0, "\"%s\" same as \"%s\"",
	    a, b);
}

int
main(void)
{
	less("_9", "_10");
	less("part_9", "part_10");
	less("123_2024-01-05_9#0.json.gz", "123_2024-01-05_10#0.json.gz");
	less("123_2024-01-05_1#9.json.gz", "123_2024-01-05_1#10.json.gz");
	less("123_2024-01-05_2#10.json.gz", "123_2024-01-05_10#2.json.gz");
	less("a2b", "a10a");
	less("1", "2");
	less("9", "10");
	less("99", "100");
	less("x", "x0");
	less("", "a");
	less("", "0");
	less("a", "b");
	less("a", "ab");
	less("a1", "a1b");
	less("a1b", "a1c");
	less("A", "a");
	less("1a", "a");		/* '1' < 'a' */
	less("a\x7f", "a\x80");		/* bytes are unsigned */
	less("az", "a\xe9");
	less("99999999999999999999", "100000000000000000000");
	less("18446744073709551615", "18446744073709551616");
	less("x18446744073709551616y", "x18446744073709551617a");
	less("0", "1");
	less("00", "1");
	less("007", "8");
	same("", "");
	same("abc", "abc");
	same("a10", "a10");
	same("x007", "x7");
	same("01", "1");
	same("0", "00");
	same("a01b02", "a1b2");

	/* qsort's order breaks natcmp's ties: still a total order. */
	{
		const char *a = "01", *b = "1";
		int ab = natcmp_qsort(&a, &b), ba = natcmp_qsort(&b, &a);
		ok(ab != 0 && sign(ab) == -sign(ba),
		    "natcmp_qsort: \"01\" and \"1\" differ, consistently");
	}
	{
		const char *v[] = {
			"p_2024-01-05_10#0.json.gz", "p_2024-01-05_9#1.json.gz",
			"p_2024-01-05_9#10.json.gz", "p_2024-01-05_9#0.json.gz",
			"p_2024-01-05_9#2.json.gz", "p_2024-01-04_23#0.json.gz",
			"p_2024-01-05_0#0.json.gz", "p_2024-01-05_1#0.json.gz",
		};
		const char *want[] = {
			"p_2024-01-04_23#0.json.gz", "p_2024-01-05_0#0.json.gz",
			"p_2024-01-05_1#0.json.gz", "p_2024-01-05_9#0.json.gz",
			"p_2024-01-05_9#1.json.gz", "p_2024-01-05_9#2.json.gz",
			"p_2024-01-05_9#10.json.gz", "p_2024-01-05_10#0.json.gz",
		};
		size_t n = sizeof(v) / sizeof(v[0]), i;

		qsort(v, n, sizeof(v[0]), natcmp_qsort);
		for (i = 0; i < n && strcmp(v[i], want[i]) == 0; i++)
			;
		if (!ok(i == n, "qsort of member names, hours then parts"))
			for (i = 0; i < n; i++)
				diag("%s", v[i]);
	}

	/* Antisymmetry and transitivity over a mixed set. */
	{
		static const char *s[] = { "", "0", "00", "000", "01", "1",
		    "2", "9", "10", "010", "a", "a0", "a00", "a1", "a01", "a9",
		    "a10", "a10b", "a9z", "a_1", "a_", "ab", "b", "_9", "_10",
		    "x1y2", "x1y10", "x01y2", "x10y1", "\xc3\xa9", "1a", "1b",
		    "a1b1", "a1b01", "a01b1", "99", "100" };
		size_t n = sizeof(s) / sizeof(s[0]);
		int anti = 0, trans = 0, qanti = 0;

		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++) {
				int ij = sign(natcmp(s[i], s[j]));
				if (ij != -sign(natcmp(s[j], s[i])))
					anti++;
				int q = sign(natcmp_qsort(&s[i], &s[j]));
				if (q != -sign(natcmp_qsort(&s[j], &s[i])) ||
				    (i != j && q == 0))
					qanti++;
				for (size_t k = 0; k < n; k++) {
					int jk = natcmp_qsort(&s[j], &s[k]);
					int ik = natcmp_qsort(&s[i], &s[k]);
					if (sign(natcmp_qsort(&s[i], &s[j])) <= 0
					    && jk <= 0 && ik > 0)
						trans++;
				}
			}
		ok(anti == 0, "natcmp is antisymmetric (%d pairs wrong)", anti);
		ok(qanti == 0, "natcmp_qsort is antisymmetric and total (%d)",
		    qanti);
		ok(trans == 0, "natcmp_qsort is transitive (%d triples wrong)",
		    trans);
	}
	return tap_done();
}
