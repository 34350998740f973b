/* The weight tensors a host pulls: MODL's "params" object (key -> {"tensor": id})
 * read from the bundle's JSON, in sorted key order as board/trainer.py serves them. */
#ifndef MODEL_PARAMS_H
#define MODEL_PARAMS_H

#include <stdint.h>

#define MODEL_MAX_PARAMS 64u

/* -> number of params (ids in sorted key order), or -1 if the JSON has no usable "params". */
int32_t model_param_ids(const char *json, uint32_t len, uint32_t *ids, uint32_t cap);

/* A tiled weight (issue 11) lives in chunk tensors whose bytes, in order, are
 * the weight's: the k-th chunk id of the index-th param (sorted key order), or
 * -1 past its last chunk (at once for an untiled param). */
int64_t model_param_chunk(const char *json, uint32_t len, uint32_t index, uint32_t k);

#endif
