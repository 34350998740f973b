/* A minimal JSON walker: enough to skip any value and read one object's members. */
#include <string.h>
#include "model_params.h"

typedef struct {
    const char *s;
    uint32_t n, i;
} cursor;

static void skip_space(cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\n' || c->s[c->i] == '\t' || c->s[c->i] == '\r'))
        c->i++;
}

/* A string at the cursor -> start and length of its raw body. */
static int read_string(cursor *c, uint32_t *start, uint32_t *len)
{
    skip_space(c);
    if (c->i >= c->n || c->s[c->i] != '"') return -1;
    *start = ++c->i;
    while (c->i < c->n && c->s[c->i] != '"') c->i += c->s[c->i] == '\\' ? 2 : 1;
    if (c->i >= c->n) return -1;
    *len = c->i++ - *start;
    return 0;
}

/* Skips one value; scalars end at the next ',' '}' or ']' of this level. */
static int skip_value(cursor *c)
{
    uint32_t depth = 0, start, len;
    skip_space(c);
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch == '"') {
            if (read_string(c, &start, &len) != 0) return -1;
            if (depth == 0) return 0;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0) return 0;
            if (--depth == 0) {
                c->i++;
                return 0;
            }
        } else if (ch == ',' && depth == 0) {
            return 0;
        }
        c->i++;
    }
    return depth == 0 ? 0 : -1;
}

/* Walks an object's members: calls visit(key, value cursor) for each. */
typedef int (*member_fn)(cursor *c, const char *key, uint32_t key_len, void *ctx);

static int walk_object(cursor *c, member_fn visit, void *ctx)
{
    uint32_t start, len;
    skip_space(c);
    if (c->i >= c->n || c->s[c->i++] != '{') return -1;
    skip_space(c);
    if (c->i < c->n && c->s[c->i] == '}') {
        c->i++;
        return 0;
    }
    for (;;) {
        if (read_string(c, &start, &len) != 0) return -1;
        skip_space(c);
        if (c->i >= c->n || c->s[c->i++] != ':') return -1;
        if (visit(c, c->s + start, len, ctx) != 0) return -1;
        skip_space(c);
        if (c->i >= c->n) return -1;
        if (c->s[c->i] == '}') {
            c->i++;
            return 0;
        }
        if (c->s[c->i++] != ',') return -1;
    }
}

typedef struct {
    uint32_t *ids, cap, count;
    const char *keys[MODEL_MAX_PARAMS];
    uint32_t key_lens[MODEL_MAX_PARAMS];
    uint32_t at[MODEL_MAX_PARAMS];   /* where each param's object starts in the JSON */
    int64_t tensor;
} params;

static int key_is(const char *key, uint32_t len, const char *want)
{
    return len == strlen(want) && memcmp(key, want, len) == 0;
}

/* A decimal tensor id (up to 10 digits) at the cursor, or -1. */
static int64_t read_id(cursor *c)
{
    int64_t v = 0;
    uint32_t digits = 0;
    skip_space(c);
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9' && digits < 10) {
        v = v * 10 + (c->s[c->i++] - '0');
        digits++;
    }
    return digits ? v : -1;
}

static int visit_param_field(cursor *c, const char *key, uint32_t len, void *ctx)
{
    params *p = ctx;
    if (!key_is(key, len, "tensor")) return skip_value(c);
    p->tensor = read_id(c);
    return p->tensor >= 0 ? 0 : -1;
}

static int key_less(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    int cmp = memcmp(a, b, an < bn ? an : bn);
    return cmp < 0 || (cmp == 0 && an < bn);
}

static int visit_param(cursor *c, const char *key, uint32_t len, void *ctx)
{
    params *p = ctx;
    p->tensor = -1;
    if (p->count >= p->cap || p->count >= MODEL_MAX_PARAMS) return -1;
    uint32_t at = c->i;
    if (walk_object(c, visit_param_field, p) != 0 || p->tensor < 0) return -1;
    uint32_t i = p->count++;
    while (i > 0 && key_less(key, len, p->keys[i - 1], p->key_lens[i - 1])) {  /* keep keys sorted */
        p->keys[i] = p->keys[i - 1];
        p->key_lens[i] = p->key_lens[i - 1];
        p->ids[i] = p->ids[i - 1];
        p->at[i] = p->at[i - 1];
        i--;
    }
    p->keys[i] = key;
    p->key_lens[i] = len;
    p->ids[i] = (uint32_t)p->tensor;
    p->at[i] = at;
    return 0;
}

static int visit_top(cursor *c, const char *key, uint32_t len, void *ctx)
{
    if (!key_is(key, len, "params")) return skip_value(c);
    return walk_object(c, visit_param, ctx);
}

int32_t model_param_ids(const char *json, uint32_t len, uint32_t *ids, uint32_t cap)
{
    cursor c = {json, len, 0};
    params p;
    memset(&p, 0, sizeof(p));
    p.ids = ids;
    p.cap = cap;
    return walk_object(&c, visit_top, &p) == 0 ? (int32_t)p.count : -1;
}

/* The k-th id of a param's "chunks" array (a tiled weight, issue 11). */
typedef struct {
    uint32_t want, seen;
    int64_t id;
} chunk_pick;

static int visit_chunks_field(cursor *c, const char *key, uint32_t len, void *ctx)
{
    chunk_pick *pick = ctx;
    if (!key_is(key, len, "chunks")) return skip_value(c);
    skip_space(c);
    if (c->i >= c->n || c->s[c->i++] != '[') return -1;
    skip_space(c);
    if (c->i < c->n && c->s[c->i] == ']') {
        c->i++;
        return 0;
    }
    for (;;) {
        int64_t id = read_id(c);
        if (id < 0) return -1;
        if (pick->seen++ == pick->want) pick->id = id;
        skip_space(c);
        if (c->i >= c->n) return -1;
        char ch = c->s[c->i++];
        if (ch == ']') return 0;
        if (ch != ',') return -1;
    }
}

int64_t model_param_chunk(const char *json, uint32_t len, uint32_t index, uint32_t k)
{
    uint32_t ids[MODEL_MAX_PARAMS];
    cursor c = {json, len, 0};
    params p;
    memset(&p, 0, sizeof(p));
    p.ids = ids;
    p.cap = MODEL_MAX_PARAMS;
    if (walk_object(&c, visit_top, &p) != 0 || index >= p.count) return -1;
    cursor object = {json, len, p.at[index]};
    chunk_pick pick = {k, 0, -1};
    if (walk_object(&object, visit_chunks_field, &pick) != 0) return -1;
    return pick.id;
}
