/* segment_root: stable document ids relative to --root DIR, whatever the
 * spelling of the path (see segment_root.c). */
#ifndef LANES_SEGMENT_ROOT_H
#define LANES_SEGMENT_ROOT_H

struct seg_root;

/* The root dir, which must exist. Returns NULL with a message in *err (the
 * caller frees it) when it cannot be resolved. */
struct seg_root *seg_root_new(const char *dir, char **err);

/* The id of the document at path: path relative to the root, normalised
 * ("a.md", "sub/b.md"); the root itself gives its last component. Returns
 * a new string (the caller frees it), or NULL when path is not under the
 * root, even with symbolic links resolved. */
char *seg_root_id(const struct seg_root *r, const char *path);

/* The start of the ids of the documents under directory dir: "" for the
 * root itself, else dir relative to the root ("sub", "sub/deeper"), found
 * the way seg_root_id finds a file's (lexically, else with links
 * resolved). Returns a new string, or NULL when dir is not under the root. */
char *seg_root_prefix(const struct seg_root *r, const char *dir);

/* The root as an absolute, normalised path; owned by r. */
const char *seg_root_dir(const struct seg_root *r);

void seg_root_free(struct seg_root *r);

#endif
