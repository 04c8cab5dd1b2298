/* svgchart: stacked bar charts as inline SVG. */
#include <stdint.h>
#include <stdio.h>

#include "htmlw.h"
#include "svgchart.h"

#define CW	1000	/* viewBox width */
#define CL	64	/* left margin: y labels */
#define CR	10

/* A round step for about n gridlines up to max. */
static uint64_t
nice_step(uint64_t max, int n)
{
	uint64_t raw = max / n + 1, p = 1;

	while (p * 10 <= raw)
		p *= 10;
	if (raw <= p)
		return p;
	if (raw <= 2 * p)
		return 2 * p;
	if (raw <= 5 * p)
		return 5 * p;
	return 10 * p;
}

static void
short_num(char *out, size_t n, uint64_t v)
{
	if (v >= 10000000000ULL)
		snprintf(out, n, "%lluG", (unsigned long long)(v / 1000000000));
	else if (v >= 10000000)
		snprintf(out, n, "%lluM", (unsigned long long)(v / 1000000));
	else if (v >= 10000)
		snprintf(out, n, "%lluk", (unsigned long long)(v / 1000));
	else
		snprintf(out, n, "%llu", (unsigned long long)v);
}

/* Y grid and labels for a plot from y0 (bottom) up h, values to max. */
static uint64_t
y_axis(struct buf *b, uint64_t max, int y0, int h)
{
	uint64_t step = nice_step(max ? max : 1, 4), top;
	char t[32];

	top = ((max ? max : 1) + step - 1) / step * step;
	for (uint64_t v = 0; v <= top; v += step) {
		double y = y0 - (double)v / top * h;
		buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" "
		    "y1=\"%.1f\" y2=\"%.1f\"/>", CL, CW - CR, y, y);
		short_num(t, sizeof(t), v);
		buf_printf(b, "<text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%s</text>", CL - 6, y + 4, t);
	}
	buf_printf(b, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" "
	    "y2=\"%d\"/>", CL, CW - CR, y0, y0);
	return top;
}

void
svgchart_begin(struct svgchart *c, struct buf *b, size_t nbars,
    uint64_t max, const char *label)
{
	c->b = b;
	c->nbars = nbars;
	c->y0 = c->top + c->h;
	c->slot = (double)(CW - CL - CR) / nbars;
	if (c->slot > c->maxslot)
		c->slot = c->maxslot;
	c->bw = c->slot > 3 ? c->slot * 0.8 : c->slot;
	c->x0 = c->center ? CL + ((CW - CL - CR) - c->slot * nbars) / 2 : CL;
	buf_printf(b, "<svg viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-label=\"", CW, c->y0 + c->below);
	htmlw_texts(b, label);
	buf_adds(b, "\">");
	c->ymax = y_axis(b, max, c->y0, c->h);
}

void
svgchart_bar(struct svgchart *c, size_t i, const char *title,
    const uint64_t *v, const char *const *cls, int nv, int mark)
{
	struct buf *b = c->b;
	double x = c->x0 + c->slot * i + (c->slot - c->bw) / 2, y = c->y0;

	buf_adds(b, "<g><title>");
	htmlw_texts(b, title);
	buf_adds(b, "</title>");
	for (int k = 0; k < nv; k++) {
		if (v[k] == 0)
			continue;
		double hh = (double)v[k] / c->ymax * c->h;
		if (hh < 0.6)
			hh = 0.6;	/* one event still shows */
		y -= hh;
		buf_printf(b, "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" "
		    "width=\"%.2f\" height=\"%.2f\"/>", cls[k], x, y, c->bw,
		    hh);
	}
	/* Below the axis, where it cannot hide. */
	if (mark)
		buf_printf(b, "<rect class=\"mark\" x=\"%.2f\" y=\"%d\" "
		    "width=\"%.2f\" height=\"6\"/>", x, c->y0 + 3,
		    c->bw < 2 ? 2 : c->bw);
	buf_adds(b, "</g>");
}

size_t
svgchart_every(const struct svgchart *c, int width)
{
	return (size_t)(width / c->slot) + 1;
}

void
svgchart_xlabel(struct svgchart *c, size_t i, const char *s)
{
	buf_printf(c->b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
	    c->x0 + c->slot * i + c->slot / 2, c->y0 + 24);
	htmlw_texts(c->b, s);
	buf_adds(c->b, "</text>");
}

void
svgchart_line(struct svgchart *c, const char *cls, const uint64_t *v,
    uint64_t max)
{
	buf_printf(c->b, "<polyline class=\"%s\" points=\"", cls);
	for (size_t i = 0; i < c->nbars; i++)
		buf_printf(c->b, "%s%.1f,%.1f", i ? " " : "",
		    c->x0 + c->slot * i + c->slot / 2,
		    c->y0 - (double)v[i] / (max ? max : 1) * c->h * 0.95);
	buf_adds(c->b, "\"/>");
}

void
svgchart_caption(struct svgchart *c, int where, const char *s)
{
	switch (where) {
	case SVGC_TOP_LEFT:
		buf_printf(c->b, "<text x=\"%d\" y=\"%d\">", CL, c->top - 8);
		break;
	case SVGC_TOP_RIGHT:
		buf_printf(c->b, "<text x=\"%d\" y=\"%d\" "
		    "text-anchor=\"end\">", CW - CR, c->top - 8);
		break;
	case SVGC_BELOW_LEFT:
		buf_printf(c->b, "<text x=\"%d\" y=\"%d\">", CL, c->y0 + 20);
		break;
	default:	/* under the end of the last bar */
		buf_printf(c->b, "<text x=\"%.1f\" y=\"%d\" "
		    "text-anchor=\"end\">", c->x0 + c->slot * c->nbars,
		    c->y0 + 20);
	}
	htmlw_texts(c->b, s);
	buf_adds(c->b, "</text>");
}

void
svgchart_end(struct svgchart *c)
{
	buf_adds(c->b, "</svg>\n");
}
