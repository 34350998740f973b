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
    MT_PHASE_APPLY = 3        /* once per iteration, on the last micro-batch pass: optimizer
                                 step; micro-batched, also decay / l2norm terms */
};

/* Executor modes. */
enum mt_mode { MT_MODE_TRAIN = 0, MT_MODE_EVAL = 1 };

/* Activation kinds (p[1] of MT_OP_ACT_*). */
enum mt_act { MT_ACT_RELU = 0, MT_ACT_SIGMOID = 1, MT_ACT_TANH = 2, MT_ACT_SOFTMAX = 3,
              /* MT_OP_ACTX_* only: */
              MT_ACT_LEAKY_RELU = 4, MT_ACT_SWISH = 5, MT_ACT_GELU = 6 };

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
    /* FC_FWD with arena scratch S of SB bytes for the GEMM's packed operands
       (>= mt_fc_packed_scratch_bytes(N, IN, 0)): the same bits; the host
       plans it for AVX-512 hosts, never for microcontrollers.
       p = [N, IN, OUT, SB] */
    MT_OP_FC_FWD_PACKED = 4,   /* t = [X, W, B?, Y, S] */

    /* 2-D convolution, NCHW, weight (OC, C/G, KH, KW), groups G.
       p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, G, SB]
       PH/PW are top/left padding; bottom/right padding is implied by OH/OW.
       S is the kernel's scratch: SB bytes of the arena (SB == 0: the minimum,
       MT_CONV_SCRATCH_BYTES; else SB >= it, a multiple of 4), planned like
       any tensor (live only during the op). SB never changes a result bit. */
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
    /* activations whose derivative reads X: p = [NUMEL, act (LEAKY_RELU..GELU)] */
    MT_OP_ACTX_FWD = 32,   /* t = [X, Y] */
    MT_OP_ACTX_DERIV = 33, /* t = [X, dY, dX] */

    /* batch normalization over (N, HW) per channel C.
       p = [N, C, HW], f = [momentum, eps]  (PyTorch semantics: biased variance
       normalises, unbiased variance goes into running_var).
       TRAIN mode uses batch statistics and updates the running ones;
       EVAL mode uses the running ones. */
    MT_OP_BN_FWD = 40,     /* t = [X, GAMMA, BETA, RMEAN, RVAR, Y, SMEAN, SINVSTD] */
    MT_OP_BN_GRAD = 41,    /* t = [X, dY, SMEAN, SINVSTD, dGAMMA, dBETA] */
    MT_OP_BN_DERIV = 42,   /* t = [X, dY, GAMMA, SMEAN, SINVSTD, dX] */

    /* layer normalization over the last COLS of ROWS rows: p = [ROWS, COLS],
       f = [eps]; GAMMA / BETA have COLS floats, SMEAN / SINVSTD ROWS */
    MT_OP_LN_FWD = 43,     /* t = [X, GAMMA, BETA, Y, SMEAN, SINVSTD] */
    MT_OP_LN_GRAD = 44,    /* t = [X, dY, SMEAN, SINVSTD, dGAMMA, dBETA] */
    MT_OP_LN_DERIV = 45,   /* t = [X, dY, GAMMA, SMEAN, SINVSTD, dX] */

    /* elementwise sum / copy. p = [NUMEL] */
    MT_OP_ADD = 50,        /* t = [Y, X1, X2, ...] : Y = sum Xi (2..7 inputs) */
    MT_OP_COPY = 51,       /* t = [X, Y] */
    MT_OP_SUB = 52,        /* t = [Y, A, B] : Y = A - B */
    MT_OP_MUL = 53,        /* t = [Y, A, B] : Y = A * B; also dX = dY * OTHER */
    MT_OP_NEG = 54,        /* t = [X, Y] : Y = -X */

    /* concat along an axis: p = [OUTER, K, N1..NK]; row o of Y is row o of
       X1 (N1 floats), X2 (N2), ... (2 <= K <= 7) */
    MT_OP_CONCAT = 55,       /* t = [Y, X1..XK] */
    MT_OP_CONCAT_DERIV = 56, /* t = [dY, dX1?..dXK?] */
    /* permute: p = [N, D0, D1, D2, S0, S1, S2] (Y dims, X strides in Y order) */
    MT_OP_PERMUTE = 57,      /* t = [X, Y] */
    /* nearest upsampling: p = [PLANES, H, W, KH, KW], Y is (PLANES, H KH, W KW) */
    MT_OP_UPSAMPLE_FWD = 58,   /* t = [X, Y] */
    MT_OP_UPSAMPLE_DERIV = 59, /* t = [dY, dX] */
    /* one output of split: p = [OUTER, TOTAL, OFFSET, N]; row o of Y is
       floats [OFFSET, OFFSET + N) of row o (TOTAL floats) of X */
    MT_OP_SLICE = 62,          /* t = [X, Y] */
    MT_OP_SLICE_DERIV = 63,    /* t = [dY, dX] : dX zero outside the slice */

    /* dropout (inverted). p = [NUMEL], f = [rate]. RNG state: one uint32
       tensor (xorshift32), advanced per element. EVAL mode copies X. */
    MT_OP_DROPOUT_FWD = 60,   /* t = [X, Y, MASK, RNG] MASK holds 0 or 1/(1-rate) */
    MT_OP_DROPOUT_DERIV = 61, /* t = [dY, MASK, dX] */

    /* losses. p = [N, F, label, K]. K > 1 (micro-batches per iteration): loss
       and derivative are divided by K after the kernel, as PyTorch's
       (loss / K).backward() when accumulating; 0 or 1 leaves them alone.
       METRICS is float[2]: the op adds the batch's
       mean loss to [0] and the number of correct argmax predictions to [1]. */
    MT_OP_LOSS_MSE_FWD = 70,         /* t = [Y, T, METRICS] mean over N*F */
    MT_OP_LOSS_MSE_DERIV = 71,       /* t = [Y, T, dY] */
    MT_OP_LOSS_CE_SOFTMAX_FWD = 72,  /* t = [Z, T, P, METRICS] P = softmax(Z) */
    MT_OP_LOSS_CE_SOFTMAX_DERIV = 73,/* t = [P, T, dZ] (P - onehot) / N */
    MT_OP_LOSS_CE_SIGMOID_FWD = 74,  /* t = [Z, T, P, METRICS] P = sigmoid(Z), mean over N*F */
    MT_OP_LOSS_CE_SIGMOID_DERIV = 75,/* t = [P, T, dZ] (P - T) / (N*F) */

    /* optimizers, applied to one weight right after its gradient.
       p = [NUMEL, CLEAR]: CLEAR 1 zeroes dW after the step (an accumulated
       gradient starts the next iteration from zero). */
    MT_OP_SGD_APPLY = 80,   /* t = [W, dW, MOM?]  f = [lr, momentum] (PyTorch SGD) */
    MT_OP_ADAM_APPLY = 81,  /* t = [W, dW, M, V, STEP]  f = [lr, beta1, beta2, eps];
                               STEP is one uint32 (PyTorch Adam bias correction) */

    /* NNTrainer regularization. p = [NUMEL], f = [constant] */
    MT_OP_DECAY_GRAD = 90,  /* t = [W, dW] : dW += c * W (l2norm gradient, weight decay) */
    MT_OP_L2NORM_LOSS = 91, /* t = [W, METRICS] : METRICS[0] += c / 2 * ||W||_2 */

    /* integer training (docs/int8.md has the arithmetic). E: element bytes of
       the activations / weights, 1 (int8) or 2 (int16, precision "fixed").
       Gradients are g16: int32 exponent then int16 values. RQ / LR hold
       per-channel multipliers (int32 M[C] then shifts[C]). */
    MT_OP_QFC_FWD = 100,   /* t = [X, W, B?, Y, RQ]   p = [N, IN, OUT, E, zx, zy] */
    MT_OP_QFC_GRAD = 101,  /* t = [X, dY, dW, dB?]    p = [N, IN, OUT, E, zx] */
    MT_OP_QFC_DERIV = 102, /* t = [dY, W, WS, dX]     p = [N, IN, OUT, E, ws_exp] */
    MT_OP_QRELU_FWD = 103,   /* t = [X, Y]            p = [NUMEL, E, z] */
    MT_OP_QRELU_DERIV = 104, /* t = [Y, dY, dX]       p = [NUMEL, E, z] */
    MT_OP_QCE_SOFTMAX_FWD = 105,   /* t = [Z, T, P, METRICS]  p = [N, F, E, Mz, shz] */
    MT_OP_QCE_SOFTMAX_DERIV = 106, /* t = [P, T, dZ]          p = [N, F] */
    MT_OP_QSGD_APPLY = 107, /* t = [W, dW, LR, RNG, MOM? (m16)] p = [NUMEL, E (1, 2, 4), CH, mu Q15] */
    MT_OP_QNARROW = 108,    /* t = [X int32, Y]  p = [NUMEL, E] */
    MT_OP_QUANTIZE = 109,   /* t = [X float, Y]  p = [NUMEL, E, z]  f = [1/scale] */
    MT_OP_DEQUANTIZE = 110, /* t = [X, Y float]  p = [NUMEL, E, z]  f = [scale] */
    /* conv: p = [the 14 float conv params, E, ZP] with ZP = (zx + 128) | (zy + 128) << 8
       (zero points in the int8 range); the derivative's p[15] is ws_exp. No scratch. */
    MT_OP_QCONV_FWD = 111,   /* t = [X, W, B?, Y, RQ] */
    MT_OP_QCONV_GRAD = 112,  /* t = [X, dY, dW, dB?] */
    MT_OP_QCONV_DERIV = 113, /* t = [dY, W, WS, dX] */
    /* pooling: p = [the 12 float pool params, E (forwards), z (average forward)] */
    MT_OP_QMAXPOOL_FWD = 114,   /* t = [X, Y, IDX?] */
    MT_OP_QMAXPOOL_DERIV = 115, /* t = [dY, IDX, dX] */
    MT_OP_QAVGPOOL_FWD = 116,   /* t = [X, Y] */
    MT_OP_QAVGPOOL_DERIV = 117, /* t = [dY, dX] */
    /* Adam: p = [NUMEL, E, CH, B1, B2 (Q30), EPS_M, EPS_SH]; M, V a16 (int32 base, int16 words),
       STEP int32 [t, beta1^t, beta2^t (Q30)] */
    MT_OP_QADAM_APPLY = 118,    /* t = [W, dW, LR, M, V, STEP, RNG] */
    /* residual addition: p = [NUMEL, E, za, zb, zy, Ma, sha, Mb, shb]; Y may be A */
    MT_OP_QADD_FWD = 119,       /* t = [A, B, Y] */
    MT_OP_QG16_ADD = 120,       /* t = [A, B, Y] g16, p = [NUMEL]; Y may be A */
    /* fused QFC weight gradient + step (no dW tensor): p = [N, IN, OUT, E, zx, ...]
       with QSGD's mu or QADAM's B1, B2, EPS_M, EPS_SH; GE (int32) keeps the gradient
       exponent between steps (121: its own slot; 122: STEP[3], after QADAM's three) */
    MT_OP_QFC_GRAD_QSGD = 121,  /* t = [X, dY, W, LR, RNG, MOM? (m16), GE] */
    MT_OP_QFC_GRAD_QADAM = 122, /* t = [X, dY, W, LR, M, V, STEP (4 int32), RNG] */
    MT_OP_QFC_BIAS_GRAD = 123,  /* t = [dY, dB] p = [N, OUT]: QFC_GRAD's dB alone */
    /* max pooling derivative without IDX (QMAXPOOL_FWD's IDX is optional): each
       window's first maximum found again in the forward's input X, E its element bytes */
    MT_OP_QMAXPOOL_DERIV_X = 124, /* t = [dY, X, dX] p = [the 12 pool params, E] */
    /* fused weight gradient (mt_kernels_fused.h): FC_GRAD's dW made one output
       row at a time in scratch S ((N + IN) floats) and consumed at once.
       p = [N, IN, OUT]; dB (optional) is written whole, as FC_GRAD does. */
    MT_OP_FC_GRAD_SGD = 200,  /* t = [X, dY, W, MOM?, dB?, S]  f = [lr, momentum] */
    MT_OP_FC_GRAD_ADAM = 201, /* t = [X, dY, W, M, V, STEP, dB?, S]  f = [lr, b1, b2, eps] */
    MT_OP_FC_GRAD_ACC = 202,  /* t = [X, dY, ACC, dB?, S] : ACC += dW */
    /* tiled ops (mt_kernels_tile.h): output rows [O0, O0+ROWS) of an FC layer
       whose weight is split into chunk tensors. p = [N, IN, OUT, O0, ROWS];
       B, dB, Y, dX are the layer's whole tensors. _NEXT kinds continue Y / dX
       written by the previous tile (read-write); the others start them. */
    MT_OP_FC_FWD_TILE = 210,        /* t = [X, Wc, B?, Y] */
    MT_OP_FC_FWD_TILE_NEXT = 211,   /* t = [X, Wc, B?, Y] */
    MT_OP_FC_GRAD_TILE = 212,       /* t = [X, dY, dWc, dB?] : dB whole (first tile only) */
    MT_OP_FC_DERIV_TILE = 213,      /* t = [dY, Wc, dX] : dX from zero */
    MT_OP_FC_DERIV_TILE_NEXT = 214, /* t = [dY, Wc, dX] : dX += this tile's terms */
    /* Adam over one chunk: p = [NUMEL, CLEAR, LAST]; all chunks take step + 1,
       the LAST one stores it. f = [lr, beta1, beta2, eps] */
    MT_OP_ADAM_APPLY_TILE = 215,    /* t = [W, dW, M, V, STEP] */
    /* conv tiles (mt_kernels_tile.h): output channels [O0, O0+ROWS) of a dense
       conv whose weight is split into chunks of filters; O0 a multiple of 4,
       ROWS >= 4 and a multiple of 4 unless the last tile (the derivative's
       blocks of 4 channels), or the whole layer.
       p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, O0, SB, ROWS] */
    MT_OP_CONV_FWD_TILE = 216,        /* t = [X, Wc, B?, Y, S] */
    MT_OP_CONV_FWD_TILE_NEXT = 217,   /* t = [X, Wc, B?, Y, S] */
    MT_OP_CONV_GRAD_TILE = 218,       /* t = [X, dY, dWc, dB?, S] : dB whole (first tile only) */
    MT_OP_CONV_DERIV_TILE = 219,      /* t = [dY, Wc, dX, S] : dX from zero */
    MT_OP_CONV_DERIV_TILE_NEXT = 220, /* t = [dY, Wc, dX, S] : dX += this tile's terms */
    /* fused weight gradient per tile (mt_kernels_fused.h): kinds 200..202 on
       output rows [O0, O0+ROWS) of a tiled layer; W, MOM, M, V, ACC are its
       chunks, dB is whole (given to the first tile only, written whole).
       p = [N, IN, OUT, O0, ROWS] (+ LAST for Adam: every chunk takes the
       step + 1, the LAST one stores it) */
    MT_OP_FC_GRAD_SGD_TILE = 230,  /* t = [X, dY, Wc, MOMc?, dB?, S]  f = [lr, momentum, d1, d2]:
                                      d1, d2 (0: none) the chunk's DECAY_GRAD terms, in order */
    MT_OP_FC_GRAD_ADAM_TILE = 231, /* t = [X, dY, Wc, Mc, Vc, STEP, dB?, S]  f = [lr, b1, b2, eps] */
    MT_OP_FC_GRAD_ACC_TILE = 232,  /* t = [X, dY, ACCc, dB?, S] : ACCc += dW rows */
    /* the l2norm regularizer's loss over a weight's chunks: SUM (one double)
       carries the sum of squares from chunk to chunk in the untiled order.
       p = [NUMEL, LAST] (LAST adds c / 2 * sqrt(SUM) to METRICS[0]), f = [c] */
    MT_OP_L2NORM_LOSS_TILE = 233,     /* t = [Wc, METRICS, SUM] : SUM from 0 */
    MT_OP_L2NORM_LOSS_TILE_NEXT = 234 /* t = [Wc, METRICS, SUM] : SUM continued */
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
