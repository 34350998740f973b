/* The data loader and the training loop: batches are copied from the caller's
 * data set into the arena, so a whole epoch runs without leaving C. */
#include <string.h>
#include "mt_exec.h"

/* Classes the loss op expects for index labels (0 when labels are dense). */
static int32_t label_classes(const mt_program *prog)
{
    for (uint32_t i = 0; i < prog->n_ops; i++) {
        const mt_op *op = &prog->ops[i];
        int is_loss = op->kind >= MT_OP_LOSS_MSE_FWD && op->kind <= MT_OP_LOSS_CE_SIGMOID_DERIV;
        if (is_loss && op->t[1] == prog->labels)
            return op->p[2] == MT_LABEL_INDEX ? (op->p[1] == 1 ? 2 : op->p[1]) : 0;
    }
    return 0;
}

static int labels_ok(const int32_t *labels, uint32_t count, int32_t classes)
{
    for (uint32_t i = 0; i < count; i++)
        if (labels[i] < 0 || labels[i] >= classes) return 0;
    return 1;
}

int mt_load_batch(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                  const int32_t *order, uint32_t n_order, uint32_t batch_index)
{
    const mt_tensor *input = &prog->tensors[prog->input];
    const mt_tensor *labels = &prog->tensors[prog->labels];
    uint32_t x_bytes = data->x_numel * 4u;
    if (x_bytes == 0 || input->nbytes % x_bytes || n_order == 0) return MT_ERR_BAD_SIZE;
    uint32_t batch = input->nbytes / x_bytes;
    if ((uint64_t)batch * data->y_bytes != labels->nbytes) return MT_ERR_BAD_SIZE;
    for (uint32_t j = 0; j < batch; j++) {
        uint32_t k = (uint32_t)(((uint64_t)batch_index * batch + j) % n_order);
        int32_t sample = order[k];
        if (sample < 0 || (uint32_t)sample >= data->n_samples) return MT_ERR_BAD_DATA;
        memcpy(arena + input->offset + (size_t)j * x_bytes,
               data->x + (size_t)sample * data->x_numel, x_bytes);
        memcpy(arena + labels->offset + (size_t)j * data->y_bytes,
               data->y + (size_t)sample * data->y_bytes, data->y_bytes);
    }
    int32_t classes = label_classes(prog);
    if (classes && !labels_ok((const int32_t *)(arena + labels->offset), batch, classes))
        return MT_ERR_BAD_DATA;
    return MT_OK;
}

int mt_train_loop(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                  const int32_t *order, uint32_t n_order, uint32_t first_batch,
                  uint32_t n_iter, float *loss_out, float *correct_out,
                  const mt_hooks *hooks)
{
    const float *metrics = (const float *)(arena + prog->tensors[prog->metrics].offset);
    for (uint32_t it = 0; it < n_iter; it++) {
        int status = mt_load_batch(prog, arena, data, order, n_order, first_batch + it);
        if (status == MT_OK) status = mt_run(prog, arena, MT_MODE_TRAIN, hooks);
        if (status != MT_OK) return status;
        loss_out[it] = metrics[0];
        correct_out[it] = metrics[1];
    }
    return MT_OK;
}
