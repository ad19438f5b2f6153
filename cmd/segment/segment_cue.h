/* segment_cue: the transcript reader of segment, SRT and WebVTT (the rules
 * are in man/segment.1, SPLITTING RULES: Transcripts). */
#ifndef LANES_SEGMENT_CUE_H
#define LANES_SEGMENT_CUE_H

#include "segment_pack.h"

#include <stddef.h>

/* Reads p's text from byte pos as SRT (vtt 0) or WebVTT (vtt 1) and adds
 * its cues to p, which must have been set up for a transcript. The whole
 * document is checked first: returns -1 with a message in err ("bad SRT
 * timestamp at line 12") before any piece reached p, else 0. */
int seg_cue_read(struct seg_pack *p, size_t pos, int vtt, char *err, size_t errlen);

/* SEG_VTT when doc[pos..len) starts with a WEBVTT line, SEG_SRT when its
 * first or second line is a cue timing, else SEG_AUTO. */
enum seg_format seg_cue_sniff(const char *doc, size_t pos, size_t len);

#endif
