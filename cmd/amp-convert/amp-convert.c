/*
 * amp-convert: turn Amplitude export lines into PostHog capture events,
 * one per line, deterministically: the same input gives the same bytes.
 * This file reads the lines and writes the events, rejects and the
 * summary; convert.c maps one row (see convert.h for the rest).
 */
#include "convert.h"

static int	last_nonl, cut;	/* the input's last line was cut */

unsigned	shard_k, shard_n;	/* --shard K/N: K-1 of N, 0 of 0 */

int	othershard;	/* convert() met another shard's row */

struct amp_rules	 rules;

struct jqprog	*jq;

static struct rejects	 rej;

struct stats	 st;

int		 strictflag, quietflag, pageleaveflag;

uint64_t		 pageleaves;	/* $pageleave events made */

static size_t		 maxline = MAXLINE_DEFAULT;

struct buf	 out, tmp, campbuf, campvals;

struct keyset	 pkeys, skeys;

struct json_parser *parser;

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: amp-convert [-qs] [-j journal] [--drop event] "
	    "[--keep event] [--rename old=new]\n"
	    "                   [--jq program | --jq-file file] "
	    "[--rejects file] [--max-line bytes]\n"
	    "                   [--pageleave] [--shard k/n] [file ...]\n");
	exit(status);
}

/* --shard K/N: 1 <= K <= N <= 4096. */
static void
parse_shard(const char *arg)
{
	char *end;
	unsigned long k, n;

	errno = 0;
	k = strtoul(arg, &end, 10);
	if (end == arg || *end != '/')
		goto bad;
	arg = end + 1;
	n = strtoul(arg, &end, 10);
	if (end == arg || *end != '\0' || errno != 0 || n < 1 || n > 4096 ||
	    k < 1 || k > n)
		goto bad;
	shard_k = k - 1;
	shard_n = n;
	return;
bad:
	errx(EXIT_USAGE, "--shard: expected K/N with 1 <= K <= N <= 4096, "
	    "like 2/4: %s", arg);
}

static void
reject(const char *file, uint64_t lineno, const char *why,
    const char *line, size_t len)
{
	/* Each rejected row once across the shards: in the first. */
	if (shard_n > 1 && shard_k != 0) {
		st.othershard++;
		return;
	}
	st.rejected++;
	rejects_warn(&rej, WARN_LIMIT, "rejected lines", file, lineno, "%s",
	    why);
	rejects_add(&rej, file, lineno, why, line, len, 0);
	if (strictflag) {
		warnx("stopping at the first rejected line (--strict)");
		flush_out(1);
		if (outfile_close(stdout, "stdout") == -1 ||
		    rejects_close(&rej) == -1)
			exit(EXIT_RUNTIME);
		exit(EXIT_DATAERR);
	}
}

void
flush_out(int force)
{
	if (out.len >= (1 << 20) || (force && out.len > 0)) {
		outfile_write(stdout, out.p, out.len, "stdout");
		out.len = 0;
	}
}

static void
do_line(const char *file, uint64_t lineno, const char *line, size_t len)
{
	char err[256];
	const char *why = NULL;
	struct jval *root;
	size_t mark = out.len;
	int r;

	/*
	 * amp-unpack -j's marker of a member's end (settle.h): passed on in
	 * its place, so ph-batch knows when a member's events are all in;
	 * in every shard, since each shard's journal settles its own part.
	 */
	if ((r = settle_is(line, len)) != SETTLE_NONE) {
		marker(file, lineno, r, line, len);
		return;
	}
	at_member_end = 0;
	read_since += len + 1;
	st.lines++;
	/* Blank lines (spaces, tabs, a CR) are not events. */
	if (amp_line_blank(line, len)) {
		st.blank++;
		return;
	}
	if ((root = json_parse(parser, line, len, err, sizeof(err))) == NULL) {
		if (last_nonl) {
			/* A killed stage before us, not a bad row. */
			stage_cut_note(file, lineno);
			st.lines--;
			cut = 1;
			return;
		}
		if (!utf8_valid(line, len))
			snprintf(err, sizeof(err), "invalid UTF-8");
		reject(file, lineno, err, line, len);
		return;
	}
	if ((r = convert(root, &why)) == -1) {
		out.len = mark;
		reject(file, lineno, why, line, len);
		return;
	}
	if (r == 0 && othershard) {
		othershard = 0;
		st.othershard++;
		return;
	}
	if (r == 0) {
		st.dropped++;
		return;
	}
	if (jq != NULL) {
		/*
		 * Run the program on each event just written (a $pageleave
		 * and the row's), in place; an error rejects the row, and
		 * none of its outputs are written.
		 */
		int n = 0, k;
		tmp.len = 0;
		buf_add(&tmp, out.p + mark, out.len - mark);
		out.len = mark;
		for (size_t at = 0; at < tmp.len;) {
			const char *nl = memchr(tmp.p + at, '\n', tmp.len - at);
			size_t evlen = nl - (tmp.p + at);
			if ((k = jqprog_run(jq, tmp.p + at, evlen, &out, err,
			    sizeof(err))) == -1) {
				out.len = mark;
				if (r > 1)
					pageleaves--;
				reject(file, lineno, err, line, len);
				return;
			}
			n += k;
			at += evlen + 1;
		}
		if (n == 0)
			st.dropped++;
		st.written += n;
	} else
		st.written += r;
	flush_out(0);
}

static int
do_file(const char *path)
{
	struct lines l;
	const char *p, *name;
	size_t len;
	int r;

	if (lines_open(&l, path, maxline, 0) == -1) {
		warn("%s", path);
		return -1;
	}
	name = l.name;
	while ((r = lines_next(&l, &p, &len)) != LINE_EOF) {
		if (r == LINE_ERROR) {
			warnx("%s: read error: %s", name, l.errmsg);
			break;
		}
		if (r == LINE_TOOLONG) {
			char why[128];
			snprintf(why, sizeof(why), "line of %zu bytes is "
			    "longer than --max-line %zu (first 1024 bytes "
			    "kept)", len, maxline);
			st.lines++;
			reject(name, l.lineno, why, p, len < LINES_HEAD ? len :
			    LINES_HEAD);
			continue;
		}
		if (l.lineno == 1) {
			const char *why = stage_first(SK_AMPLITUDE, name, &p,
			    &len, 1);

			if (why != NULL)
				errx(EXIT_DATAERR, "%s: %s", name, why);
		}
		last_nonl = l.nonl;
		do_line(name, l.lineno, p, len);
	}
	lines_close(&l);
	return r == LINE_ERROR ? -1 : 0;
}

static char *
read_file(const char *path)
{
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		err(EXIT_USAGE, "%s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(fp))
		err(EXIT_USAGE, "%s", path);
	fclose(fp);
	buf_addc(&b, '\0');
	return b.p;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "drop",	required_argument,	NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "journal",	required_argument,	NULL, 'j' },
		{ "jq",		required_argument,	NULL, 'Q' },
		{ "jq-file",	required_argument,	NULL, 'J' },
		{ "keep",	required_argument,	NULL, 'k' },
		{ "max-line",	required_argument,	NULL, 'M' },
		{ "pageleave",	no_argument,		NULL, 'P' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "rejects",	required_argument,	NULL, 'r' },
		{ "rename",	required_argument,	NULL, 'R' },
		{ "shard",	required_argument,	NULL, 'S' },
		{ "strict",	no_argument,		NULL, 's' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *program = NULL, *rejects_path = NULL;
	char *owned = NULL, err[512], shardtext[192] = "";
	uint64_t u;
	int ch, failed = 0;

	amp_rules_init(&rules);
	while ((ch = getopt_long(argc, argv, "hj:qs", longopts, NULL)) !=
	    -1) {
		/*
		 * One value each (--jq and --jq-file: one program); --drop,
		 * --keep and --rename add to a list.
		 */
		cli_once(longopts, ch, "rMSPj", "QJ");
		/* What the state's fingerprint holds: see state_fingerprint. */
		if (strchr("dkMPRS", ch) != NULL) {
			buf_addc(&optsig, ch);
			if (optarg != NULL)
				buf_add(&optsig, optarg, strlen(optarg) + 1);
		}
		switch (ch) {
		case 'd':
			amp_rules_drop(&rules, optarg);
			break;
		case 'j':
			journal_path = optarg;
			break;
		case 'Q':
			program = optarg;
			break;
		case 'S':
			parse_shard(optarg);
			break;
		case 'J':
			program = owned = read_file(optarg);
			break;
		case 'k':
			amp_rules_keep(&rules, optarg);
			break;
		case 'M':
			if (cli_u64(optarg, 1024, SIZE_MAX / 4, &u) == -1)
				errx(EXIT_USAGE, "--max-line: not a size of at "
				    "least 1024: %s", optarg);
			maxline = u;
			break;
		case 'P':
			pageleaveflag = 1;
			break;
		case 'q':
			quietflag = 1;
			break;
		case 'r':
			rejects_path = optarg;
			break;
		case 'R':
			if (amp_rules_rename(&rules, optarg) == -1)
				errx(EXIT_USAGE, "--rename: expected OLD=NEW, "
				    "got %s", optarg);
			break;
		case 's':
			strictflag = 1;
			break;
		case 'V':
			cli_version("amp-convert");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	pipe_grow(STDIN_FILENO);
	pipe_grow(STDOUT_FILENO);

	if (program != NULL && (jq = jqprog_new(program, err,
	    sizeof(err))) == NULL)
		errx(EXIT_USAGE, "--jq: %s", err);
	if (journal_path != NULL)
		state_fingerprint(program);
	rejects_open(&rej, rejects_path);
	parser = json_parser_new();
	json_parser_borrow(parser);

	if (argc == 0)
		failed |= do_file("-") == -1;
	for (int i = 0; i < argc; i++)
		failed |= do_file(argv[i]) == -1;
	flush_out(1);
	/* The state after the last member, for a later run's new exports. */
	if (journal_path != NULL && at_member_end == 1 && !failed && !cut)
		state_save();

	if (shard_n > 1)
		snprintf(shardtext, sizeof(shardtext), "; %llu rows of the "
		    "other shards (--shard %u/%u)",
		    (unsigned long long)st.othershard, shard_k + 1, shard_n);
	if (pageleaveflag) {
		size_t sl = strlen(shardtext);
		snprintf(shardtext + sl, sizeof(shardtext) - sl, "; %llu "
		    "$pageleave events made (--pageleave)",
		    (unsigned long long)pageleaves);
	}
	if (!quietflag || st.rejected > 0)
		fprintf(stderr, "amp-convert: %llu lines, %llu events written, "
		    "%llu dropped by rule, %llu rejected%s%s%s%s\n",
		    (unsigned long long)st.lines,
		    (unsigned long long)st.written,
		    (unsigned long long)st.dropped,
		    (unsigned long long)st.rejected,
		    st.rejected && rej.path ? " (see " : "",
		    st.rejected && rej.path ? rej.path : "",
		    st.rejected && rej.path ? ")" : "", shardtext);
	jqprog_free(jq);
	amp_rules_free(&rules);
	json_parser_free(parser);
	free(owned);
	buf_free(&out);
	buf_free(&tmp);
	buf_free(&campbuf);
	buf_free(&campvals);
	buf_free(&formbuf);
	keyset_free(&pkeys);
	keyset_free(&skeys);
	sessions_free();
	free(persons);
	journal_close(state_jdb);
	if (rejects_close(&rej) == -1)
		failed = 1;
	if (outfile_close(stdout, "stdout") == -1 || failed || cut)
		return EXIT_RUNTIME;
	return st.rejected > 0 ? EXIT_DATAERR : 0;
}
