/*
 * amp-sample: write a synthetic Amplitude Export API archive, the same
 * bytes for the same seed on every run and machine.
 *
 * The output looks like what GET /api/2/export answers: a zip whose
 * members are <project>/<project>_<YYYY-MM-DD>_<H>#<N>.json.gz, one or
 * more per upload hour, each a gzip stream of NDJSON event rows carrying
 * every field of real exported rows, keys sorted, null where absent.
 * Tests, the benchmark and the demo are built on it, so the population is
 * meant to walk every path of a converter (anonymous then identified
 * devices, shared devices, sessions, late and clock-skewed events,
 * missing and bogus uuids, amplitude_ids beyond 2^53, unicode and
 * escapes) rather than to model any product faithfully.
 *
 * Everything is drawn from splitmix64 and integer arithmetic
 * (no floating point reaches the output), so a seed pins the NDJSON on
 * any machine; the zip bytes also depend on zlib's deflate, which is
 * stable across zlib releases but not shared by zlib-ng.
 *
 * Memory does not grow with the event count: the device population is
 * capped, and each member is compressed into memory (by worker threads,
 * in chunks; see "Driving") and written out as a zip entry before the
 * next one is assembled.  A million events take about 20 s of CPU.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define EXIT_USAGE	2
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define US		1000000LL		/* microseconds per second */
#define HOUR_US		(3600 * US)
#define MIN_US		(60 * US)
#define DAY_US		(24 * HOUR_US)
#define IDLE_US		(30 * MIN_US)		/* Amplitude's session timeout */

#define MAXHOURS	(24 * 366 * 10)		/* keeps hour weights in range */
#define MAXDEVS		(1 << 18)		/* caps the population's memory */
#define MAXSLOTS	4096			/* concurrently active devices */
#define FLUSHAT		(256 * 1024)		/* NDJSON bytes per write */

/*
 * Default gzip level.  Level 6, what Amplitude's side most likely uses,
 * needs about 45 s of CPU for a million events (2 GB of NDJSON); level 3
 * needs half that for a zip 25% larger, which keeps the benchmark's 1M
 * event archive well under half a minute on two cores.
 */
#define DEFLEVEL	3

/* Every 7th member ends without a final newline, as real exports can. */
#define NONL_EVERY	7

struct opts {
	uint64_t	 n;		/* events in total */
	uint64_t	 seed;
	int64_t		 start;		/* first upload hour, seconds */
	uint64_t	 hours;
	uint64_t	 project;
	uint64_t	 part;		/* max events per member */
	int		 stored;
	int		 zip64;
	int		 level;
	int		 ndjson;
	const char	*out;
};

/* ------------------------------------------------------------------ */
/* Output buffer and JSON writing                                      */

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
buf_grow(struct buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;

	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			errx(1, "out of memory");
		cap *= 2;
	}
	if ((b->p = realloc(b->p, cap)) == NULL)
		err(1, NULL);
	b->cap = cap;
}

static inline void
put(struct buf *b, const void *s, size_t n)
{
	if (b->cap - b->len < n)
		buf_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* A string literal, already JSON, with its length known at compile time. */
#define LIT(b, s)	put((b), (s), sizeof(s) - 1)

static inline void
putch(struct buf *b, char c)
{
	if (b->cap == b->len)
		buf_grow(b, 1);
	b->p[b->len++] = c;
}

/* Raw JSON text held in a C string (pre-escaped titles, arrays, ...). */
static inline void
put_raw(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void
put_u64(struct buf *b, uint64_t v)
{
	char t[20];
	int i = 20;

	do {
		t[--i] = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	put(b, t + i, 20 - i);
}

static void
put_i64(struct buf *b, int64_t v)
{
	if (v < 0) {
		putch(b, '-');
		put_u64(b, -(uint64_t)v);
	} else
		put_u64(b, v);
}

/* A fixed-point decimal: v / 10^dec, e.g. (1999, 2) is 19.99. */
static void
put_fix(struct buf *b, int64_t v, int dec)
{
	char t[24];
	uint64_t u, p = 1;
	int i;

	if (v < 0) {
		putch(b, '-');
		u = -(uint64_t)v;
	} else
		u = v;
	for (i = 0; i < dec; i++)
		p *= 10;
	put_u64(b, u / p);
	if (dec == 0)
		return;
	u %= p;
	t[0] = '.';
	for (i = dec; i > 0; i--) {
		t[i] = '0' + u % 10;
		u /= 10;
	}
	put(b, t, dec + 1);
}

/* Bytes that JSON forbids raw inside a string. */
static const unsigned char jesc[256] = {
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};

/* A JSON string from plain UTF-8 text. */
static void
put_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	putch(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = *s;

		if (!jesc[c])
			continue;
		put(b, run, s - run);
		run = s + 1;
		switch (c) {
		case '"':  LIT(b, "\\\""); break;
		case '\\': LIT(b, "\\\\"); break;
		case '\n': LIT(b, "\\n"); break;
		case '\t': LIT(b, "\\t"); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4],
			    hex[c & 15] };
			put(b, u, 6);
		}
		}
	}
	put(b, run, s - run);
	putch(b, '"');
}

/* A JSON string, or null when there is none. */
static void
put_strn(struct buf *b, const char *s)
{
	if (s == NULL)
		LIT(b, "null");
	else
		put_str(b, s);
}

/*
 * Object keys: `first` tracks whether a comma is due.  Keys are passed
 * as JSON text with quotes and colon ("\"k\":").
 */
#define KEY(b, first, k) do {						\
	if (!*(first))							\
		putch((b), ',');					\
	*(first) = 0;							\
	LIT((b), k);							\
} while (0)

static void
put_hex(struct buf *b, uint64_t v, int digits, int upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char t[16];
	int i;

	for (i = digits - 1; i >= 0; i--) {
		t[i] = hex[v & 15];
		v >>= 4;
	}
	put(b, t, digits);
}

/* 36-character UUID text from 128 bits, without quotes. */
static void
put_uuid_bare(struct buf *b, uint64_t hi, uint64_t lo, int upper)
{
	put_hex(b, hi >> 32, 8, upper);
	putch(b, '-');
	put_hex(b, hi >> 16, 4, upper);
	putch(b, '-');
	put_hex(b, hi, 4, upper);
	putch(b, '-');
	put_hex(b, lo >> 48, 4, upper);
	putch(b, '-');
	put_hex(b, lo, 12, upper);
}

static void
put_uuid(struct buf *b, uint64_t hi, uint64_t lo, int upper)
{
	putch(b, '"');
	put_uuid_bare(b, hi, lo, upper);
	putch(b, '"');
}

/* Version 4 layout for 128 random bits. */
static void
uuid_v4(uint64_t *hi, uint64_t *lo)
{
	*hi = (*hi & ~0xf000ULL) | 0x4000;
	*lo = (*lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
}

/* ------------------------------------------------------------------ */
/* Time                                                                */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static inline void
dig2(char *p, unsigned v)
{
	p[0] = '0' + v / 10;
	p[1] = '0' + v % 10;
}

/*
 * "YYYY-MM-DD HH:MM:SS.ffffff", Amplitude's UTC timestamp text.  The
 * date part is cached: most timestamps of a row share one day.
 */
static int64_t	tsday = -1;
static char	tsdate[11];

static void
put_ts(struct buf *b, int64_t us)
{
	char t[28];
	int64_t s = us / US, day = s / 86400;
	unsigned sod = (unsigned)(s % 86400), f = (unsigned)(us % US);
	int i;

	if (day != tsday) {
		int y;
		unsigned m, d;

		civil_from_days(day, &y, &m, &d);
		dig2(tsdate, y / 100);
		dig2(tsdate + 2, y % 100);
		tsdate[4] = '-';
		dig2(tsdate + 5, m);
		tsdate[7] = '-';
		dig2(tsdate + 8, d);
		tsdate[10] = ' ';
		tsday = day;
	}
	t[0] = '"';
	memcpy(t + 1, tsdate, 11);
	dig2(t + 12, sod / 3600);
	t[14] = ':';
	dig2(t + 15, sod / 60 % 60);
	t[17] = ':';
	dig2(t + 18, sod % 60);
	t[20] = '.';
	for (i = 26; i > 20; i--) {
		t[i] = '0' + f % 10;
		f /= 10;
	}
	t[27] = '"';
	put(b, t, 28);
}

static void
put_tsn(struct buf *b, int64_t us)
{
	if (us < 0)
		LIT(b, "null");
	else
		put_ts(b, us);
}

/* ------------------------------------------------------------------ */
/* Randomness                                                          */

/*
 * splitmix64: tiny, fast, good enough statistically, and the same on
 * every platform, which is all a fixture generator needs.
 */
static uint64_t rs;

static inline uint64_t
rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) for n <= 2^32, by multiply-shift (no modulo bias). */
static inline uint32_t
rndn(uint64_t n)
{
	return (uint32_t)(((rnd() >> 32) * n) >> 32);
}

/* True with probability p per mille. */
static inline int
pm(unsigned p)
{
	return rndn(1000) < p;
}

/* Stateless hash, for properties that must not depend on draw order. */
static uint64_t
h64(uint64_t a, uint64_t b)
{
	uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ULL;
	return z ^ (z >> 32);
}

/*
 * A bijection on 48 bits: the low 48 bits of a uuid come from the row
 * number through it, so uuids are unique without remembering them.
 */
static uint64_t
perm48(uint64_t x, uint64_t key)
{
	const uint64_t m = (1ULL << 48) - 1;
	int i;

	x &= m;
	for (i = 0; i < 3; i++) {
		x = (x ^ (key >> (i * 16))) & m;
		x = (x * 0x5deece66dULL) & m;	/* odd: invertible */
		x ^= x >> 23;
	}
	return x;
}

/* ------------------------------------------------------------------ */
/* Static tables                                                       */

struct geo {
	const char	*city, *country, *region, *dma;
	int32_t		 lat, lng;	/* micro degrees */
};

static const struct geo geos[] = {
	{ "San Francisco", "United States", "California",
	    "San Francisco-Oakland-San Jose, CA", 37774900, -122419400 },
	{ "New York", "United States", "New York", "New York, NY",
	    40712800, -74006000 },
	{ "Austin", "United States", "Texas", "Austin, TX",
	    30267100, -97743100 },
	{ "Hemel Hempstead", "United Kingdom", "Hertfordshire", NULL,
	    51753000, -448000 },
	{ "London", "United Kingdom", "England", NULL, 51507400, -127800 },
	{ "Zürich", "Switzerland", "Zurich", NULL, 47376900, 8541700 },
	{ "Berlin", "Germany", "Land Berlin", NULL, 52520000, 13405000 },
	{ "São Paulo", "Brazil", "São Paulo", NULL, -23555800, -46639600 },
	{ "東京", "Japan", "Tokyo", NULL, 35676200, 139650300 },
	{ "Kraków", "Poland", "Lesser Poland", NULL, 50064700, 19945000 },
	{ "Montréal", "Canada", "Quebec", NULL, 45501700, -73567300 },
	{ "Bengaluru", "India", "Karnataka", NULL, 12971600, 77594600 },
	{ "Sydney", "Australia", "New South Wales", NULL,
	    -33868800, 151209300 },
	{ NULL, "Netherlands", NULL, NULL, 52132600, 5291300 },
	{ NULL, NULL, NULL, NULL, 0, 0 },
};

static const char *const languages[] = {
	"English", "English", "English", "German", "French", "Japanese",
	"Spanish", "Portuguese", "Polish",
};

struct webua {
	const char	*browser, *version, *family, *type;
	unsigned	 weight;
};

static const struct webua webuas[] = {
	{ "Chrome",  "137",  "Mac OS X", "Mac",          20 },
	{ "Chrome",  "136",  "Windows",  "Windows",      18 },
	{ "Chrome",  "137",  "Windows",  "Windows",      14 },
	{ "Chrome",  "120",  "Linux",    "Linux",         5 },
	{ "Safari",  "17.1", "Mac OS X", "Mac",          12 },
	{ "Safari",  "18.3", "iOS",      "Apple iPhone",  8 },
	{ "Firefox", "139",  "Windows",  "Windows",       6 },
	{ "Firefox", "128",  "Linux",    "Linux",         4 },
	{ "Edge",    "137",  "Windows",  "Windows",      10 },
	{ "Chrome Mobile", "137", "Android", "Android",   3 },
};

enum { K_WEB, K_IOS, K_ANDROID };

struct model {
	int		 kind;
	const char	*brand, *manu, *model, *type, *family;
};

static const struct model models[] = {
	{ K_IOS, NULL, "Apple", "iPhone15,2", "Apple iPhone 14 Pro",
	    "Apple iPhone" },
	{ K_IOS, NULL, "Apple", "iPhone14,7", "Apple iPhone 14",
	    "Apple iPhone" },
	{ K_IOS, NULL, "Apple", "iPhone16,1", "Apple iPhone 15 Pro",
	    "Apple iPhone" },
	{ K_IOS, NULL, "Apple", "iPad13,4", "Apple iPad Pro 11-inch",
	    "Apple iPad" },
	{ K_ANDROID, "samsung", "samsung", "SM-S911B", "Samsung Galaxy S23",
	    "Samsung Phone" },
	{ K_ANDROID, "samsung", "samsung", "SM-A546B", "Samsung Galaxy A54",
	    "Samsung Phone" },
	{ K_ANDROID, "google", "Google", "Pixel 8", "Google Pixel 8",
	    "Google Phone" },
	{ K_ANDROID, "Xiaomi", "Xiaomi", "2201123G", "Xiaomi 12",
	    "Xiaomi Phone" },
};

static const char *const iosversions[] = { "17.1", "17.4.1", "18.0", "16.7.2" };
static const char *const andversions[] = { "14", "13", "12", "15" };
static const char *const carriers[] = {
	"Verizon", "T-Mobile", "AT&T", "Vodafone", "NTT DOCOMO", "Telefónica",
	"O2 - UK",
};
static const char *const appversions[] = {
	"2.9.0", "3.0.0", "3.1.4", "3.2.0", "3.2.1",
};
static const char *const appbuilds[] = { "290", "300", "314", "320", "321" };

struct viewport {
	int	 w, h;
};

static const struct viewport viewports[] = {
	{ 1920, 945 }, { 1440, 789 }, { 1536, 730 }, { 1280, 632 },
	{ 2560, 1305 }, { 390, 844 }, { 1366, 657 },
};

struct page {
	const char	*path;	/* URL path, percent-encoded */
	const char	*title;	/* JSON string text, quotes included */
};

/*
 * Titles carry the escapes and scripts converters get wrong: \" \\ \/
 * \n \t, \u escapes (one a surrogate pair), raw UTF-8 and control bytes.
 */
static const struct page pages[] = {
	{ "/", "\"Example \\u2014 Analytics that ships\"" },
	{ "/pricing", "\"Pricing \\u2013 \\\"Pro\\\" & Team plans\"" },
	{ "/docs/getting-started", "\"Getting started \\/ Docs\"" },
	{ "/products/42", "\"Widget 42 \\\"Deluxe\\\" \\u2013 Shop\"" },
	{ "/blog/caf%C3%A9-z%C3%BCrich",
	    "\"Café Zürich: how we cut churn by 30%\"" },
	{ "/cart", "\"Cart (3)\"" },
	{ "/blog/tokyo", "\"東京オフィス開設のお知らせ\"" },
	{ "/launch", "\"We launched 🎉 v2\"" },
	{ "/launch/edition", "\"Launch \\uD83C\\uDF89 \\u00e9dition sp\\u00e9ciale\"" },
	{ "/checkout", "\"Checkout\\tStep 1 of 3\"" },
	{ "/account/settings", "\"Settings\\nAccount\"" },
	{ "/help/windows-paths", "\"C:\\\\Users\\\\demo \\u2192 help\"" },
	{ "/legal/terms", "\"Terms\\u0001\\u001f\\b\\f\\r of service\"" },
	{ "/search", "\"Search results \\u00b7 Example\"" },
	{ "/about", "\"About us — Über uns — 私たちについて\"" },
	{ "/careers", "\"Careers\"" },
};

static const char *const domains[] = {
	"www.example.com", "www.example.com", "www.example.com",
	"shop.example.com", "docs.example.org",
};

/* Landing-page queries; attribution parameters a converter may lift. */
static const char *const queries[] = {
	"?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale"
	    "&gclid=Cj0KCQiA2eKtBhDcARIsAEGTG40x7q2Xn3Y",
	"?utm_source=newsletter&utm_medium=email&utm_campaign=2024-01"
	    "&utm_content=hero",
	"?ref=producthunt",
	"?q=caf%C3%A9+z%C3%BCrich&page=2",
	"?fbclid=IwAR2F4-dbP0l7Mn",
	"?utm_source=linkedin&li_fat_id=8f1e2d3c-1111-2222",
	"?msclkid=b1c2d3e4f5a6&utm_term=analytics%20tool",
};

static const struct {
	const char	*url, *domain;
} referrers[] = {
	{ "https://www.google.com/", "www.google.com" },
	{ "https://duckduckgo.com/", "duckduckgo.com" },
	{ "https://news.ycombinator.com/", "news.ycombinator.com" },
	{ "https://t.co/Abc123", "t.co" },
	{ "https://www.linkedin.com/", "www.linkedin.com" },
	{ "android-app://com.google.android.gm/", "com.google.android.gm" },
};

struct elem {
	const char	*tag;
	const char	*text;		/* JSON text or NULL */
	const char	*id;
	const char	*cls;
	const char	*href;
	const char	*aria;		/* JSON text or NULL */
	const char	*selector;
	const char	*parent;	/* JSON text or NULL */
	const char	*hier;		/* JSON array text */
	const char	*attrs;		/* JSON object text */
	int		 changed;	/* a form control: Element Changed */
};

static const struct elem elems[] = {
	{ "button", "\"Buy now\"", "buy", "btn primary", NULL,
	    "\"Buy now\"", "#buy", "\"Pricing \\\"Pro\\\"\"",
	    "[{\"tag\":\"button\",\"index\":0,\"indexOfType\":0,"
	    "\"classes\":[\"btn\",\"primary\"],\"id\":\"buy\"},"
	    "{\"tag\":\"div\",\"index\":2,\"indexOfType\":1,"
	    "\"classes\":[\"cta\"]},"
	    "{\"tag\":\"main\",\"index\":1,\"indexOfType\":0},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{}", 0 },
	{ "a", "\"Read the docs \\u2192\"", NULL, "nav-link",
	    "https://www.example.com/docs/getting-started", NULL,
	    "nav > a.nav-link:nth-of-type(3)", "\"Main navigation\"",
	    "[{\"tag\":\"a\",\"index\":2,\"indexOfType\":2,"
	    "\"classes\":[\"nav-link\"],"
	    "\"attrs\":{\"href\":\"\\/docs\\/getting-started\"}},"
	    "{\"tag\":\"nav\",\"index\":0,\"indexOfType\":0,"
	    "\"id\":\"top-nav\"},"
	    "{\"tag\":\"header\",\"index\":0,\"indexOfType\":0},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{\"data-amp-track-section\":\"nav\"}", 0 },
	{ "a", "\"Download PDF\"", "dl-report", "btn btn-link download",
	    "https://cdn.example.com/files/report-2024.pdf",
	    "\"Download the 2024 report (PDF, 2 MB)\"", "#dl-report", NULL,
	    "[{\"tag\":\"a\",\"index\":0,\"indexOfType\":0,"
	    "\"classes\":[\"btn\",\"btn-link\",\"download\"],"
	    "\"id\":\"dl-report\"},"
	    "{\"tag\":\"section\",\"index\":3,\"indexOfType\":2,"
	    "\"classes\":[\"resources\"]},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{\"data-amp-track-file\":\"report-2024.pdf\"}", 0 },
	{ "input", NULL, "email", "form-control form-control-lg", NULL,
	    "\"Work email\"", "#email", "\"Sign up\"",
	    "[{\"tag\":\"input\",\"index\":1,\"indexOfType\":0,"
	    "\"classes\":[\"form-control\",\"form-control-lg\"],"
	    "\"id\":\"email\",\"attrs\":{\"type\":\"email\"}},"
	    "{\"tag\":\"form\",\"index\":0,\"indexOfType\":0,"
	    "\"id\":\"signup\"},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{\"type\":\"email\",\"name\":\"email\"}", 1 },
	{ "select", NULL, "country", NULL, NULL, NULL,
	    "form#signup > select#country", "\"Sign up\"",
	    "[{\"tag\":\"select\",\"index\":3,\"indexOfType\":0,"
	    "\"id\":\"country\"},"
	    "{\"tag\":\"form\",\"index\":0,\"indexOfType\":0,"
	    "\"id\":\"signup\"},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{\"name\":\"country\"}", 1 },
	{ "div", "\"Café Zürich — 東京 🎉\"", NULL, "card card--featured",
	    NULL, NULL, "div.card.card--featured", "\"Featured\"",
	    "[{\"tag\":\"div\",\"index\":0,\"indexOfType\":0,"
	    "\"classes\":[\"card\",\"card--featured\"]},"
	    "{\"tag\":\"div\",\"index\":1,\"indexOfType\":1,"
	    "\"classes\":[\"grid\"]},"
	    "{\"tag\":\"main\",\"index\":1,\"indexOfType\":0},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{}", 0 },
	{ "span", "\"He said \\\"hi\\\"\\nthen left\\t\\u2026\"", NULL,
	    NULL, NULL, NULL, "p.quote > span", NULL,
	    "[{\"tag\":\"span\",\"index\":0,\"indexOfType\":0},"
	    "{\"tag\":\"p\",\"index\":4,\"indexOfType\":3,"
	    "\"classes\":[\"quote\"]},"
	    "{\"tag\":\"article\",\"index\":0,\"indexOfType\":0},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{}", 0 },
	{ "button", "\"Add to cart\"", NULL, "btn btn-secondary add-to-cart",
	    NULL, "\"Add Widget 42 to cart\"",
	    "button.add-to-cart", "\"Widget 42 \\\"Deluxe\\\"\"",
	    "[{\"tag\":\"button\",\"index\":1,\"indexOfType\":0,"
	    "\"classes\":[\"btn\",\"btn-secondary\",\"add-to-cart\"]},"
	    "{\"tag\":\"div\",\"index\":0,\"indexOfType\":0,"
	    "\"classes\":[\"product-actions\"],\"prevSib\":\"h1\"},"
	    "{\"tag\":\"main\",\"index\":1,\"indexOfType\":0},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{\"data-amp-track-sku\":\"SKU-42\",\"data-amp-track-price\":\"19.99\"}",
	    0 },
	{ "textarea", NULL, "feedback", "form-control", NULL,
	    "\"Tell us more\"", "#feedback", "\"Feedback\"",
	    "[{\"tag\":\"textarea\",\"index\":0,\"indexOfType\":0,"
	    "\"classes\":[\"form-control\"],\"id\":\"feedback\"},"
	    "{\"tag\":\"form\",\"index\":0,\"indexOfType\":0},"
	    "{\"tag\":\"body\",\"index\":1,\"indexOfType\":0}]",
	    "{\"name\":\"feedback\",\"maxlength\":\"500\"}", 1 },
};

static const char *const screens[] = {
	"HomeViewController", "ProductDetailViewController", "CartActivity",
	"CheckoutActivity", "SettingsFragment", "SearchScreen",
	"Café Menü", "検索", "OnboardingStep\"2\"",
};

static const char *const deeplinks[] = {
	"myapp://product/42?ref=email",
	"https://example.app.link/aBcD?%24deeplink_path=product%2F42",
	"myapp://promo?code=CAF%C3%89&utm_source=push",
};

static const char *const companies[] = {
	"Acme, Inc.", "Café Zürich GmbH", "東京商事株式会社",
	"Globex \"International\"", "Initech", "Umbrella 🎉 Labs",
	"Back\\slash LLC", "Łódź Software S.A.",
};

static const char *const plans[] = { "free", "free", "starter", "pro",
	"enterprise" };

static const char *const searches[] = {
	"café zürich", "東京 ramen", "red shoes", "\"exact phrase\"",
	"tab\there", "🎉 party", "C:\\temp", "1e2", "",
};

/* Revenue: decimals written literally, as clients send them. */
static const struct {
	const char	*price;
	int		 qty;
	const char	*revenue;
	const char	*type;
} revenues[] = {
	{ "19.99", 2, "39.98", "purchase" },
	{ "0.1", 3, "0.30000000000000004", "purchase" },
	{ "1e2", 1, "100", "subscription" },
	{ "12.345678901234567890", 1, "12.345678901234567890", "purchase" },
	{ "9.99", 1, "9.99", "subscription" },
	{ "249", 1, "249", "purchase" },
	{ "4.5", 4, "18", "purchase" },
	{ "-19.99", 1, "-19.99", "refund" },
	{ "1.5E+3", 1, "1500", "subscription" },
};

/* initial_* keys in the order real rows happen to use (not sorted). */
static const char *const initkeys[] = {
	"initial_utm_medium", "initial_referring_domain",
	"initial_utm_content", "initial_utm_campaign", "initial_gclid",
	"initial_utm_source", "initial_fbclid", "initial_referrer",
	"initial_utm_term",
	/* Only newer SDKs send the rest. */
	"initial_twclid", "initial_li_fat_id", "initial_dclid",
	"initial_wbraid", "initial_rtd_cid", "initial_utm_id",
	"initial_gbraid", "initial_msclkid", "initial_ttclid",
	"initial_ko_click_id",
};

/* Attribution sets: values for some of initkeys, "EMPTY" for the rest. */
static const struct {
	const char	*key, *val;
} attribs[][4] = {
	{ { "initial_utm_source", "google" }, { "initial_utm_medium", "cpc" },
	  { "initial_utm_campaign", "spring_sale" },
	  { "initial_gclid", "Cj0KCQiA2eKtBhDcARIsAEGTG40x7q2Xn3Y" } },
	{ { "initial_utm_source", "newsletter" },
	  { "initial_utm_medium", "email" },
	  { "initial_utm_campaign", "2024-01" },
	  { "initial_utm_content", "hero" } },
	{ { "initial_referrer", "https://news.ycombinator.com/" },
	  { "initial_referring_domain", "news.ycombinator.com" },
	  { NULL, NULL }, { NULL, NULL } },
	{ { "initial_fbclid", "IwAR2F4-dbP0l7Mn" },
	  { "initial_utm_source", "facebook" },
	  { "initial_utm_term", "café zürich" }, { NULL, NULL } },
	{ { "initial_msclkid", "b1c2d3e4f5a6" },
	  { "initial_referrer", "https://www.bing.com/" },
	  { "initial_referring_domain", "www.bing.com" }, { NULL, NULL } },
	{ { "initial_ttclid", "E.C.P.abc123" },
	  { "initial_utm_source", "tiktok" }, { NULL, NULL },
	  { NULL, NULL } },
};

/* ------------------------------------------------------------------ */
/* Population                                                          */

/* What a device is; derived from the seed and its index, never stored. */
struct devinfo {
	int		 kind;
	const struct webua *ua;
	const struct model *model;
	const char	*osver;
	const char	*carrier;
	const char	*lang;
	const struct geo *geo;
	const struct viewport *vp;
	int		 appver, startver;
	int		 idstyle;	/* 0 uuid, 1 UUID, 2 uuid+R, 3 base62+R */
	int		 insertkey;	/* sends $insert_key and $schema */
	int		 loc;		/* reports location */
	int		 ad;		/* 0 none, 1 ad id, 2 zeroed idfa */
	int		 attr;		/* attribution set, -1 all EMPTY */
	int		 attrkeys;	/* initial_* keys the SDK sends */
	int		 nologin;	/* stays anonymous */
	int		 shared;	/* second user logs in on it */
	int		 ipv6;
	int64_t		 skew;		/* client clock error, ms */
	uint32_t	 owner, other;
	uint32_t	 ip;
	uint64_t	 id[2];
	uint64_t	 ampid;		/* amplitude_id while anonymous */
	int32_t		 dlat, dlng;
};

/* What changes as a device sends events. */
struct dev {
	int64_t		 last;		/* last event time (us), 0: unseen */
	int64_t		 sess;		/* session id (ms) */
	uint32_t	 evid;		/* last event_id */
	uint32_t	 user;		/* logged-in user + 1, 0: anonymous */
	uint16_t	 page;		/* current page or screen */
	uint16_t	 pc;		/* page counter in the session */
	uint8_t		 exttype;	/* how the session's first page came */
	uint8_t		 query;		/* landing query + 1, 0: none */
	uint8_t		 ref;		/* referrer + 1 */
	uint8_t		 pad;
};

static uint64_t	 seed;
static int64_t	 startus;		/* first upload hour */
static uint64_t	 project;
static uint32_t	 ndev, nuser;
static struct dev *devs;

#define HK_DEV		1
#define HK_USER		2
#define HK_HOUR		3
#define HK_ROW		4
#define HK_INSERT	5
#define HK_NODE		6

/*
 * amplitude_id: small ones like the real rows, many above 2^40, some
 * just under 2^53 and a few above it, where a double cannot hold them.
 */
static uint64_t
ampid_from(uint64_t x)
{
	unsigned r = (unsigned)(x % 100);

	x >>= 8;
	if (r < 30)
		return 10000000000ULL + x % 990000000000ULL;
	if (r < 88)
		return (1ULL << 40) + x % ((1ULL << 50) - (1ULL << 40));
	if (r < 97)
		return (1ULL << 53) - 1 - x % (1ULL << 20);
	return (1ULL << 53) + 1 + 2 * (x % (1ULL << 20));
}

static uint64_t
user_ampid(uint32_t u)
{
	if (u == 1)
		return 9007199254740993ULL;	/* 2^53 + 1 */
	return ampid_from(h64(h64(seed, HK_USER), u * 4ULL));
}

static void
devinfo(uint32_t d, struct devinfo *di)
{
	uint64_t save = rs;
	unsigned w, sum, i;

	/* Borrow the PRNG with a per-device state, then give it back. */
	rs = h64(h64(seed, HK_DEV), d);
	memset(di, 0, sizeof(*di));
	w = rndn(100);
	di->kind = w < 64 ? K_WEB : w < 82 ? K_IOS : K_ANDROID;
	if (di->kind == K_WEB) {
		for (sum = 0, i = 0; i < NELEM(webuas); i++)
			sum += webuas[i].weight;
		w = rndn(sum);
		for (i = 0; w >= webuas[i].weight; i++)
			w -= webuas[i].weight;
		di->ua = &webuas[i];
		di->vp = &viewports[rndn(NELEM(viewports))];
		di->idstyle = pm(80) ? 3 : 0;
	} else {
		do
			di->model = &models[rndn(NELEM(models))];
		while (di->model->kind != di->kind);
		if (di->kind == K_IOS) {
			di->osver = iosversions[rndn(NELEM(iosversions))];
			di->idstyle = 1;
		} else {
			di->osver = andversions[rndn(NELEM(andversions))];
			di->idstyle = pm(700) ? 2 : 0;
		}
		di->carrier = pm(750) ? carriers[rndn(NELEM(carriers))] : NULL;
		di->startver = rndn(NELEM(appversions));
		di->appver = di->startver +
		    rndn(NELEM(appversions) - di->startver);
		w = rndn(100);
		di->ad = w < 35 ? 1 : w < 50 ? 2 : 0;
		di->loc = pm(300);
	}
	di->lang = languages[rndn(NELEM(languages))];
	di->geo = &geos[rndn(NELEM(geos))];
	di->insertkey = pm(400);
	di->attr = pm(300) ? (int)rndn(NELEM(attribs)) : -1;
	/* Current SDKs send all 19 initial_* keys, older ones 9, some none. */
	w = rndn(100);
	di->attrkeys = w < 25 ? (int)NELEM(initkeys) : w < 60 ? 9 : 0;
	di->nologin = pm(200);
	di->ipv6 = pm(100);
	di->ip = (uint32_t)rnd();
	w = rndn(1000);
	if (w < 850)
		di->skew = 0;
	else if (w < 970)
		di->skew = (int64_t)rndn(10000) - 5000;
	else
		di->skew = ((int64_t)rndn(7200) - 3600) * 1000;
	di->id[0] = rnd();
	di->id[1] = rnd();
	di->dlat = (int32_t)rndn(40000) - 20000;
	di->dlng = (int32_t)rndn(40000) - 20000;
	/* The first nuser devices are their users' first; the rest extra. */
	di->owner = d < nuser ? d : rndn(nuser);
	di->shared = nuser > 1 && pm(60);
	di->other = (di->owner + 1 + rndn(nuser - 1 ? nuser - 1 : 1)) % nuser;
	di->ampid = d < nuser ? user_ampid(d) : ampid_from(rnd());
	rs = save;
}

static void
put_devid(struct buf *b, const struct devinfo *di)
{
	uint64_t hi = di->id[0], lo = di->id[1];
	static const char b62[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char t[24];
	int i;

	switch (di->idstyle) {
	case 3:
		/* amplitude-js: 22 base62 characters and an 'R'. */
		for (i = 0; i < 11; i++) {
			t[i] = b62[hi % 62];
			hi /= 62;
			t[11 + i] = b62[lo % 62];
			lo /= 62;
		}
		t[22] = 'R';
		putch(b, '"');
		put(b, t, 23);
		putch(b, '"');
		return;
	case 2:
		/* The Android SDK marks random ids with a trailing 'R'. */
		uuid_v4(&hi, &lo);
		putch(b, '"');
		put_uuid_bare(b, hi, lo, 0);
		LIT(b, "R\"");
		return;
	default:
		/* iOS's identifierForVendor is upper case. */
		uuid_v4(&hi, &lo);
		put_uuid(b, hi, lo, di->idstyle == 1);
	}
}

static void
put_userid(struct buf *b, uint32_t u)
{
	uint64_t h = h64(h64(seed, HK_USER), u * 4ULL + 1);
	unsigned r = (unsigned)(h % 100);

	if (r < 62) {
		LIT(b, "\"user");
		put_u64(b, u);
		LIT(b, "@example.com\"");
	} else if (r < 70) {
		LIT(b, "\"zoë.müller+");
		put_u64(b, u);
		LIT(b, "@exämple.de\"");
	} else if (r < 85) {
		putch(b, '"');
		put_u64(b, 100000 + u * 7ULL + (h >> 40) % 7);
		putch(b, '"');
	} else {
		uint64_t lo = h64(h, 2);

		uuid_v4(&h, &lo);
		put_uuid(b, h, lo, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

enum {
	E_SESSION_START, E_SESSION_END,
	E_PAGE, E_CLICK, E_CHANGE, E_FORM, E_DOWNLOAD,
	E_INSTALLED, E_UPDATED, E_OPENED, E_BACKGROUND, E_SCREEN, E_DEEPLINK,
	E_SIGNUP, E_LOGIN, E_PURCHASE, E_SEARCH, E_CART, E_VIDEO,
	E_ONBOARD, E_SHARE, E_SETTINGS, E_NOTIFY,
	E_IDENTIFY, E_GROUPIDENTIFY, E_REVENUE, E_SRV_RENEW, E_SRV_INVOICE,
	E_SRV_EMAIL,
};

static const char *const etypes[] = {
	"\"session_start\"", "\"session_end\"",
	"\"[Amplitude] Page Viewed\"", "\"[Amplitude] Element Clicked\"",
	"\"[Amplitude] Element Changed\"", "\"[Amplitude] Form Started\"",
	"\"[Amplitude] File Downloaded\"",
	"\"[Amplitude] Application Installed\"",
	"\"[Amplitude] Application Updated\"",
	"\"[Amplitude] Application Opened\"",
	"\"[Amplitude] Application Backgrounded\"",
	"\"[Amplitude] Screen Viewed\"", "\"[Amplitude] Deep Link Opened\"",
	"\"Signed Up\"", "\"Logged In\"", "\"Purchase Completed\"",
	"\"Search\"", "\"Added To Cart\"", "\"Video Played\"",
	"\"Onboarding Step Completed\"", "\"Share Clicked\"",
	"\"Settings Changed\"", "\"Notification Received\"",
	"\"$identify\"", "\"$groupidentify\"", "\"revenue_amount\"",
	"\"Subscription Renewed\"", "\"Invoice Paid\"", "\"Email Opened\"",
};

#define F_LATE		0x01	/* event_time far older than upload */
#define F_SERVER	0x02	/* sent by a backend: no device fields */
#define F_NODEV		0x04	/* server event without a device_id */

/* One planned row. */
struct spec {
	int		 type;
	int		 flags;
	uint32_t	 dev;
	uint32_t	 user;		/* + 1; 0: anonymous */
	int64_t		 t;		/* event time, us */
	int64_t		 sess;		/* ms, or -1 */
};

#define QLEN	8

static struct spec queue[QLEN];
static int	 qhead, qlen;
static uint32_t	 slots[MAXSLOTS];	/* device + 1, 0: free */
static unsigned	 nslots;
static uint64_t	 row;			/* rows written so far */

static void
push(int type, int flags, uint32_t d, uint32_t user, int64_t t, int64_t sess)
{
	struct spec *s;

	if (qlen == QLEN)
		errx(1, "internal error: plan queue overflow");
	s = &queue[(qhead + qlen++) % QLEN];
	s->type = type;
	s->flags = flags;
	s->dev = d;
	s->user = user;
	s->t = t;
	s->sess = sess;
}

static int
group_kind(uint32_t u)
{
	unsigned r = (unsigned)(h64(h64(seed, HK_USER), u * 4ULL + 2) % 100);

	return r < 8 ? 1 : r < 11 ? 2 : 0;
}

/* A backend event: identify, group identify, revenue or a custom one. */
static void
plan_server(int64_t up_us)
{
	uint32_t u = rndn(nuser);
	unsigned r = rndn(100), tries;
	int type, flags = F_SERVER;

	if (r < 30)
		type = E_IDENTIFY;
	else if (r < 50) {
		/* Group identifies are about users who are in a group. */
		for (tries = 0; tries < 32 && !group_kind(u); tries++)
			u = rndn(nuser);
		type = group_kind(u) ? E_GROUPIDENTIFY : E_IDENTIFY;
	} else if (r < 80)
		type = E_REVENUE;
	else
		type = E_SRV_RENEW + (int)rndn(3);
	if (pm(500))
		flags |= F_NODEV;
	/* Sent a moment before upload, with a millisecond "time". */
	push(type, flags, u, u + 1,
	    (up_us - 20000 - rndn(2000000)) / 1000 * 1000, -1);
}

static int
pick_client_event(const struct devinfo *di, struct dev *dv)
{
	unsigned r = rndn(1000);

	if (dv->user == 0 && !di->nologin && r < 60)
		return h64(seed, di->owner) % 3 ? E_LOGIN : E_SIGNUP;
	/* On a shared device the other person logs in now and then. */
	if (dv->user != 0 && di->shared && r < 100)
		return E_LOGIN;
	r = rndn(1000);
	if (di->kind == K_WEB) {
		if (r < 460)
			return E_PAGE;
		if (r < 700)
			return E_CLICK;
		if (r < 750)
			return E_CHANGE;
		if (r < 775)
			return E_FORM;
		if (r < 795)
			return E_DOWNLOAD;
	} else {
		if (r < 560)
			return E_SCREEN;
		if (r < 700)
			return E_OPENED;
		if (r < 760)
			return E_BACKGROUND;
		if (r < 790)
			return E_DEEPLINK;
		if (r < 795)
			return E_UPDATED;
	}
	r = rndn(100);
	if (r < 15)
		return E_PURCHASE;
	if (r < 40)
		return E_SEARCH;
	if (r < 60)
		return E_CART;
	if (r < 70)
		return E_VIDEO;
	if (r < 80)
		return E_ONBOARD;
	if (r < 87)
		return E_SHARE;
	if (r < 94)
		return E_SETTINGS;
	return di->kind == K_WEB ? E_SEARCH : E_NOTIFY;
}

/*
 * Plan the rows of one client action uploaded at up_us: the event
 * itself, preceded by session_end/session_start when the device's last
 * session timed out (as the SDKs do, late, at the next activity), and
 * followed by an $identify when it logged in.
 */
static void
plan_client(uint32_t d, int64_t up_us)
{
	struct devinfo di;
	struct dev *dv = &devs[d];
	int64_t t;
	int type, newsess;

	devinfo(d, &di);
	/* Clients batch uploads: events reach the server a little later. */
	t = up_us - 40000 - rndn(rndn(10) == 0 ? 120000000 : 6000000);
	if (pm(20)) {
		/* Late: queued offline for hours or days. */
		t = up_us - HOUR_US - (int64_t)rndn(5 * 24 * 3600) * US;
		type = pick_client_event(&di, dv);
		if (type == E_LOGIN || type == E_SIGNUP)
			type = di.kind == K_WEB ? E_PAGE : E_SCREEN;
		push(type, F_LATE, d, dv->user, t,
		    t / 1000 - rndn(20 * 60 * 1000));
		return;
	}
	if (t <= dv->last)
		t = dv->last + 1000;
	t -= t % 1000;			/* client clocks tick in ms */
	newsess = dv->last == 0 || t - dv->last > IDLE_US;
	if (newsess) {
		if (dv->last != 0)
			push(E_SESSION_END, 0, d, dv->user, dv->last + 1000,
			    dv->sess);
		/* A shared device changes hands between sessions. */
		if (di.shared && dv->user != 0 && pm(500))
			dv->user = (dv->user - 1 == di.owner ? di.other :
			    di.owner) + 1;
		dv->sess = t / 1000;
		dv->pc = 0;
		dv->exttype = (uint8_t)rndn(3);
		dv->query = pm(300) ? (uint8_t)(1 + rndn(NELEM(queries))) : 0;
		dv->ref = dv->exttype == 1 ?
		    (uint8_t)(1 + rndn(NELEM(referrers))) : 0;
		push(E_SESSION_START, 0, d, dv->user, t, dv->sess);
		if (di.kind != K_WEB) {
			if (dv->evid == 0)
				push(E_INSTALLED, 0, d, dv->user, t + 1000,
				    dv->sess);
			push(E_OPENED, 0, d, dv->user, t + 2000, dv->sess);
		}
		type = di.kind == K_WEB ? E_PAGE : E_SCREEN;
		t += 3000;
	} else
		type = pick_client_event(&di, dv);
	if (type == E_SIGNUP && d >= nuser)
		type = E_LOGIN;		/* signed up on their first device */
	if (type == E_LOGIN || type == E_SIGNUP) {
		if (dv->user != 0)
			dv->user = (dv->user - 1 == di.owner ? di.other :
			    di.owner) + 1;
		else
			dv->user = (di.shared && pm(500) ? di.other :
			    di.owner) + 1;
		push(type, 0, d, dv->user, t, dv->sess);
		push(E_IDENTIFY, 0, d, dv->user, t + 1000, dv->sess);
		t += 1000;
	} else
		push(type, 0, d, dv->user, t, dv->sess);
	dv->last = t;
}

static void
plan(int64_t up_us)
{
	unsigned i;
	uint32_t d;

	if (pm(45)) {
		plan_server(up_us);
		return;
	}
	/*
	 * Most actions continue a session on one of the active slots; a few
	 * bring in a device from the whole population, ending the session
	 * of the one it replaces.  That gives sessions of a few dozen rows.
	 */
	i = rndn(nslots);
	if (slots[i] == 0 || pm(35))
		slots[i] = 1 + rndn(ndev);
	d = slots[i] - 1;
	plan_client(d, up_us);
}

/* Event properties of page-level web events. */
static void
page_props(struct buf *b, int *first, const struct devinfo *di,
    struct dev *dv, const struct spec *s)
{
	const struct page *pg = &pages[dv->page % NELEM(pages)];
	const char *dom = domains[(dv->page + dv->sess) % NELEM(domains)];
	const char *q = dv->query ? queries[dv->query - 1] : NULL;
	int slash = pm(20);

	if (dv->pc > 1)
		q = NULL;		/* the query belongs to the landing */
	KEY(b, first, "\"[Amplitude] Page Domain\":");
	put_str(b, dom);
	KEY(b, first, "\"[Amplitude] Page Location\":");
	/* A few writers escape '/', which JSON allows. */
	if (slash)
		LIT(b, "\"https:\\/\\/");
	else
		LIT(b, "\"https://");
	put_raw(b, dom);
	put_raw(b, pg->path);
	if (q != NULL)
		put_raw(b, q);		/* ASCII, nothing to escape */
	putch(b, '"');
	KEY(b, first, "\"[Amplitude] Page Path\":");
	put_str(b, pg->path);
	KEY(b, first, "\"[Amplitude] Page Title\":");
	put_raw(b, pg->title);
	KEY(b, first, "\"[Amplitude] Page URL\":");
	LIT(b, "\"https://");
	put_raw(b, dom);
	put_raw(b, pg->path);
	putch(b, '"');
	if (s->type == E_PAGE) {
		KEY(b, first, "\"[Amplitude] Page Counter\":");
		put_u64(b, dv->pc);
		KEY(b, first, "\"[Amplitude] Previous Page Location\":");
		if (dv->pc > 1) {
			LIT(b, "\"https://");
			put_raw(b, dom);
			put_raw(b, pages[(dv->page + 3) % NELEM(pages)].path);
			putch(b, '"');
		} else if (dv->ref)
			put_str(b, referrers[dv->ref - 1].url);
		else
			LIT(b, "\"\"");
		KEY(b, first, "\"[Amplitude] Previous Page Type\":");
		if (dv->pc > 1)
			LIT(b, "\"internal\"");
		else if (dv->ref)
			LIT(b, "\"external\"");
		else
			LIT(b, "\"direct\"");
	}
	KEY(b, first, "\"[Amplitude] Viewport Height\":");
	put_u64(b, di->vp->h);
	KEY(b, first, "\"[Amplitude] Viewport Width\":");
	put_u64(b, di->vp->w);
	if (s->type == E_PAGE && dv->pc == 1 && dv->ref) {
		KEY(b, first, "\"referrer\":");
		put_str(b, referrers[dv->ref - 1].url);
		KEY(b, first, "\"referring_domain\":");
		put_str(b, referrers[dv->ref - 1].domain);
	}
}

static void
elem_props(struct buf *b, int *first, const struct elem *e)
{
	KEY(b, first, "\"[Amplitude] Element Tag\":");
	put_str(b, e->tag);
	if (e->text != NULL) {
		KEY(b, first, "\"[Amplitude] Element Text\":");
		put_raw(b, e->text);
	}
	if (e->id != NULL) {
		KEY(b, first, "\"[Amplitude] Element ID\":");
		put_str(b, e->id);
	}
	if (e->cls != NULL) {
		KEY(b, first, "\"[Amplitude] Element Class\":");
		put_str(b, e->cls);
	}
	if (e->href != NULL) {
		KEY(b, first, "\"[Amplitude] Element Href\":");
		put_str(b, e->href);
	}
	KEY(b, first, "\"[Amplitude] Element Hierarchy\":");
	put_raw(b, e->hier);
	KEY(b, first, "\"[Amplitude] Element Position Left\":");
	put_u64(b, rndn(1400));
	KEY(b, first, "\"[Amplitude] Element Position Top\":");
	put_u64(b, rndn(3000));
	if (e->aria != NULL) {
		KEY(b, first, "\"[Amplitude] Element Aria Label\":");
		put_raw(b, e->aria);
	}
	KEY(b, first, "\"[Amplitude] Element Selector\":");
	put_str(b, e->selector);
	KEY(b, first, "\"[Amplitude] Element Parent Label\":");
	if (e->parent != NULL)
		put_raw(b, e->parent);
	else
		LIT(b, "null");
	KEY(b, first, "\"[Amplitude] Element Attributes\":");
	put_raw(b, e->attrs);
}

static void
app_version_props(struct buf *b, int *first, const struct devinfo *di)
{
	KEY(b, first, "\"[Amplitude] Version\":");
	put_str(b, appversions[di->appver]);
	KEY(b, first, "\"[Amplitude] Build\":");
	put_str(b, appbuilds[di->appver]);
}

static void
event_props(struct buf *b, const struct spec *s, const struct devinfo *di,
    struct dev *dv)
{
	int first = 1;
	const struct elem *e;
	unsigned i, r;

	putch(b, '{');
	switch (s->type) {
	case E_PAGE:
		page_props(b, &first, di, dv, s);
		break;
	case E_CLICK:
	case E_CHANGE:
		do
			e = &elems[rndn(NELEM(elems))];
		while (e->changed != (s->type == E_CHANGE));
		page_props(b, &first, di, dv, s);
		elem_props(b, &first, e);
		break;
	case E_FORM:
		page_props(b, &first, di, dv, s);
		KEY(b, &first, "\"[Amplitude] Form ID\":");
		LIT(b, "\"signup\"");
		KEY(b, &first, "\"[Amplitude] Form Name\":");
		LIT(b, "\"Sign up \\u2014 free trial\"");
		KEY(b, &first, "\"[Amplitude] Form Destination\":");
		LIT(b, "\"https://www.example.com/api/signup\"");
		break;
	case E_DOWNLOAD:
		page_props(b, &first, di, dv, s);
		KEY(b, &first, "\"[Amplitude] File Extension\":");
		LIT(b, "\"pdf\"");
		KEY(b, &first, "\"[Amplitude] File Name\":");
		LIT(b, "\"/files/report-2024.pdf\"");
		KEY(b, &first, "\"[Amplitude] Link ID\":");
		LIT(b, "\"dl-report\"");
		KEY(b, &first, "\"[Amplitude] Link Text\":");
		LIT(b, "\"Download PDF\"");
		KEY(b, &first, "\"[Amplitude] Link URL\":");
		LIT(b, "\"https://cdn.example.com/files/report-2024.pdf\"");
		break;
	case E_INSTALLED:
		app_version_props(b, &first, di);
		break;
	case E_UPDATED:
		app_version_props(b, &first, di);
		KEY(b, &first, "\"[Amplitude] Previous Version\":");
		put_str(b, appversions[di->startver]);
		KEY(b, &first, "\"[Amplitude] Previous Build\":");
		put_str(b, appbuilds[di->startver]);
		break;
	case E_OPENED:
		KEY(b, &first, "\"[Amplitude] From Background\":");
		if (dv->pc > 0)
			LIT(b, "true");
		else
			LIT(b, "false");
		app_version_props(b, &first, di);
		break;
	case E_SCREEN:
		KEY(b, &first, "\"[Amplitude] Screen Name\":");
		put_str(b, screens[dv->page % NELEM(screens)]);
		break;
	case E_DEEPLINK:
		KEY(b, &first, "\"[Amplitude] Link URL\":");
		put_str(b, deeplinks[rndn(NELEM(deeplinks))]);
		KEY(b, &first, "\"[Amplitude] Link Referrer\":");
		if (pm(500))
			LIT(b, "\"com.google.android.gm\"");
		else
			LIT(b, "null");
		break;
	case E_SIGNUP:
		KEY(b, &first, "\"method\":");
		LIT(b, "\"google\"");
		KEY(b, &first, "\"referral_code\":");
		LIT(b, "null");
		KEY(b, &first, "\"marketing_opt_in\":");
		if (pm(500))
			LIT(b, "true");
		else
			LIT(b, "false");
		KEY(b, &first, "\"plan\":");
		put_str(b, plans[rndn(NELEM(plans))]);
		break;
	case E_LOGIN:
		KEY(b, &first, "\"method\":");
		LIT(b, "\"password\"");
		KEY(b, &first, "\"remember_me\":");
		if (pm(500))
			LIT(b, "true");
		else
			LIT(b, "false");
		break;
	case E_PURCHASE:
		KEY(b, &first, "\"order_id\":");
		LIT(b, "\"ORD-");
		put_u64(b, 100000 + rndn(900000));
		putch(b, '"');
		r = 1 + rndn(3);
		KEY(b, &first, "\"total\":");
		put_fix(b, (int64_t)r * 1999, 2);
		KEY(b, &first, "\"currency\":");
		LIT(b, "\"EUR\"");
		KEY(b, &first, "\"items\":");
		putch(b, '[');
		for (i = 0; i < r; i++) {
			if (i > 0)
				putch(b, ',');
			LIT(b, "{\"sku\":\"SKU-");
			put_u64(b, 40 + i);
			LIT(b, "\",\"name\":\"Widget \\\"Deluxe\\\" ");
			put_u64(b, 40 + i);
			LIT(b, "\",\"qty\":1,\"price\":19.99,\"options\":"
			    "{\"color\":\"blue\",\"gift\":false}}");
		}
		putch(b, ']');
		KEY(b, &first, "\"coupon\":");
		if (pm(300))
			LIT(b, "\"CAFÉ10\"");
		else
			LIT(b, "null");
		KEY(b, &first, "\"first_purchase\":");
		if (pm(300))
			LIT(b, "true");
		else
			LIT(b, "false");
		KEY(b, &first, "\"tax_rate\":");
		LIT(b, "0.19");
		break;
	case E_SEARCH:
		KEY(b, &first, "\"query\":");
		put_str(b, searches[rndn(NELEM(searches))]);
		KEY(b, &first, "\"results\":");
		put_u64(b, rndn(200));
		KEY(b, &first, "\"filters\":");
		LIT(b, "{\"category\":\"shoes\",\"price_max\":100,"
		    "\"in_stock\":true,\"sizes\":[42,43.5],\"brand\":null}");
		KEY(b, &first, "\"latency_ms\":");
		put_fix(b, rndn(100000), 3);
		break;
	case E_CART:
		KEY(b, &first, "\"product_id\":");
		put_u64(b, 40 + rndn(20));
		KEY(b, &first, "\"name\":");
		LIT(b, "\"Widget 42 \\\"Deluxe\\\" \\u2013 blue\"");
		KEY(b, &first, "\"price\":");
		LIT(b, "19.99");
		KEY(b, &first, "\"quantity\":");
		put_u64(b, 1 + rndn(3));
		KEY(b, &first, "\"variant\":");
		LIT(b, "null");
		KEY(b, &first, "\"tags\":");
		LIT(b, "[\"sale\",\"new\",\"東京\"]");
		break;
	case E_VIDEO:
		KEY(b, &first, "\"video_id\":");
		LIT(b, "\"vid_8f3a\"");
		KEY(b, &first, "\"duration_s\":");
		put_fix(b, 600 + rndn(6000), 1);
		KEY(b, &first, "\"autoplay\":");
		LIT(b, "false");
		KEY(b, &first, "\"position\":");
		LIT(b, "0");
		KEY(b, &first, "\"quality\":");
		LIT(b, "\"1080p\"");
		KEY(b, &first, "\"big_counter\":");
		LIT(b, "12345678901234567890");
		KEY(b, &first, "\"avogadro\":");
		LIT(b, "6.02214076e23");
		KEY(b, &first, "\"tiny\":");
		LIT(b, "-1.5E-7");
		break;
	case E_ONBOARD:
		KEY(b, &first, "\"step\":");
		put_u64(b, 1 + rndn(5));
		KEY(b, &first, "\"total_steps\":");
		LIT(b, "5");
		KEY(b, &first, "\"skipped\":");
		if (pm(200))
			LIT(b, "true");
		else
			LIT(b, "false");
		KEY(b, &first, "\"answers\":");
		LIT(b, "{\"role\":\"engineer\",\"team_size\":\"11-50\","
		    "\"goals\":[\"retention\",\"activation\"],"
		    "\"note\":\"line1\\nline2\\u00e9\"}");
		break;
	case E_SHARE:
		KEY(b, &first, "\"channel\":");
		LIT(b, "\"twitter\"");
		KEY(b, &first, "\"url\":");
		LIT(b, "\"https:\\/\\/www.example.com\\/blog\\/tokyo\"");
		KEY(b, &first, "\"message\":");
		LIT(b, "\"Look \\ud83c\\udf89 at this \\\"post\\\"\"");
		break;
	case E_SETTINGS:
		KEY(b, &first, "\"setting\":");
		LIT(b, "\"notifications\"");
		KEY(b, &first, "\"old\":");
		LIT(b, "{\"email\":true,\"push\":false}");
		KEY(b, &first, "\"new\":");
		LIT(b, "{\"email\":false,\"push\":true}");
		KEY(b, &first, "\"path\":");
		LIT(b, "\"C:\\\\Users\\\\demo\\\\settings.json\"");
		break;
	case E_NOTIFY:
		KEY(b, &first, "\"campaign_id\":");
		put_u64(b, rndn(1000000));
		KEY(b, &first, "\"title\":");
		LIT(b, "\"Flash sale \\ud83c\\udf89 \\u2013 50% off\"");
		KEY(b, &first, "\"opened\":");
		LIT(b, "false");
		break;
	case E_REVENUE:
		r = rndn(NELEM(revenues));
		KEY(b, &first, "\"$price\":");
		put_raw(b, revenues[r].price);
		KEY(b, &first, "\"$quantity\":");
		put_u64(b, revenues[r].qty);
		KEY(b, &first, "\"$revenue\":");
		put_raw(b, revenues[r].revenue);
		KEY(b, &first, "\"$productId\":");
		LIT(b, "\"sku-");
		put_u64(b, 100 + rndn(50));
		putch(b, '"');
		KEY(b, &first, "\"$revenueType\":");
		put_str(b, revenues[r].type);
		break;
	case E_SRV_RENEW:
		KEY(b, &first, "\"plan\":");
		put_str(b, plans[2 + rndn(3)]);
		KEY(b, &first, "\"period\":");
		LIT(b, "\"monthly\"");
		KEY(b, &first, "\"amount\":");
		LIT(b, "49.00");
		break;
	case E_SRV_INVOICE:
		KEY(b, &first, "\"invoice_id\":");
		LIT(b, "\"in_1Oabc\"");
		KEY(b, &first, "\"amount_cents\":");
		put_u64(b, 100 * (1 + rndn(500)));
		KEY(b, &first, "\"lines\":");
		LIT(b, "[{\"desc\":\"Seats\",\"qty\":5},{\"desc\":\"Overage\","
		    "\"qty\":0,\"note\":null}]");
		break;
	case E_SRV_EMAIL:
		KEY(b, &first, "\"email_id\":");
		put_u64(b, rndn(100000));
		KEY(b, &first, "\"subject\":");
		LIT(b, "\"Willkommen bei Example \\u2013 \\u00dcbersicht\"");
		break;
	}
	putch(b, '}');
}

/* user_properties: the SDKs' attribution set plus the user's own. */
static void
user_props(struct buf *b, const struct spec *s, const struct devinfo *di,
    struct dev *dv)
{
	int first = 1;
	uint32_t u = s->user - 1;
	unsigned i, j;

	putch(b, '{');
	if (s->type == E_IDENTIFY) {
		LIT(b, "\"$set\":{\"plan\":");
		put_str(b, plans[h64(seed, u) % NELEM(plans)]);
		LIT(b, ",\"company\":");
		put_str(b, companies[h64(seed + 1, u) % NELEM(companies)]);
		LIT(b, ",\"seats\":");
		put_u64(b, 1 + h64(seed + 2, u) % 200);
		LIT(b, ",\"beta\":");
		if (h64(seed + 3, u) & 1)
			LIT(b, "true");
		else
			LIT(b, "false");
		LIT(b, ",\"nickname\":null}");
		if (pm(500))
			LIT(b, ",\"$setOnce\":{\"first_seen\":\"2023-11-05\","
			    "\"signup_source\":\"web\"}");
		if (pm(200))
			LIT(b, ",\"$unset\":{\"trial_ends\":\"-\"}");
		putch(b, '}');
		return;
	}
	if (s->flags & F_SERVER) {
		putch(b, '}');
		return;
	}
	if (di->kind == K_WEB) {
		for (i = 0; i < (unsigned)di->attrkeys; i++) {
			const char *v = "EMPTY";

			if (di->attr >= 0)
				for (j = 0; j < 4; j++)
					if (attribs[di->attr][j].key != NULL &&
					    strcmp(attribs[di->attr][j].key,
					    initkeys[i]) == 0)
						v = attribs[di->attr][j].val;
			if (!first)
				putch(b, ',');
			first = 0;
			putch(b, '"');
			put_raw(b, initkeys[i]);
			LIT(b, "\":");
			put_str(b, v);
			if (i == 4 && dv->ref) {
				LIT(b, ",\"referrer\":");
				put_str(b, referrers[dv->ref - 1].url);
			}
		}
		if (dv->ref && di->attrkeys) {
			LIT(b, ",\"referring_domain\":");
			put_str(b, referrers[dv->ref - 1].domain);
		}
	}
	if (s->user != 0) {
		KEY(b, &first, "\"plan\":");
		put_str(b, plans[h64(seed, u) % NELEM(plans)]);
		KEY(b, &first, "\"company\":");
		put_str(b, companies[h64(seed + 1, u) % NELEM(companies)]);
		if (h64(seed + 7, u) % 3 != 0) {
			/* Most users have only a plan and a company. */
			putch(b, '}');
			return;
		}
		KEY(b, &first, "\"seats\":");
		put_u64(b, 1 + h64(seed + 2, u) % 200);
		KEY(b, &first, "\"nps\":");
		put_fix(b, h64(seed + 4, u) % 101, 1);
		KEY(b, &first, "\"beta\":");
		if (h64(seed + 3, u) & 1)
			LIT(b, "true");
		else
			LIT(b, "false");
		KEY(b, &first, "\"nickname\":");
		LIT(b, "null");
		KEY(b, &first, "\"roles\":");
		LIT(b, "[\"admin\",\"billing\"]");
	}
	putch(b, '}');
}

static void
groups_json(struct buf *b, int gk, uint32_t u)
{
	if (gk == 1) {
		LIT(b, "{\"company\":\"acme-");
		put_u64(b, u % 50);
		LIT(b, "\"}");
	} else if (gk == 2)
		LIT(b, "{\"org\":[\"a\",\"b\"]}");
	else
		LIT(b, "{}");
}

static void
group_props(struct buf *b, const struct spec *s, int gk, uint32_t u)
{
	if (gk == 0) {
		LIT(b, "{}");
		return;
	}
	if (s->type == E_GROUPIDENTIFY) {
		LIT(b, "{\"$set\":{\"plan\":\"enterprise\",\"seats\":");
		put_u64(b, 10 + u % 90);
		LIT(b, ",\"name\":\"Acme \\\"Rockets\\\" Inc.\","
		    "\"regions\":[\"eu\",\"us\"]}}");
		return;
	}
	if (gk == 1 && pm(500)) {
		LIT(b, "{\"company\":{\"acme-");
		put_u64(b, u % 50);
		LIT(b, "\":{\"plan\":\"enterprise\",\"seats\":");
		put_u64(b, 10 + u % 90);
		LIT(b, "}}}");
		return;
	}
	LIT(b, "{}");
}

/* Write one row, uploaded at up_ms, for the next planned spec. */
static void
gen_row(struct buf *b, int64_t up_ms)
{
	struct spec s;
	struct devinfo di;
	struct dev *dv = NULL, sdev;
	int server, web, mobile, gk;
	uint32_t u;
	int64_t up = up_ms * 1000, recv, et, skew;
	uint64_t h, l;

	if (qlen == 0)
		plan(up);
	s = queue[qhead];
	qhead = (qhead + 1) % QLEN;
	qlen--;

	server = (s.flags & F_SERVER) != 0;
	if (server) {
		/* A backend speaks for the user's first device, if at all. */
		devinfo(s.dev < ndev ? s.dev : 0, &di);
		memset(&sdev, 0, sizeof(sdev));
		dv = &sdev;
		web = mobile = 0;
	} else {
		devinfo(s.dev, &di);
		dv = &devs[s.dev];
		web = di.kind == K_WEB;
		mobile = !web;
		dv->evid++;
		if (s.type == E_PAGE || s.type == E_SCREEN) {
			dv->pc++;
			dv->page = (uint16_t)(dv->pc == 1 ? rndn(4) :
			    rndn(rndn(NELEM(pages)) + 1));
		}
	}
	u = s.user ? s.user - 1 : 0;
	gk = s.user ? group_kind(u) : 0;
	skew = server ? 0 : di.skew * 1000;
	recv = up - 1000 * (1 + rndn(8));
	et = s.t;
	if (et > recv - 1000)
		et = recv - 1000;

	LIT(b, "{\"$insert_id\":");
	h = rnd();
	l = perm48(row, h64(seed, HK_INSERT)) | (rnd() & 0xffff000000000000ULL);
	uuid_v4(&h, &l);
	put_uuid(b, h, l, 0);
	LIT(b, ",\"$insert_key\":");
	if (di.insertkey && !server) {
		putch(b, '"');
		put_hex(b, rnd(), 16, 0);
		put_hex(b, rnd(), 16, 0);
		put_hex(b, rndn(256), 2, 0);
		putch(b, '#');
		put_u64(b, rndn(1000));
		LIT(b, "\",\"$schema\":13");
	} else
		LIT(b, "null,\"$schema\":null");
	LIT(b, ",\"adid\":");
	if (mobile && di.kind == K_ANDROID && di.ad == 1) {
		h = di.id[1] ^ 0xad1d;
		l = di.id[0];
		uuid_v4(&h, &l);
		put_uuid(b, h, l, 0);
	} else
		LIT(b, "null");
	LIT(b, ",\"amplitude_attribution_ids\":");
	if (pm(10))
		LIT(b, "[\"fd3c5a6e-0b1f-4f8e-9b8e-7a1b2c3d4e5f\"]");
	else if (pm(5))
		LIT(b, "\"fd3c5a6e-0b1f-4f8e-9b8e-7a1b2c3d4e5f\"");
	else
		LIT(b, "null");
	LIT(b, ",\"amplitude_event_type\":");
	if (s.type == E_IDENTIFY)
		LIT(b, "\"$identify\"");
	else if (s.type == E_GROUPIDENTIFY)
		LIT(b, "\"$groupidentify\"");
	else
		LIT(b, "null");
	LIT(b, ",\"amplitude_id\":");
	put_u64(b, s.user ? user_ampid(u) : di.ampid);
	LIT(b, ",\"app\":");
	put_u64(b, project);
	LIT(b, ",\"city\":");
	put_strn(b, server ? NULL : di.geo->city);
	LIT(b, ",\"client_event_time\":");
	put_ts(b, et + skew);
	LIT(b, ",\"client_upload_time\":");
	put_ts(b, recv + skew);
	LIT(b, ",\"country\":");
	put_strn(b, server ? NULL : di.geo->country);
	LIT(b, ",\"data\":");
	if (server || web)
		LIT(b, "{\"path\":\"/2/httpapi\"");
	else
		LIT(b, "{\"path\":\"/batch\"");
	if (s.type == E_IDENTIFY || (!server && dv->pc == 1 && pm(300)))
		LIT(b, ",\"user_properties_updated\":true");
	if (gk == 1) {
		LIT(b, ",\"group_first_event\":{},\"group_ids\":{\"");
		put_u64(b, 1000 + u % 50);
		LIT(b, "\":");
		put_u64(b, 77000 + u % 50);
		LIT(b, "}}");
	} else
		LIT(b, ",\"group_ids\":{},\"group_first_event\":{}}");
	LIT(b, ",\"data_type\":\"event\",\"device_brand\":");
	put_strn(b, mobile ? di.model->brand : NULL);
	LIT(b, ",\"device_carrier\":");
	put_strn(b, mobile ? di.carrier : NULL);
	LIT(b, ",\"device_family\":");
	put_strn(b, mobile ? di.model->family : web ? di.ua->family : NULL);
	LIT(b, ",\"device_id\":");
	if (server && (s.flags & F_NODEV))
		LIT(b, "null");
	else
		put_devid(b, &di);
	LIT(b, ",\"device_manufacturer\":");
	put_strn(b, mobile ? di.model->manu : NULL);
	LIT(b, ",\"device_model\":");
	put_strn(b, mobile ? di.model->model : NULL);
	LIT(b, ",\"device_type\":");
	put_strn(b, mobile ? di.model->type : web ? di.ua->type : NULL);
	LIT(b, ",\"dma\":");
	put_strn(b, server ? NULL : di.geo->dma);
	LIT(b, ",\"event_id\":");
	put_u64(b, server ? 1 + rndn(1000) : dv->evid);
	LIT(b, ",\"event_properties\":");
	event_props(b, &s, &di, dv);
	LIT(b, ",\"event_time\":");
	/* Some rows have no event_time; converters fall back. */
	put_tsn(b, pm(3) ? -1 : et);
	LIT(b, ",\"event_type\":");
	put_raw(b, etypes[s.type]);
	LIT(b, ",\"global_user_properties\":");
	if (pm(100))
		LIT(b, "null");
	else
		LIT(b, "{}");
	LIT(b, ",\"group_properties\":");
	group_props(b, &s, gk, u);
	LIT(b, ",\"groups\":");
	groups_json(b, gk, u);
	LIT(b, ",\"idfa\":");
	if (mobile && di.kind == K_IOS && di.ad == 1) {
		h = di.id[1] ^ 0x1dfa;
		l = di.id[0];
		uuid_v4(&h, &l);
		put_uuid(b, h, l, 1);
	} else if (mobile && di.kind == K_IOS && di.ad == 2)
		LIT(b, "\"00000000-0000-0000-0000-000000000000\"");
	else
		LIT(b, "null");
	LIT(b, ",\"ip_address\":");
	if (server)
		LIT(b, "null");
	else if (di.ipv6) {
		LIT(b, "\"2001:db8::");
		put_hex(b, di.ip & 0xfff, 3, 0);
		LIT(b, ":");
		put_hex(b, di.ip >> 16, 4, 0);
		putch(b, '"');
	} else {
		static const char *const nets[] = {
			"\"192.0.2.", "\"198.51.100.", "\"203.0.113.",
		};
		put_raw(b, nets[di.ip % 3]);
		put_u64(b, (di.ip >> 8) % 254 + 1);
		putch(b, '"');
	}
	LIT(b, ",\"is_attribution_event\":");
	if (web && dv->pc == 1 && s.type == E_PAGE && dv->query)
		LIT(b, "true");
	else if (pm(500))
		LIT(b, "false");
	else
		LIT(b, "null");
	LIT(b, ",\"language\":");
	put_strn(b, server ? NULL : di.lang);
	LIT(b, ",\"library\":");
	if (server)
		LIT(b, "\"http/2.0\"");
	else if (web)
		LIT(b, "\"amplitude-ts/2.16.1\"");
	else if (di.kind == K_IOS)
		LIT(b, "\"amplitude-swift/1.4.0\"");
	else
		LIT(b, "\"amplitude-android/1.12.0\"");
	LIT(b, ",\"location_lat\":");
	if (mobile && di.loc && di.geo->city != NULL) {
		put_fix(b, di.geo->lat + di.dlat, 6);
		LIT(b, ",\"location_lng\":");
		put_fix(b, di.geo->lng + di.dlng, 6);
	} else
		LIT(b, "null,\"location_lng\":null");
	LIT(b, ",\"os_name\":");
	put_strn(b, web ? di.ua->browser : mobile ?
	    (di.kind == K_IOS ? "ios" : "android") : NULL);
	LIT(b, ",\"os_version\":");
	put_strn(b, web ? di.ua->version : mobile ? di.osver : NULL);
	LIT(b, ",\"partner_id\":null,\"paying\":");
	if (s.user && h64(seed + 5, u) % 4 == 0)
		LIT(b, "true");
	else
		LIT(b, "null");
	LIT(b, ",\"plan\":");
	if (web && pm(50))
		LIT(b, "{\"branch\":\"main\",\"source\":\"web\","
		    "\"version\":\"2.1.0\"}");
	else
		LIT(b, "{}");
	LIT(b, ",\"platform\":");
	if (web)
		LIT(b, "\"Web\"");
	else if (di.kind == K_IOS && mobile)
		LIT(b, "\"iOS\"");
	else if (mobile)
		LIT(b, "\"Android\"");
	else
		LIT(b, "null");
	LIT(b, ",\"processed_time\":");
	put_ts(b, up + 500000 + rndn(4500000));
	LIT(b, ",\"region\":");
	put_strn(b, server ? NULL : di.geo->region);
	LIT(b, ",\"sample_rate\":null,\"server_received_time\":");
	put_ts(b, recv);
	LIT(b, ",\"server_upload_time\":");
	put_ts(b, up);
	LIT(b, ",\"session_id\":");
	put_i64(b, s.sess);
	LIT(b, ",\"source_id\":null,\"start_version\":");
	put_strn(b, mobile ? appversions[di.startver] : NULL);
	LIT(b, ",\"user_creation_time\":");
	if (s.user)
		/* Fixed per user: some time in the 400 days before --start. */
		put_ts(b, startus - US -
		    (int64_t)(h64(seed + 6, u) % (400 * 86400)) * US -
		    (int64_t)(h64(seed + 8, u) % 1000) * 1000);
	else
		LIT(b, "null");
	LIT(b, ",\"user_id\":");
	if (s.user)
		put_userid(b, u);
	else
		LIT(b, "null");
	LIT(b, ",\"user_properties\":");
	user_props(b, &s, &di, dv);
	LIT(b, ",\"uuid\":");
	if (pm(5))
		LIT(b, "null");
	else if (rndn(1000) == 0) {
		static const char *const bogus[] = {
			"\"\"", "\"not-a-uuid\"", "\"legacy-",
		};
		unsigned k = rndn(3);

		put_raw(b, bogus[k]);
		if (k == 2) {
			put_u64(b, row);
			putch(b, '"');
		}
	} else if (pm(700)) {
		/* v1, as in real rows, stamped with the upload time. */
		uint64_t t100 = (uint64_t)up * 10 + 0x01b21dd213814000ULL +
		    rndn(10);

		h = (t100 & 0xffffffffULL) << 32 |
		    ((t100 >> 32) & 0xffff) << 16 |
		    0x1000 | ((t100 >> 48) & 0x0fff);
		l = (0x8000ULL | rndn(0x4000)) << 48 |
		    perm48(row, h64(seed, HK_ROW));
		put_uuid(b, h, l, 0);
	} else {
		h = rnd();
		l = (rnd() & 0xffff000000000000ULL) |
		    perm48(row, h64(seed, HK_NODE));
		uuid_v4(&h, &l);
		put_uuid(b, h, l, 0);
	}
	LIT(b, ",\"version_name\":");
	put_strn(b, mobile ? appversions[di.appver] : NULL);
	putch(b, '}');
	row++;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static FILE		*out;
static const char	*outname;
static int		 outfile;	/* out is a regular file we opened */
static uint64_t		 outoff;

static void
die(const char *what)
{
	int e = errno;

	if (outfile)
		(void)unlink(outname);
	errno = e;
	err(1, "%s", what);
}

static void
owrite(const void *p, size_t n)
{
	if (n != 0 && fwrite(p, 1, n, out) != n)
		die(outname);
	outoff += n;
}

static void
le16(unsigned char *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void
le32(unsigned char *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

static void
le64(unsigned char *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

struct cent {
	char		 name[96];
	uint64_t	 csize, usize, off;
	uint32_t	 crc;
	uint16_t	 method, flags, dtime, ddate;
	int		 z64;		/* local header had a zip64 extra */
};

static struct cent	*cents;
static size_t		 ncent, centcap;

#define Z32MAX	0xffffffffULL

/*
 * Write one zip entry: data is the entry's bytes as they go in the file
 * (stored, or already deflated), crc and usize describe the member they
 * stand for.  Deflated entries are laid out as a streaming writer does,
 * CRC and sizes in a data descriptor after the data (flag bit 3); stored
 * ones carry them in the local header.
 */
static void
zip_entry(const char *name, const struct buf *data, uint32_t crc,
    uint64_t usize, int stored, int force64, int64_t hourus)
{
	unsigned char hdr[30], dd[24];
	struct cent *c;
	size_t nlen = strlen(name);
	int64_t day;
	int y;
	unsigned m, d, sod;

	if (ncent == centcap) {
		centcap = centcap ? centcap * 2 : 256;
		if ((cents = reallocarray(cents, centcap, sizeof(*cents))) ==
		    NULL)
			err(1, NULL);
	}
	c = &cents[ncent++];
	memset(c, 0, sizeof(*c));
	if (nlen >= sizeof(c->name))
		errx(1, "internal error: member name too long");
	memcpy(c->name, name, nlen + 1);
	c->off = outoff;
	c->usize = usize;
	c->csize = data->len;
	c->crc = crc;
	c->method = stored ? 0 : 8;
	c->flags = stored ? 0 : 0x0008;
	/* The member's upload hour as its DOS time: fixed, deterministic. */
	day = hourus / DAY_US;
	sod = (unsigned)(hourus / US % 86400);
	civil_from_days(day, &y, &m, &d);
	if (y < 1980) {
		y = 1980;
		m = d = 1;
		sod = 0;
	} else if (y > 2107) {
		y = 2107;
		m = 12;
		d = 31;
		sod = 86398;
	}
	c->dtime = (uint16_t)((sod / 3600) << 11 | (sod / 60 % 60) << 5 |
	    (sod % 60) / 2);
	c->ddate = (uint16_t)((y - 1980) << 9 | m << 5 | d);
	c->z64 = force64 || c->off >= Z32MAX || c->usize >= Z32MAX ||
	    c->csize >= Z32MAX;

	le32(hdr, 0x04034b50);
	le16(hdr + 4, c->z64 ? 45 : 20);
	le16(hdr + 6, c->flags);
	le16(hdr + 8, c->method);
	le16(hdr + 10, c->dtime);
	le16(hdr + 12, c->ddate);
	le32(hdr + 14, stored ? c->crc : 0);
	if (c->z64) {
		le32(hdr + 18, (uint32_t)Z32MAX);
		le32(hdr + 22, (uint32_t)Z32MAX);
	} else {
		le32(hdr + 18, stored ? (uint32_t)c->csize : 0);
		le32(hdr + 22, stored ? (uint32_t)c->usize : 0);
	}
	le16(hdr + 26, (unsigned)nlen);
	le16(hdr + 28, c->z64 ? 20 : 0);
	owrite(hdr, 30);
	owrite(name, nlen);
	if (c->z64) {
		/* Sizes are 0 (unknown) when a descriptor follows the data. */
		le16(dd, 0x0001);
		le16(dd + 2, 16);
		le64(dd + 4, stored ? c->usize : 0);
		le64(dd + 12, stored ? c->csize : 0);
		owrite(dd, 20);
	}
	owrite(data->p, data->len);
	if (stored)
		return;
	le32(dd, 0x08074b50);
	le32(dd + 4, c->crc);
	if (c->z64) {
		le64(dd + 8, c->csize);
		le64(dd + 16, c->usize);
		owrite(dd, 24);
	} else {
		le32(dd + 8, (uint32_t)c->csize);
		le32(dd + 12, (uint32_t)c->usize);
		owrite(dd, 16);
	}
}

/* Central directory; zip64 end records when forced or needed. */
static void
zip_finish(int force64)
{
	unsigned char h[56];
	uint64_t cdoff = outoff, cdsize;
	size_t i;
	int need64 = force64 || ncent >= 0xffff;

	for (i = 0; i < ncent; i++) {
		struct cent *c = &cents[i];
		size_t nlen = strlen(c->name);
		int bu, bc, bo;		/* fields moved to the zip64 extra */
		unsigned xlen;
		unsigned char x[28];

		bu = force64 || c->usize >= Z32MAX;
		bc = force64 || c->csize >= Z32MAX;
		bo = force64 || c->off >= Z32MAX;
		xlen = 8 * (bu + bc + bo);
		if (xlen)
			need64 = 1;
		le32(h, 0x02014b50);
		le16(h + 4, 3 << 8 | (c->z64 || xlen ? 45 : 20));
		le16(h + 6, c->z64 || xlen ? 45 : 20);
		le16(h + 8, c->flags);
		le16(h + 10, c->method);
		le16(h + 12, c->dtime);
		le16(h + 14, c->ddate);
		le32(h + 16, c->crc);
		le32(h + 20, bc ? (uint32_t)Z32MAX : (uint32_t)c->csize);
		le32(h + 24, bu ? (uint32_t)Z32MAX : (uint32_t)c->usize);
		le16(h + 28, (unsigned)nlen);
		le16(h + 30, xlen ? xlen + 4 : 0);
		le16(h + 32, 0);		/* comment */
		le16(h + 34, 0);		/* disk */
		le16(h + 36, 0);		/* internal attributes */
		le32(h + 38, 0100644U << 16);	/* regular file, 0644 */
		le32(h + 42, bo ? (uint32_t)Z32MAX : (uint32_t)c->off);
		owrite(h, 46);
		owrite(c->name, nlen);
		if (xlen) {
			unsigned char *p = x + 4;

			le16(x, 0x0001);
			le16(x + 2, xlen);
			if (bu) {
				le64(p, c->usize);
				p += 8;
			}
			if (bc) {
				le64(p, c->csize);
				p += 8;
			}
			if (bo)
				le64(p, c->off);
			owrite(x, xlen + 4);
		}
	}
	cdsize = outoff - cdoff;
	if (cdoff >= Z32MAX || cdsize >= Z32MAX)
		need64 = 1;
	if (need64) {
		uint64_t eocd64 = outoff;

		le32(h, 0x06064b50);
		le64(h + 4, 44);
		le16(h + 12, 3 << 8 | 45);
		le16(h + 14, 45);
		le32(h + 16, 0);
		le32(h + 20, 0);
		le64(h + 24, ncent);
		le64(h + 32, ncent);
		le64(h + 40, cdsize);
		le64(h + 48, cdoff);
		owrite(h, 56);
		le32(h, 0x07064b50);
		le32(h + 4, 0);
		le64(h + 8, eocd64);
		le32(h + 16, 1);
		owrite(h, 20);
	}
	/* With zip64 the classic fields say "look at the zip64 record". */
	le32(h, 0x06054b50);
	le16(h + 4, 0);
	le16(h + 6, 0);
	le16(h + 8, need64 ? 0xffff : (unsigned)ncent);
	le16(h + 10, need64 ? 0xffff : (unsigned)ncent);
	le32(h + 12, need64 ? (uint32_t)Z32MAX : (uint32_t)cdsize);
	le32(h + 16, need64 ? (uint32_t)Z32MAX : (uint32_t)cdoff);
	le16(h + 20, 0);
	owrite(h, 22);
}

/* ------------------------------------------------------------------ */
/* Driving                                                             */

/*
 * Compression runs on worker threads, yet must not make the bytes depend
 * on their number or timing.  So, as pigz does, each member's NDJSON is
 * cut into chunks at line ends (where the generator happens to pass
 * CHUNK bytes, which only the seed decides), each chunk is deflated on
 * its own, primed with the previous chunk's last 32 KiB as dictionary
 * and ended with a sync flush, and the pieces are joined in order into
 * one gzip stream.  For deflated zip entries each piece of that stream
 * is deflated again right away, the same way.
 *
 * The outer pass does not search for matches: in gzip data there are
 * none worth having, and any real deflater ends up emitting stored
 * blocks for it anyway (zlib -6 does, at a tenth of the inner pass's
 * speed).  So it writes stored blocks directly, level 0, except over
 * --level 0 members, which are plain text and get Huffman coding.  The
 * few bytes of each gzip trailer are Huffman coded either way.
 */
#define CHUNK		(1024 * 1024)
#define DICT		32768
#ifndef MAXWORKERS
#define MAXWORKERS	4		/* -DMAXWORKERS=1 to check determinism */
#endif

enum { J_FREE, J_READY, J_BUSY, J_DONE };

struct job {
	struct buf	 in;		/* NDJSON text */
	unsigned char	 dict[DICT];
	size_t		 dictlen;
	int		 first, last;	/* place in its member */
	int		 state;
	z_stream	 zi, zo;	/* inner (gzip) and outer (zip) */
	struct buf	 gz;		/* this piece of the .json.gz */
	struct buf	 zd;		/* that piece deflated for the zip */
	uint32_t	 crc_in, crc_gz;
	/* The member it ends, set when last. */
	char		 name[96];
	int64_t		 hourus;
};

static struct job	*jobs;
static unsigned		 njobs, jnext, jtake;
static pthread_t	 workers[MAXWORKERS];
static unsigned		 nworkers;
static pthread_mutex_t	 jmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 jwork = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 jdone = PTHREAD_COND_INITIALIZER;
static int		 jstop, zlevel, zstored, zforce64;

/* The member being assembled from finished jobs, in order. */
static struct buf	 mdata;		/* the zip entry's bytes */
static uint32_t		 mcrc_text, mcrc_gz;
static uint64_t		 mlen_text, mlen_gz;

static uint32_t
crc(uint32_t c, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		uInt k = n > 1U << 30 ? 1U << 30 : (uInt)n;

		c = (uint32_t)crc32(c, b, k);
		b += k;
		n -= k;
	}
	return c;
}

/*
 * Deflate all of p into b, ending with flush.  zlib's stored blocks
 * (level 0) are cut to the output space offered, so that space is a
 * function of the input length only, never of how big b happens to be:
 * otherwise the bytes would depend on which job slot ran the chunk.
 */
static void
zrun(z_stream *z, const void *p, size_t n, struct buf *b, int flush)
{
	size_t room = deflateBound(z, (uLong)n) + 64;
	int ret;

	z->next_in = (unsigned char *)p;
	z->avail_in = (uInt)n;
	for (;;) {
		if (b->cap - b->len < room)
			buf_grow(b, room);
		z->next_out = (unsigned char *)b->p + b->len;
		z->avail_out = (uInt)room;
		ret = deflate(z, flush);
		if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
			errx(1, "deflate failed (%d)", ret);
		b->len += room - z->avail_out;
		if (z->avail_in == 0 && z->avail_out != 0 &&
		    (flush != Z_FINISH || ret == Z_STREAM_END))
			break;
		room = 64 * 1024;
	}
}

static void
zinit(z_stream *z, int level, int strategy)
{
	memset(z, 0, sizeof(*z));
	if (deflateInit2(z, level, Z_DEFLATED, -15, 8, strategy) != Z_OK)
		errx(1, "deflateInit2 failed");
}

static void
run_job(struct job *j)
{
	j->gz.len = 0;
	j->zd.len = 0;
	if (j->first) {
		/*
		 * The gzip header zlib would write, with a pinned OS byte
		 * (zlib's varies by platform) and no time stamp.
		 */
		unsigned char h[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };

		h[8] = zlevel == 9 ? 2 : zlevel < 2 ? 4 : 0;
		put(&j->gz, h, sizeof(h));
	}
	/*
	 * Fresh streams, not deflateReset(): a reset stream keeps its old
	 * window, and longest_match() may peek past the input's end into
	 * it, so the match chosen could depend on what the slot ran before.
	 */
	zinit(&j->zi, zlevel, Z_DEFAULT_STRATEGY);
	if (j->dictlen > 0 &&
	    deflateSetDictionary(&j->zi, j->dict, (uInt)j->dictlen) != Z_OK)
		errx(1, "deflateSetDictionary failed");
	zrun(&j->zi, j->in.p, j->in.len, &j->gz,
	    j->last ? Z_FINISH : Z_SYNC_FLUSH);
	deflateEnd(&j->zi);
	j->crc_in = crc(0, j->in.p, j->in.len);
	j->crc_gz = crc(0, j->gz.p, j->gz.len);
	if (!zstored) {
		if (zlevel == 0)
			zinit(&j->zo, 1, Z_HUFFMAN_ONLY);
		else
			zinit(&j->zo, 0, Z_DEFAULT_STRATEGY);
		zrun(&j->zo, j->gz.p, j->gz.len, &j->zd, Z_SYNC_FLUSH);
		deflateEnd(&j->zo);
	}
}

static void *
worker(void *arg)
{
	struct job *j;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&jmu);
		while (!jstop && jobs[jtake % njobs].state != J_READY)
			pthread_cond_wait(&jwork, &jmu);
		if (jobs[jtake % njobs].state != J_READY) {
			pthread_mutex_unlock(&jmu);
			return NULL;
		}
		j = &jobs[jtake++ % njobs];
		j->state = J_BUSY;
		pthread_mutex_unlock(&jmu);

		run_job(j);

		pthread_mutex_lock(&jmu);
		j->state = J_DONE;
		pthread_cond_broadcast(&jdone);
		pthread_mutex_unlock(&jmu);
	}
}

static void
pipe_start(int level, int stored, int force64)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned i;
	int e;

	zlevel = level;
	zstored = stored;
	zforce64 = force64;
	nworkers = ncpu < 1 ? 1 : ncpu > MAXWORKERS ? MAXWORKERS :
	    (unsigned)ncpu;
	njobs = 2 * nworkers + 2;
	if ((jobs = calloc(njobs, sizeof(*jobs))) == NULL)
		err(1, NULL);
	for (i = 0; i < nworkers; i++)
		if ((e = pthread_create(&workers[i], NULL, worker, NULL)) != 0) {
			errno = e;
			err(1, "pthread_create");
		}
}

/* Add a finished job to the member; write the member when it ends. */
static void
consume(struct job *j)
{
	if (j->first) {
		mdata.len = 0;
		mcrc_text = mcrc_gz = 0;
		mlen_text = mlen_gz = 0;
	}
	mcrc_text = (uint32_t)crc32_combine(mcrc_text, j->crc_in,
	    (z_off_t)j->in.len);
	mlen_text += j->in.len;
	mcrc_gz = (uint32_t)crc32_combine(mcrc_gz, j->crc_gz,
	    (z_off_t)j->gz.len);
	mlen_gz += j->gz.len;
	if (zstored)
		put(&mdata, j->gz.p, j->gz.len);
	else
		put(&mdata, j->zd.p, j->zd.len);
	if (j->last) {
		unsigned char t[8];

		/* gzip trailer: CRC-32 and length mod 2^32 of the text. */
		le32(t, mcrc_text);
		le32(t + 4, (uint32_t)mlen_text);
		mcrc_gz = crc(mcrc_gz, t, 8);
		mlen_gz += 8;
		if (zstored)
			put(&mdata, t, 8);
		else {
			z_stream zt;

			zinit(&zt, 1, Z_HUFFMAN_ONLY);
			zrun(&zt, t, 8, &mdata, Z_FINISH);
			deflateEnd(&zt);
		}
		zip_entry(j->name, &mdata, mcrc_gz, mlen_gz, zstored,
		    zforce64, j->hourus);
	}
	j->state = J_FREE;
}

/* The next job to fill, once its previous use is written out. */
static struct job *
pipe_get(void)
{
	struct job *j = &jobs[jnext % njobs];

	if (j->state != J_FREE) {
		pthread_mutex_lock(&jmu);
		while (j->state != J_DONE)
			pthread_cond_wait(&jdone, &jmu);
		pthread_mutex_unlock(&jmu);
		consume(j);
	}
	j->in.len = 0;
	return j;
}

static void
pipe_submit(struct job *j, const struct job *prev)
{
	j->dictlen = 0;
	if (!j->first) {
		j->dictlen = prev->in.len < DICT ? prev->in.len : DICT;
		memcpy(j->dict, prev->in.p + prev->in.len - j->dictlen,
		    j->dictlen);
	}
	pthread_mutex_lock(&jmu);
	j->state = J_READY;
	jnext++;
	pthread_cond_broadcast(&jwork);
	pthread_mutex_unlock(&jmu);
}

/* Write out every job in flight, in order, and stop the workers. */
static void
pipe_end(void)
{
	unsigned i;

	for (i = 0; i < njobs; i++) {
		struct job *j = &jobs[(jnext + i) % njobs];

		if (j->state == J_FREE)
			continue;
		pthread_mutex_lock(&jmu);
		while (j->state != J_DONE)
			pthread_cond_wait(&jdone, &jmu);
		pthread_mutex_unlock(&jmu);
		consume(j);
	}
	pthread_mutex_lock(&jmu);
	jstop = 1;
	pthread_cond_broadcast(&jwork);
	pthread_mutex_unlock(&jmu);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
}

/* Hour-of-day activity (UTC): a quiet night, a busy working day. */
static const uint8_t diurnal[24] = {
	4, 3, 3, 2, 2, 3, 4, 6, 8, 9, 10, 10,
	10, 10, 10, 10, 10, 9, 9, 8, 8, 7, 6, 5,
};

static uint64_t
hour_weight(int64_t abshour)
{
	int64_t day = abshour / 24;
	unsigned dow = (unsigned)((day + 4) % 7);	/* 0 is Sunday */
	uint64_t w = diurnal[abshour % 24] * 10;

	if (dow == 0 || dow == 6)
		w = w * 7 / 10;
	return w * (80 + h64(h64(seed, HK_HOUR), (uint64_t)abshour) % 41);
}

/* floor(n * c / w) without overflow. */
static uint64_t
share(uint64_t n, uint64_t c, uint64_t w)
{
	return n / w * c + n % w * c / w;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: amp-sample [-n events] [-s seed] [--start YYYY-MM-DD[THH]] "
	    "[--hours H]\n"
	    "                  [--project ID] [--part-events N] [--stored] "
	    "[--zip64]\n"
	    "                  [--level 0-9] [--ndjson] [-o file]\n"
	    "  -n, --events N       events in total (1000)\n"
	    "  -s, --seed N         PRNG seed; same seed, same bytes (1)\n"
	    "      --start T        first upload hour, UTC (2024-01-01T00)\n"
	    "      --hours H        hours spanned (24)\n"
	    "      --project ID     Amplitude project id (187520)\n"
	    "      --part-events N  events per member before a new part (50000)\n"
	    "      --stored         store members in the zip, do not deflate\n"
	    "      --zip64          write zip64 records even when not needed\n"
	    "      --level N        gzip level of the members (3)\n"
	    "      --ndjson         write the event lines, not a zip\n"
	    "  -o, --output FILE    output file, - for stdout (stdout)\n");
	exit(EXIT_USAGE);
}

static uint64_t
num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	return v;
bad:
	warnx("%s: bad value: %s (want %llu to %llu)", opt, s,
	    (unsigned long long)min, (unsigned long long)max);
	usage();
	return 0;
}

/* YYYY-MM-DD or YYYY-MM-DDTHH, UTC, to seconds since the epoch. */
static int
parse_start(const char *s, int64_t *t)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
		31, 30, 31 };
	unsigned y, m, d, h = 0;
	int n = -1;
	size_t len = strlen(s);

	if (len == 10) {
		if (sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3)
			return -1;
	} else if (len == 13) {
		if (sscanf(s, "%4u-%2u-%2uT%2u%n", &y, &m, &d, &h, &n) != 4)
			return -1;
	} else
		return -1;
	if (n != (int)len || s[4] != '-' || s[7] != '-')
		return -1;
	if (y < 1980 || y > 9000 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] || h > 23)
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*t = days_from_civil(y, m, d) * 86400 + h * 3600;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "events",	required_argument,	NULL, 'n' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "hours",	required_argument,	NULL, 'H' },
		{ "level",	required_argument,	NULL, 'L' },
		{ "ndjson",	no_argument,		NULL, 'J' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "part-events", required_argument,	NULL, 'P' },
		{ "project",	required_argument,	NULL, 'p' },
		{ "seed",	required_argument,	NULL, 's' },
		{ "start",	required_argument,	NULL, 'S' },
		{ "stored",	no_argument,		NULL, 'T' },
		{ "zip64",	no_argument,		NULL, 'Z' },
		{ NULL,		0,			NULL, 0 }
	};
	struct opts o = {
		.n = 1000, .seed = 1, .hours = 24, .project = 187520,
		.part = 50000, .level = DEFLEVEL, .out = "-",
	};
	struct buf lb = { 0 };
	uint64_t wsum, cum, prev, h, member = 0, i, k;
	int64_t starthour;
	int ch;

	parse_start("2024-01-01T00", &o.start);
	while ((ch = getopt_long(argc, argv, "hn:o:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o.n = num("--events", optarg, 0, 1ULL << 40);
			break;
		case 's':
			o.seed = num("--seed", optarg, 0, UINT64_MAX);
			break;
		case 'S':
			if (parse_start(optarg, &o.start) == -1) {
				warnx("--start: not a date or hour: %s "
				    "(use YYYY-MM-DD or YYYY-MM-DDTHH)", optarg);
				usage();
			}
			break;
		case 'H':
			o.hours = num("--hours", optarg, 1, MAXHOURS);
			break;
		case 'p':
			o.project = num("--project", optarg, 1,
			    (1ULL << 53) - 1);
			break;
		case 'P':
			o.part = num("--part-events", optarg, 1, 1ULL << 40);
			break;
		case 'T':
			o.stored = 1;
			break;
		case 'Z':
			o.zip64 = 1;
			break;
		case 'L':
			o.level = (int)num("--level", optarg, 0, 9);
			break;
		case 'J':
			o.ndjson = 1;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	seed = o.seed;
	startus = o.start * US;
	project = o.project;
	rs = h64(seed, 0x5eed);
	/* About 20 events per device over the span, within a bounded pool. */
	k = o.n / 20;
	ndev = (uint32_t)(k < 8 ? 8 : k > MAXDEVS ? MAXDEVS : k);
	nuser = ndev * 3 / 4;
	if ((devs = calloc(ndev, sizeof(*devs))) == NULL)
		err(1, NULL);

	if (strcmp(o.out, "-") == 0) {
		out = stdout;
		outname = "stdout";
		if (!o.ndjson && isatty(STDOUT_FILENO))
			errx(1, "refusing to write a zip to a terminal; "
			    "use -o file");
	} else {
		struct stat st;

		outname = o.out;
		if ((out = fopen(o.out, "wb")) == NULL)
			err(1, "%s", o.out);
		/* Remove a half-written file on error, never a device. */
		if (fstat(fileno(out), &st) == -1)
			err(1, "%s", o.out);
		outfile = S_ISREG(st.st_mode);
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	if (!o.ndjson)
		pipe_start(o.level, o.stored, o.zip64);

	starthour = o.start / 3600;
	for (wsum = 0, h = 0; h < o.hours; h++)
		wsum += hour_weight(starthour + (int64_t)h);

	for (cum = 0, prev = 0, h = 0; h < o.hours; h++) {
		uint64_t cnt, next, parts, p, lo = 0;
		int64_t hus = (starthour + (int64_t)h) * HOUR_US;

		cum += hour_weight(starthour + (int64_t)h);
		next = share(o.n, cum, wsum);
		cnt = next - prev;
		prev = next;
		if (cnt == 0)
			continue;
		nslots = (unsigned)(cnt / 48);
		nslots = nslots < 2 ? 2 : nslots > MAXSLOTS ? MAXSLOTS : nslots;
		parts = (cnt + o.part - 1) / o.part;
		for (p = 0; p < parts; p++, member++) {
			uint64_t m = cnt - lo < o.part ? cnt - lo : o.part;
			int nonl = member % NONL_EVERY == NONL_EVERY - 1;
			struct job *j = NULL, *pj = NULL;
			struct buf *b = &lb;

			if (!o.ndjson) {
				j = pipe_get();
				j->first = 1;
				b = &j->in;
			}
			for (i = 0; i < m; i++) {
				uint64_t li = lo + i;
				int end = i + 1 == m;
				/* Row li of cnt gets a slot in [li, li+1) / cnt. */
				int64_t up_ms = hus / 1000 + (int64_t)
				    ((li * 3600000 + rndn(3600000)) / cnt);

				gen_row(b, up_ms);
				if (o.ndjson || !nonl || !end)
					putch(b, '\n');
				if (o.ndjson) {
					if (end || b->len >= FLUSHAT) {
						owrite(b->p, b->len);
						b->len = 0;
					}
					continue;
				}
				if (!end && b->len < CHUNK)
					continue;
				j->last = end;
				if (end) {
					int y;
					unsigned mo, d;

					civil_from_days(hus / DAY_US, &y, &mo,
					    &d);
					snprintf(j->name, sizeof(j->name),
					    "%llu/%llu_%04d-%02u-%02u_%u#%llu"
					    ".json.gz",
					    (unsigned long long)o.project,
					    (unsigned long long)o.project,
					    y, mo, d,
					    (unsigned)(hus / HOUR_US % 24),
					    (unsigned long long)p);
					j->hourus = hus;
				}
				pipe_submit(j, pj);
				pj = j;
				if (!end) {
					j = pipe_get();
					j->first = 0;
					b = &j->in;
				}
			}
			lo += m;
		}
	}
	if (!o.ndjson)
		pipe_end();
	free(lb.p);
	if (!o.ndjson)
		zip_finish(o.zip64);
	if (fflush(out) == EOF || ferror(out))
		die(outname);
	if (out != stdout && fclose(out) == EOF)
		die(outname);
	return 0;
}
