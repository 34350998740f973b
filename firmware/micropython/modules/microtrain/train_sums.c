/* Training with numpy-identical sums. The CPython engine (board/trainer.py)
 * reports float(losses.sum(dtype=np.float64)) over a chunk's per-iteration
 * float32 values: numpy adds them pairwise (blocks of 8 accumulators up to 128
 * values, halves above), in cast buffers of 8192 values added in turn onto 0.0.
 * The same tree is walked here, each leaf value produced by running the next
 * iteration, so iterations still run in order and no per-iteration buffer is
 * needed; the sums come out bit for bit equal on any port. */
#include "mod_microtrain.h"

#define NUMPY_BLOCK 128u     /* PW_BLOCKSIZE */
#define NUMPY_BUFFER 8192u   /* NPY_BUFSIZE: values cast per inner loop call */

typedef struct {
    double loss, correct;
} sums;

typedef struct {
    const mt_program *prog;
    uint8_t *arena;
    const mt_dataset *data;
    const int32_t *order;
    uint32_t n_order;
    uint32_t next_batch;
    const mt_hooks *hooks;
    int status;             /* first failure; later iterations are skipped */
} iterations;

static sums add(sums a, sums b)
{
    sums out = {a.loss + b.loss, a.correct + b.correct};
    return out;
}

/* Runs the next iteration -> its (loss, correct) as doubles (exact widening). */
static sums next_value(iterations *it)
{
    sums out = {0.0, 0.0};
    float loss = 0.0f, correct = 0.0f;
    if (it->status != MT_OK) return out;
    it->status = mt_train_loop(it->prog, it->arena, it->data, it->order, it->n_order,
                               it->next_batch++, 1, &loss, &correct, it->hooks);
    out.loss = (double)loss;
    out.correct = (double)correct;
    return out;
}

static sums pairwise(iterations *it, uint32_t n)
{
    if (n < 8) {
        sums res = {-0.0, -0.0};   /* numpy starts at -0.0 (keeps a sum of -0.0 values) */
        for (uint32_t i = 0; i < n; i++) res = add(res, next_value(it));
        return res;
    }
    if (n <= NUMPY_BLOCK) {
        sums r[8];
        uint32_t i;
        for (i = 0; i < 8; i++) r[i] = next_value(it);
        for (; i < n - n % 8; i += 8)
            for (uint32_t k = 0; k < 8; k++) r[k] = add(r[k], next_value(it));
        sums res = add(add(add(r[0], r[1]), add(r[2], r[3])), add(add(r[4], r[5]), add(r[6], r[7])));
        for (; i < n; i++) res = add(res, next_value(it));
        return res;
    }
    uint32_t half = n / 2;
    half -= half % 8;
    sums left = pairwise(it, half);   /* sequenced: the left half's iterations run first */
    return add(left, pairwise(it, n - half));
}

int mt_train_sums(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                  const int32_t *order, uint32_t n_order, uint32_t first_batch, uint32_t n_iter,
                  const mt_hooks *hooks, double *loss_sum, double *correct_sum)
{
    iterations it = {prog, arena, data, order, n_order, first_batch, hooks, MT_OK};
    sums total = {0.0, 0.0};
    for (uint32_t done = 0; done < n_iter; done += NUMPY_BUFFER) {
        uint32_t count = n_iter - done < NUMPY_BUFFER ? n_iter - done : NUMPY_BUFFER;
        total = add(total, pairwise(&it, count));
    }
    *loss_sum = total.loss;
    *correct_sum = total.correct;
    return it.status;
}
