/*
 * svgchart: an inline SVG bar chart, 1000 units wide, written into a buf:
 * a y axis with round gridlines, one bar a slot of stacked segments (each
 * a CSS class), with a hover title, an optional mark under the axis,
 * labels under the bars, a polyline on its own scale, and captions.
 * Text is cleaned and escaped here; classes are the page's CSS.
 */
#ifndef SVGCHART_H
#define SVGCHART_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct svgchart {
	/* Set by the caller. */
	int		 top;		/* above the plot */
	int		 h;		/* the plot's height */
	int		 below;		/* under the axis */
	int		 maxslot;	/* widest slot of a bar */
	int		 center;	/* narrow bars centred, not at left */
	/* Set by svgchart_begin. */
	struct buf	*b;
	size_t		 nbars;
	int		 y0;		/* the axis */
	double		 slot, bw, x0;
	uint64_t	 ymax;		/* the y axis' top value */
};

/* Caption places. */
enum { SVGC_TOP_LEFT, SVGC_TOP_RIGHT, SVGC_BELOW_LEFT, SVGC_BELOW_END };

/* <svg> and the y axis for nbars bars of totals up to max. */
void	svgchart_begin(struct svgchart *, struct buf *, size_t nbars,
	    uint64_t max, const char *label);
/* Bar i: v[k] of class cls[k] stacked from the axis up, k < nv. */
void	svgchart_bar(struct svgchart *, size_t i, const char *title,
	    const uint64_t *v, const char *const *cls, int nv, int mark);
/* Labels of about width units: the first bar of each how many. */
size_t	svgchart_every(const struct svgchart *, int width);
void	svgchart_xlabel(struct svgchart *, size_t i, const char *);
/* A line through v[i] over each bar, to 95% of the plot at max. */
void	svgchart_line(struct svgchart *, const char *cls, const uint64_t *v,
	    uint64_t max);
void	svgchart_caption(struct svgchart *, int where, const char *);
void	svgchart_end(struct svgchart *);

#endif
