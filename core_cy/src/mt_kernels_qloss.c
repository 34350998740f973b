/* Integer softmax cross entropy (docs/int8.md, "Integer softmax cross
 * entropy"): exp2 and log2 from 65-entry tables with linear interpolation, the
 * softmax as exact integer division, the loss metric turned into float32 bits
 * with integer code (round to nearest even), so no float operation runs. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

#define Q30 ((int64_t)1 << 30)
#define LOG2E_Q16 94548   /* round(log2(e) 2^16) */
#define LN2_Q16 45426     /* round(ln(2) 2^16) */
#define T_CAP ((int64_t)1 << 21)  /* s_z d capped at 32 (Q16) */

/* round(2^(30 - i/64)), i = 0..64 */
static const int32_t exp2_table[65] = {
    1073741824, 1062175491, 1050733751, 1039415261, 1028218693, 1017142735, 1006186087,
    995347464, 984625594, 974019220, 963527098, 953147997, 942880699, 932724001, 922676710,
    912737649, 902905651, 893179563, 883558244, 874040567, 864625413, 855311680, 846098274,
    836984114, 827968132, 819049271, 810226483, 801498734, 792865000, 784324269, 775875538,
    767517817, 759250125, 751071493, 742980960, 734977579, 727060411, 719228525, 711481005,
    703816941, 696235434, 688735596, 681316545, 673977412, 666717336, 659535466, 652430958,
    645402981, 638450708, 631573326, 624770026, 618040012, 611382493, 604796689, 598281827,
    591837143, 585461881, 579155293, 572916640, 566745190, 560640218, 554601009, 548626854,
    542717053, 536870912,
};

/* round(2^16 log2(1 + i/64)), i = 0..64 */
static const int32_t log2_table[65] = {
    0, 1466, 2909, 4331, 5732, 7112, 8473, 9814, 11136, 12440, 13727, 14996, 16248, 17484,
    18704, 19909, 21098, 22272, 23433, 24579, 25711, 26830, 27936, 29029, 30109, 31178,
    32234, 33279, 34312, 35334, 36346, 37346, 38336, 39316, 40286, 41246, 42196, 43137,
    44068, 44990, 45904, 46809, 47705, 48593, 49472, 50344, 51207, 52063, 52911, 53751,
    54584, 55410, 56229, 57040, 57845, 58643, 59434, 60219, 60997, 61769, 62534, 63294,
    64047, 64794, 65536,
};

/* 2^(-u / 2^16) in Q30 for u >= 0. */
int64_t mt_exp2_q30(int64_t u)
{
    if (u < 0) return Q30;
    int64_t k = u >> 16;
    if (k >= 31) return 0;
    int i = (int)((u & 0xFFFF) >> 10);
    int64_t f = u & 1023, hi = exp2_table[i], lo = exp2_table[i + 1];
    return (hi - (((hi - lo) * f + 512) >> 10)) >> k;
}

/* log2(p / 2^30) in Q16 for p in [1, 2^30]. */
int64_t mt_log2_q16(int64_t p)
{
    int b = mt_bitlen((uint64_t)p) - 1;
    int64_t m = (p << (30 - b)) - Q30;
    int i = (int)(m >> 24);
    int64_t f = (m >> 14) & 1023, lo = log2_table[i], hi = log2_table[i + 1];
    return (int64_t)(b - 30) * 65536 + lo + mt_floor_shift((hi - lo) * f + 512, 10);
}

/* float32 bits of v / 2^frac_bits (v >= 0), rounded to nearest even. */
uint32_t mt_q_to_f32_bits(int64_t v, int frac_bits)
{
    if (v <= 0) return 0;
    int b = mt_bitlen((uint64_t)v) - 1;
    uint64_t mant;
    if (b <= 23) {
        mant = (uint64_t)v << (23 - b);
    } else {
        int sh = b - 23;
        uint64_t rem = (uint64_t)v & (((uint64_t)1 << sh) - 1), half = (uint64_t)1 << (sh - 1);
        mant = (uint64_t)v >> sh;
        if (rem > half || (rem == half && (mant & 1))) mant++;
        if (mant == ((uint64_t)1 << 24)) {
            mant >>= 1;
            b++;
        }
    }
    return ((uint32_t)(b - frac_bits + 127) << 23) | (uint32_t)(mant & 0x7FFFFF);
}

static int label_of(const int32_t *labels, int r, int f)
{
    int32_t c = labels[r];
    return (c >= 0 && c < f) ? c : -1;
}

#define QCE_ROW_EXP(NAME, T)                                                          \
/* e_j into p, returns the row's first argmax; *sum gets sum_j e_j. */                \
static int NAME(const T *z, int32_t *p, int f, int32_t mz, int32_t shz, int64_t *sum) \
{                                                                                     \
    int best = 0;                                                                     \
    for (int j = 1; j < f; j++)                                                       \
        if (z[j] > z[best]) best = j;                                                 \
    *sum = 0;                                                                         \
    for (int j = 0; j < f; j++) {                                                     \
        int64_t t = mt_requant((int64_t)z[best] - z[j], mz, shz);                     \
        if (t > T_CAP) t = T_CAP;                                                     \
        p[j] = (int32_t)mt_exp2_q30(mt_floor_shift(t * LOG2E_Q16, 16));               \
        *sum += p[j];                                                                 \
    }                                                                                 \
    return best;                                                                      \
}

QCE_ROW_EXP(row_exp8, int8_t)
QCE_ROW_EXP(row_exp16, int16_t)

void mt_qce_softmax_fwd(int e, const void *z, const int32_t *labels, int32_t *p,
                        uint32_t *metrics, int n, int f, int32_t mz, int32_t shz)
{
    int64_t total = 0, correct = 0, sum;
    for (int r = 0; r < n; r++) {
        int32_t *pr = p + (long)r * f;
        int best = e == 1 ? row_exp8((const int8_t *)z + (long)r * f, pr, f, mz, shz, &sum)
                          : row_exp16((const int16_t *)z + (long)r * f, pr, f, mz, shz, &sum);
        for (int j = 0; j < f; j++) pr[j] = (int32_t)mt_div_round((int64_t)pr[j] * Q30, sum);
        int c = label_of(labels, r, f);
        if (c < 0) continue;
        int64_t pc = pr[c] < 1 ? 1 : pr[c];
        total += mt_floor_shift(-mt_log2_q16(pc) * LN2_Q16 + (1 << 15), 16);
        correct += best == c;
    }
    metrics[0] = mt_q_to_f32_bits(mt_div_round(total, n), 16);
    metrics[1] = mt_q_to_f32_bits(correct, 0);
}

/* dz = (p - onehot) / N in g16 with exponent -15 - c2, 2^c2 <= N. */
void mt_qce_softmax_deriv(const int32_t *p, const int32_t *labels, void *dz, int n, int f)
{
    int c2 = mt_bitlen((uint64_t)n) - 1;
    int16_t *vals = mt_g16_vals(dz);
    for (int r = 0; r < n; r++) {
        int c = label_of(labels, r, f);
        for (int j = 0; j < f; j++) {
            long i = (long)r * f + j;
            int64_t d = c < 0 ? 0 : (int64_t)p[i] - (j == c ? Q30 : 0);
            vals[i] = mt_sat16(mt_div_round(d * ((int64_t)1 << c2), (int64_t)n << 15));
        }
    }
    mt_g16_set_exp(dz, -15 - c2);
}
