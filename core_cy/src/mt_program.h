/* microtrain: the contract between the host planner and the C executor.
 *
 * A program is a flat list of ops. Each op names its tensors by id; a tensor
 * is a byte range [offset, offset + nbytes) of one caller-owned arena. The
 * executor never allocates: every kernel reads and writes only inside the
 * arena through the offsets it is given. Portable C99, no globals.
 */
#ifndef MT_PROGRAM_H
#define MT_PROGRAM_H

#include <stdint.h>
#include "mt_status.h"

#define MT_OP_MAX_TENSORS 8
#define MT_OP_MAX_PARAMS 16
#define MT_OP_MAX_FLOATS 4
#define MT_NO_TENSOR (-1)

/* Phases of the fine-grained execution order (NNTrainer's four per layer). */
enum mt_phase {
    MT_PHASE_FORWARD = 0,
    MT_PHASE_CALC_GRAD = 1,   /* weight gradient */
    MT_PHASE_CALC_DERIV = 2,  /* input derivative */
    MT_PHASE_APPLY = 3        /* optimizer step for one weight */
};

/* Executor modes. */
enum mt_mode { MT_MODE_TRAIN = 0, MT_MODE_EVAL = 1 };

/* Activation kinds (p[1] of MT_OP_ACT_*). */
enum mt_act { MT_ACT_RELU = 0, MT_ACT_SIGMOID = 1, MT_ACT_TANH = 2, MT_ACT_SOFTMAX = 3 };

/* Label encodings for loss ops (p[2]). */
enum mt_label { MT_LABEL_INDEX = 0, /* int32 class index per sample */
                MT_LABEL_DENSE = 1  /* float32 target per output element */ };

/* Op kinds. t[] lists tensor ids, p[] int params, f[] float params.
 * "X" input, "Y" output, "dY"/"dX" their derivatives, "W"/"B" weight/bias,
 * "dW"/"dB" weight gradients. Optional tensors may be MT_NO_TENSOR. */
enum mt_op_kind {
    /* fully connected, Y(N,OUT) = X(N,IN) W(OUT,IN)^T + B(OUT)
       p = [N, IN, OUT] */
    MT_OP_FC_FWD = 1,      /* t = [X, W, B?, Y] */
    MT_OP_FC_GRAD = 2,     /* t = [X, dY, dW, dB?]  (overwrites dW, dB) */
    MT_OP_FC_DERIV = 3,    /* t = [dY, W, dX] */

    /* 2-D convolution, NCHW, weight (OC, C/G, KH, KW), groups G.
       p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, G]
       PH/PW are top/left padding; bottom/right padding is implied by OH/OW.
       S is the kernel's scratch: MT_CONV_SCRATCH_BYTES of the arena, planned
       like any tensor (live only during the op). */
    MT_OP_CONV_FWD = 10,   /* t = [X, W, B?, Y, S] */
    MT_OP_CONV_GRAD = 11,  /* t = [X, dY, dW, dB?, S] */
    MT_OP_CONV_DERIV = 12, /* t = [dY, W, dX, S] */

    /* pooling, NCHW. p = [N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW]
       average pooling counts padding in the divisor (PyTorch default). */
    MT_OP_MAXPOOL_FWD = 20,   /* t = [X, Y, IDX]  IDX int32 argmax within the plane */
    MT_OP_MAXPOOL_DERIV = 21, /* t = [dY, IDX, dX] */
    MT_OP_AVGPOOL_FWD = 22,   /* t = [X, Y] */
    MT_OP_AVGPOOL_DERIV = 23, /* t = [dY, dX] */

    /* activations. p = [ROWS, COLS, act]; softmax runs over COLS.
       The derivative needs only the output, so Y may alias X (in place). */
    MT_OP_ACT_FWD = 30,    /* t = [X, Y] */
    MT_OP_ACT_DERIV = 31,  /* t = [Y, dY, dX] */

    /* batch normalization over (N, HW) per channel C.
       p = [N, C, HW], f = [momentum, eps]  (PyTorch semantics: biased variance
       normalises, unbiased variance goes into running_var).
       TRAIN mode uses batch statistics and updates the running ones;
       EVAL mode uses the running ones. */
    MT_OP_BN_FWD = 40,     /* t = [X, GAMMA, BETA, RMEAN, RVAR, Y, SMEAN, SINVSTD] */
    MT_OP_BN_GRAD = 41,    /* t = [X, dY, SMEAN, SINVSTD, dGAMMA, dBETA] */
    MT_OP_BN_DERIV = 42,   /* t = [X, dY, GAMMA, SMEAN, SINVSTD, dX] */

    /* elementwise sum / copy. p = [NUMEL] */
    MT_OP_ADD = 50,        /* t = [Y, X1, X2, ...] : Y = sum Xi (2..7 inputs) */
    MT_OP_COPY = 51,       /* t = [X, Y] */

    /* dropout (inverted). p = [NUMEL], f = [rate]. RNG state: one uint32
       tensor (xorshift32), advanced per element. EVAL mode copies X. */
    MT_OP_DROPOUT_FWD = 60,   /* t = [X, Y, MASK, RNG] MASK holds 0 or 1/(1-rate) */
    MT_OP_DROPOUT_DERIV = 61, /* t = [dY, MASK, dX] */

    /* losses. p = [N, F, label]. METRICS is float[2]: the op adds the batch's
       mean loss to [0] and the number of correct argmax predictions to [1]. */
    MT_OP_LOSS_MSE_FWD = 70,         /* t = [Y, T, METRICS] mean over N*F */
    MT_OP_LOSS_MSE_DERIV = 71,       /* t = [Y, T, dY] */
    MT_OP_LOSS_CE_SOFTMAX_FWD = 72,  /* t = [Z, T, P, METRICS] P = softmax(Z) */
    MT_OP_LOSS_CE_SOFTMAX_DERIV = 73,/* t = [P, T, dZ] (P - onehot) / N */
    MT_OP_LOSS_CE_SIGMOID_FWD = 74,  /* t = [Z, T, P, METRICS] P = sigmoid(Z), mean over N*F */
    MT_OP_LOSS_CE_SIGMOID_DERIV = 75,/* t = [P, T, dZ] (P - T) / (N*F) */

    /* optimizers, applied to one weight right after its gradient. p = [NUMEL] */
    MT_OP_SGD_APPLY = 80,   /* t = [W, dW, MOM?]  f = [lr, momentum] (PyTorch SGD) */
    MT_OP_ADAM_APPLY = 81   /* t = [W, dW, M, V, STEP]  f = [lr, beta1, beta2, eps];
                               STEP is one uint32 (PyTorch Adam bias correction) */
};

typedef struct {
    uint16_t kind;      /* enum mt_op_kind */
    uint8_t phase;      /* enum mt_phase */
    uint8_t reserved;
    int32_t t[MT_OP_MAX_TENSORS];
    int32_t p[MT_OP_MAX_PARAMS];
    float f[MT_OP_MAX_FLOATS];
} mt_op;

typedef struct {
    uint32_t offset;  /* bytes from the arena start; 4-byte aligned at least */
    uint32_t nbytes;
} mt_tensor;


#endif
