/* Conv tiles (mt_kernels_tile.h): output channels [O0, O0+ROWS) of a dense
 * convolution whose weight (OC, C, KH, KW) is split into chunk tensors of
 * consecutive filters. X, Y, dY, dX, B and dB stay whole tensors.
 *
 * Why the results are the untiled kernels' bits (mt_kernels_conv.c, "summation
 * orders"): every tile runs the untiled entry points one sample at a time on
 * a shape of ROWS filters, pointing into the whole Y / dY at channel O0 (a
 * sample's channel range is contiguous; across samples it is not, hence the
 * sample loop). No kernel's order depends on the scratch size or blocking, so
 * a path choice that differs for the smaller shape changes no bit.
 *   forward: each y element is b + its own sum over (ci, ky, kx): channels
 *            and samples are independent;
 *   grad:    each dw element is 0 + a sum over (n, oy, ox) ascending; rows of
 *            dW are independent, and mt_conv_grad_continue_sized resumes each
 *            element's sum sample after sample (every path accumulates into
 *            dw); db is the untiled bias loop over the whole dY (first tile);
 *   deriv:   dx = sum over output channels, which the untiled kernel orders
 *            in one of two ways (the choice depends on C, KH*KW and the
 *            stride, never on OC): the correlation adds (o, ky, kx) with o
 *            outermost, sequential over o; the scatter order adds blocks of 4
 *            consecutive channels outermost (o = 0..3, 4..7, ..., then single
 *            channels for the OC % 4 tail), with the taps and the 4 channels of
 *            a block inside. Both are sequential over blocks of 4 channels, so
 *            a tile starting at a multiple of 4 and holding a multiple of 4
 *            channels (or reaching OC) sees exactly the untiled blocks, and
 *            mt_conv_deriv_continue_sized resumes each dx element's sum:
 *            tile 0 starts from +0.0f, later tiles continue (_NEXT kinds).
 *   One input channel and < 4 filters take the depthwise row-wise code with
 *   another order, so a tile holds at least 4 channels unless it is the
 *   whole layer (then it calls the untiled kernels themselves).
 * Params p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, O0, SB, ROWS]:
 * CONV_FWD's 15 with groups (always 1 here) replaced by O0, then ROWS. */
#include <string.h>
#include "mt_kernels_tile.h"
#include "mt_kernels.h"

static long channel_plane(const mt_conv_shape *s, int channels)
{
    return (long)channels * s->oh * s->ow;
}

static int whole_layer(const mt_conv_shape *s, int o0, int rows)
{
    return o0 == 0 && rows == s->oc;
}

/* One sample, the tile's filters only. */
static mt_conv_shape tile_shape(const mt_conv_shape *s, int rows)
{
    mt_conv_shape one = *s;
    one.n = 1;
    one.oc = rows;
    return one;
}

void mt_conv_fwd_tile(const mt_conv_shape *s, const float *x, const float *w_rows,
                      const float *b, float *y, void *scratch, uint32_t scratch_bytes,
                      int o0, int rows)
{
    mt_conv_shape one = tile_shape(s, rows);
    long pin = (long)s->c * s->h * s->w;
    if (whole_layer(s, o0, rows)) {
        mt_conv_fwd_sized(s, x, w_rows, b, y, scratch, scratch_bytes);
        return;
    }
    for (int n = 0; n < s->n; n++)
        mt_conv_fwd_sized(&one, x + n * pin, w_rows, b ? b + o0 : 0,
                          y + channel_plane(s, n * s->oc + o0), scratch, scratch_bytes);
}

void mt_conv_grad_tile(const mt_conv_shape *s, const float *x, const float *dy, float *dw_rows,
                       float *db, void *scratch, uint32_t scratch_bytes, int o0, int rows)
{
    mt_conv_shape one = tile_shape(s, rows);
    long pin = (long)s->c * s->h * s->w;
    if (whole_layer(s, o0, rows)) {
        mt_conv_grad_sized(s, x, dy, dw_rows, db, scratch, scratch_bytes);
        return;
    }
    memset(dw_rows, 0, sizeof(float) * (size_t)rows * (size_t)s->c * (size_t)(s->kh * s->kw));
    if (db)
        mt_conv_bias_grad(s, dy, db);
    for (int n = 0; n < s->n; n++)
        mt_conv_grad_continue_sized(&one, x + n * pin, dy + channel_plane(s, n * s->oc + o0),
                                    dw_rows, scratch, scratch_bytes);
}

void mt_conv_deriv_tile(const mt_conv_shape *s, const float *dy, const float *w_rows, float *dx,
                        void *scratch, uint32_t scratch_bytes, int o0, int rows, int from_dx)
{
    mt_conv_shape one = tile_shape(s, rows);
    long pin = (long)s->c * s->h * s->w;
    if (whole_layer(s, o0, rows) && !from_dx) {
        mt_conv_deriv_sized(s, dy, w_rows, dx, scratch, scratch_bytes);
        return;
    }
    if (!from_dx)
        memset(dx, 0, sizeof(float) * (size_t)s->n * (size_t)pin);
    for (int n = 0; n < s->n; n++)
        mt_conv_deriv_continue_sized(&one, dy + channel_plane(s, n * s->oc + o0), w_rows,
                                     dx + n * pin, scratch, scratch_bytes);
}

/* ---- op adapters ---- */

static mt_conv_shape layer_shape(const int32_t *p)
{
    mt_conv_shape s = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                       p[9], p[10], p[11], p[12], 1};
    return s;
}

void mt_run_conv_fwd_tile(const mt_op *op, void *const *slot, int mode)
{
    mt_conv_shape s = layer_shape(op->p);
    (void)mode;
    mt_conv_fwd_tile(&s, slot[0], slot[1], slot[2], slot[3], slot[4], (uint32_t)op->p[14],
                     op->p[13], op->p[15]);
}

void mt_run_conv_grad_tile(const mt_op *op, void *const *slot, int mode)
{
    mt_conv_shape s = layer_shape(op->p);
    (void)mode;
    mt_conv_grad_tile(&s, slot[0], slot[1], slot[2], slot[3], slot[4], (uint32_t)op->p[14],
                      op->p[13], op->p[15]);
}

void mt_run_conv_deriv_tile(const mt_op *op, void *const *slot, int mode)
{
    mt_conv_shape s = layer_shape(op->p);
    (void)mode;
    mt_conv_deriv_tile(&s, slot[0], slot[1], slot[2], slot[3], (uint32_t)op->p[14], op->p[13],
                       op->p[15], op->kind == MT_OP_CONV_DERIV_TILE_NEXT);
}
