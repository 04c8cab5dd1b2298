/* natsort: natural comparison of names with embedded numbers. */
#include <ctype.h>
#include <string.h>

#include "natsort.h"

int
natcmp(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *da, *db;
			size_t la, lb;

			/* Skip leading zeros, then longer run is bigger. */
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			for (da = a; isdigit((unsigned char)*da); da++)
				;
			for (db = b; isdigit((unsigned char)*db); db++)
				;
			la = da - a;
			lb = db - b;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = memcmp(a, b, la);
			if (c != 0)
				return c < 0 ? -1 : 1;
			a = da;
			b = db;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	if (*a == *b)
		return 0;
	return *a == '\0' ? -1 : 1;
}

int
natcmp_qsort(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;
	int c;

	if ((c = natcmp(*a, *b)) != 0)
		return c;
	return strcmp(*a, *b);		/* "1" and "01": still a total order */
}
