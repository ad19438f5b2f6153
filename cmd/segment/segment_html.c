/* segment_html: HTML through libxml2's HTML parser (which decodes entities
 * and character sets and repairs broken markup). Only visible text is
 * kept: script, style, templates, forms and hidden elements never; nav,
 * aside and a page's own header and footer neither, as boilerplate; and
 * when the page marks its <main> content, only that. Headings, paragraphs,
 * list items, preformatted text and tables become blocks; <title> and the
 * lang attribute become the title and lang fields. */
#include "segment_convert.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

enum role {
	R_INLINE,  /* text flows through it */
	R_SKIP,    /* not visible: dropped with all it holds */
	R_BOILER,  /* navigation, side bars: dropped outside <main>/<article> */
	R_BLOCK,   /* a paragraph-like block */
	R_HEADING, /* h1-h6 */
	R_LIST,    /* ul ol menu dl */
	R_ITEM,    /* li dt dd */
	R_PRE,     /* whitespace kept */
	R_TABLE,
	R_ROW,
	R_CELL,
	R_BREAK,   /* br */
	R_CONTENT, /* article, main: content, boilerplate inside is kept */
};

static const struct {
	const char *name;
	enum role role;
} roles[] = {
	{"script", R_SKIP}, {"style", R_SKIP}, {"noscript", R_SKIP}, {"template", R_SKIP},
	{"head", R_SKIP}, {"svg", R_SKIP}, {"math", R_SKIP}, {"iframe", R_SKIP},
	{"object", R_SKIP}, {"embed", R_SKIP}, {"canvas", R_SKIP}, {"form", R_SKIP},
	{"select", R_SKIP}, {"button", R_SKIP}, {"textarea", R_SKIP}, {"input", R_SKIP},
	{"audio", R_SKIP}, {"video", R_SKIP}, {"map", R_SKIP}, {"dialog", R_SKIP},
	{"nav", R_BOILER}, {"aside", R_BOILER}, {"header", R_BOILER}, {"footer", R_BOILER},
	{"p", R_BLOCK}, {"div", R_BLOCK}, {"section", R_BLOCK}, {"blockquote", R_BLOCK},
	{"address", R_BLOCK}, {"figure", R_BLOCK}, {"figcaption", R_BLOCK},
	{"details", R_BLOCK}, {"summary", R_BLOCK}, {"center", R_BLOCK}, {"fieldset", R_BLOCK},
	{"legend", R_BLOCK}, {"body", R_BLOCK}, {"html", R_BLOCK}, {"hr", R_BLOCK},
	{"caption", R_BLOCK}, {"article", R_CONTENT}, {"main", R_CONTENT},
	{"h1", R_HEADING}, {"h2", R_HEADING}, {"h3", R_HEADING}, {"h4", R_HEADING},
	{"h5", R_HEADING}, {"h6", R_HEADING},
	{"ul", R_LIST}, {"ol", R_LIST}, {"menu", R_LIST}, {"dl", R_LIST},
	{"li", R_ITEM}, {"dt", R_ITEM}, {"dd", R_ITEM},
	{"pre", R_PRE}, {"listing", R_PRE}, {"xmp", R_PRE}, {"plaintext", R_PRE},
	{"table", R_TABLE}, {"tr", R_ROW}, {"td", R_CELL}, {"th", R_CELL},
	{"br", R_BREAK},
};

static enum role role_of(const xmlNode *n)
{
	for (size_t i = 0; i < ARRAY_LEN(roles); i++)
		if (!strcasecmp((const char *)n->name, roles[i].name))
			return roles[i].role;
	return R_INLINE;
}

/* An attribute's value, as a new string (xmlFree) or NULL. */
static char *attr(const xmlNode *n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

static int hidden(const xmlNode *n)
{
	if (xmlHasProp(n, (const xmlChar *)"hidden"))
		return 1;
	char *a = attr(n, "aria-hidden");
	int h = a && !strcasecmp(a, "true");
	xmlFree(a);
	char *r = attr(n, "role");
	if (r && (!strcasecmp(r, "navigation") || !strcasecmp(r, "banner") ||
		  !strcasecmp(r, "contentinfo") || !strcasecmp(r, "complementary")))
		h = 2;
	xmlFree(r);
	return h;
}

/* The element marked as the main content (<main>, role=main), or NULL. */
static xmlNode *find_main(xmlNode *root, int max_depth)
{
	xmlNode *n = root;
	int depth = 0;
	while (n) {
		if (n->type == XML_ELEMENT_NODE) {
			if (!strcasecmp((const char *)n->name, "main"))
				return n;
			char *r = attr(n, "role");
			int is_main = r && !strcasecmp(r, "main");
			xmlFree(r);
			if (is_main)
				return n;
			if (n->children && depth < max_depth && role_of(n) != R_SKIP) {
				n = n->children;
				depth++;
				continue;
			}
		}
		while (n && !n->next && n != root) {
			n = n->parent;
			depth--;
		}
		if (!n || n == root)
			break;
		n = n->next;
	}
	return NULL;
}

/* Per open element of the walk: what to undo when it ends. */
struct frame {
	enum role role;
	int opened;  /* it opened a block that ends with it */
	int items;   /* lists: items so far; rows: cells so far; tables: rows */
};

struct walk {
	struct seg_conv *c;
	struct frame *st;
	int depth, max_depth;
	int unit;    /* open heading, item, pre or table: blocks inside flow */
	int content; /* inside <article> or <main> */
};

static struct frame *parent_of(struct walk *w, enum role r)
{
	for (int i = w->depth - 1; i >= 0; i--)
		if (w->st[i].role == r)
			return &w->st[i];
	return NULL;
}

/* Enters element n; returns 0 when its subtree is to be skipped. */
static int enter(struct walk *w, const xmlNode *n)
{
	struct seg_conv *c = w->c;
	enum role r = role_of(n);
	int h = hidden(n);
	if (r == R_SKIP || h == 1 || (!w->content && (r == R_BOILER || h == 2)))
		return 0;
	struct frame *f = &w->st[w->depth];
	*f = (struct frame){r, 0, 0};
	switch (r) {
	case R_CONTENT:
		w->content++;
		/* fall through */
	case R_BLOCK:
	case R_BOILER:
		if (w->unit)
			seg_conv_text(c, " ", 1);
		break;
	case R_HEADING:
	case R_PRE:
	case R_TABLE:
		if (w->unit) {
			seg_conv_break(c, 0);
			break;
		}
		seg_conv_block(c, SEG_BLOCK_UNIT, r == R_HEADING ? SEG_HARD | SEG_PARA : SEG_PARA);
		f->opened = 1;
		w->unit++;
		c->pre += r == R_PRE;
		break;
	case R_ITEM: {
		struct frame *list = parent_of(w, R_LIST);
		if (w->unit) {
			seg_conv_break(c, 0);
			break;
		}
		/* the items of one list pack without a paragraph break */
		seg_conv_block(c, SEG_BLOCK_ITEM, list && list->items++ ? 0 : SEG_PARA);
		f->opened = 1;
		w->unit++;
		break;
	}
	case R_ROW: {
		struct frame *t = parent_of(w, R_TABLE);
		if (t && t->items++)
			seg_conv_break(c, 0);
		break;
	}
	case R_CELL: {
		struct frame *row = parent_of(w, R_ROW);
		if (row && row->items++)
			seg_conv_text(c, " | ", 3);
		break;
	}
	case R_BREAK:
		seg_conv_break(c, 0);
		break;
	case R_LIST:
	case R_SKIP:
	case R_INLINE:
		break;
	}
	return 1;
}

static void leave(struct walk *w)
{
	struct seg_conv *c = w->c;
	struct frame *f = &w->st[w->depth];
	if (f->opened) {
		c->pre -= f->role == R_PRE;
		w->unit--;
		seg_conv_end(c);
	} else if ((f->role == R_BLOCK || f->role == R_CONTENT || f->role == R_BOILER ||
		    f->role == R_LIST) && !w->unit) {
		seg_conv_end(c);
	}
	if (f->role == R_CONTENT)
		w->content--;
}

/* Walks the tree under top without recursion (no stack to overflow). */
static void walk_tree(struct walk *w, xmlNode *top)
{
	xmlNode *n = top;
	for (;;) {
		int down = 0;
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content)
				seg_conv_text(w->c, (const char *)n->content, strlen((const char *)n->content));
		} else if (n->type == XML_ELEMENT_NODE && w->depth < w->max_depth && enter(w, n)) {
			if (n->children) {
				w->depth++;
				n = n->children;
				continue;
			}
			down = 1;
		}
		if (down)
			leave(w);
		/* next sibling, or up to the first ancestor with one */
		while (n != top && !n->next) {
			n = n->parent;
			w->depth--;
			leave(w);
		}
		if (n == top)
			return;
		n = n->next;
	}
}

static void title_and_lang(struct seg_conv *c, xmlNode *root)
{
	char *lang = attr(root, "lang");
	if (!lang)
		lang = (char *)xmlGetNsProp(root, (const xmlChar *)"lang", XML_XML_NAMESPACE);
	if (lang)
		seg_conv_field(&c->lang, lang, strlen(lang));
	xmlFree(lang);
	for (xmlNode *h = root->children; h; h = h->next) {
		if (h->type != XML_ELEMENT_NODE || strcasecmp((const char *)h->name, "head"))
			continue;
		for (xmlNode *t = h->children; t; t = t->next)
			if (t->type == XML_ELEMENT_NODE && !strcasecmp((const char *)t->name, "title")) {
				xmlChar *s = xmlNodeGetContent(t);
				if (s)
					seg_conv_field(&c->title, (const char *)s, strlen((const char *)s));
				xmlFree(s);
			}
	}
}

int seg_html_convert(const char *raw, size_t len, struct seg_conv *c, struct seg_fail *fail)
{
	if (len > (size_t)INT_MAX)
		return seg_conv_fail(fail, "too_big", "HTML larger than 2 GiB");
	htmlDocPtr doc = htmlReadMemory(raw, (int)len, NULL, NULL,
					HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					HTML_PARSE_NONET | HTML_PARSE_COMPACT);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root) {
		xmlFreeDoc(doc);
		return seg_conv_fail(fail, "bad_document", "not HTML: no element found");
	}
	title_and_lang(c, root);
	int max_depth = c->caps->max_depth;
	struct walk w = {.c = c, .max_depth = max_depth};
	w.st = xcalloc((size_t)max_depth + 1, sizeof *w.st);
	xmlNode *top = find_main(root, max_depth);
	if (top)
		w.content = 1;
	walk_tree(&w, top ? top : root);
	free(w.st);
	xmlFreeDoc(doc);
	return 0;
}
