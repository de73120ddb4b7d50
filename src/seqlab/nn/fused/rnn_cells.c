/* The time steps of the custom LSTM, GRU and Elman cells, forward and backward, for the
 * explicit backward through time of seqlab/nn/fused/bptt.py.
 *
 * Per step one GEMM (a = (h_{t-1} ⊙ m) W_hh^T forward, R = da_t W_hh backward; the whole
 * time loop is here, *_seq below, or in Python where no BLAS is found) and one pass over
 * each batch row for everything else of the step: layer norms, gates, peepholes, the
 * recurrent-dropout mask m, the lengths mask. The equations are those of
 * seqlab/nn/cells.py (gx_t = W_ih x_t, normalized here in place where LN_ih is on):
 *
 *   LSTM:  z = [LN_ih](gx_t) + bias + LN_hh(a_t)      (bias = b_ih + b_hh [+ β_ih])
 *          i = σ(z_i + p_i c_{t-1}),  f = σ(z_f + p_f c_{t-1}),  g = tanh(z_g)
 *          c_t = f c_{t-1} + i g,     o = σ(z_o + p_o c_t)
 *          h_t = o tanh(LN_c(c_t))
 *   GRU:   gh = LN_hh(a_t) + b_hh,   gx' = [LN_ih](gx_t) + bias  (bias = b_ih [+ β_ih])
 *          r = σ(gx'_r + gh_r),  z = σ(gx'_z + gh_z),  n = tanh(gx'_n + r gh_n)
 *          h_t = (1 - z) n + z h_{t-1}
 *
 * bias (optional) is the constant part of the input half, added here rather than as one
 * more pass over the (T, B, G) projection (with layer norm: its shift β_ih and the biases).
 *
 * (LN, peepholes and m each optional; LN(v) = γ (v - mean v) / sqrt(var v + eps) + β over
 * the row, var biased, as F.layer_norm.) The forward saves what the backward reads:
 * activations, states, normalized values and their 1/std. The backward is the chain rule
 * of the same lines in reverse; with dh = G the gradient reaching h_t:
 *
 *   LSTM:  dtc = dh o,  do = dh tanh(LN_c c) o (1-o),  dcn = dtc (1 - tanh²),
 *          dc = LN_c'(dcn) + p_o do + dc_{t+1},  di = dc g i (1-i),  df = dc c_{t-1} f (1-f),
 *          dg = dc i (1-g²),  dc_{t-1} = dc f + p_i di + p_f df
 *   GRU:   dn = dh (1-z) (1-n²),  dz = dh (h_{t-1} - n) z (1-z),  dr = dn gh_n r (1-r),
 *          dgh = [dr, dz, dn r],  dgx = [dr, dz, dn],  dh_{t-1} = dh z + (da W_hh) m
 *
 *   LN'(dy) = rstd (dŷ - mean dŷ - ŷ mean(dŷ ŷ)),  dŷ = γ dy   (ŷ the normalized value)
 *
 * With keep = 0 (a forward that no backward follows) the step buffers hold one step
 * (rows b, not t * B + b) and c and h ⊙ m a ring of two steps (t mod 2): inference
 * touches a few hundred KB instead of T steps of activations.
 *
 * Padding steps (valid[t, b] = 0) keep the state and pass the gradient through untouched.
 * sigmoid and tanh use exp_() below, a range-reduced polynomial that gcc vectorizes
 * (libm's exp is a call per element); it is within 2 ulp of exp. All buffers are
 * time-major and contiguous: (T, B, n) holds step t's rows at t * B * n. Compiled once per
 * element type with -DREAL=float -DRBITS=32 or -DREAL=double -DRBITS=64 (build.py).
 */
#define _DEFAULT_SOURCE /* madvise and MADV_HUGEPAGE under -std=c11 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#ifndef REAL
#error "compile with -DREAL=float -DRBITS=32 or -DREAL=double -DRBITS=64"
#endif

/* Floating-point exceptions are never trapped here, so gcc may compute both sides of a
 * select (the clamp in exp_) and vectorize the loops; the results are the same IEEE ones. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(NO_CLONES)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

/* Shared by the steps of every cell; always inlined, so each target clone vectorizes them. */
#define INLINE static inline __attribute__((always_inline))

/* Where row b of step t is. row: in the buffers that hold every step ((T, B, n), and h at
 * row + B); srow: in the step buffers (row with keep, else b: one step held); prev, next:
 * the states before and after the step in c and h ⊙ m (row and row + B with keep, else a
 * ring of two steps, t mod 2). */
typedef struct {
    int64_t row, srow, prev, next;
} place;

INLINE place place_of(int64_t keep, int64_t t, int64_t B, int64_t b) {
    const int64_t row = t * B + b;
    const place p = {row, keep ? row : b, keep ? row : (t % 2) * B + b,
                     keep ? row + B : ((t + 1) % 2) * B + b};
    return p;
}

/* The state rows from row b on that enter W_hh at step t: h_{t-1}, or h_{t-1} m (a ring of
 * two without keep); any cell's struct (the fields mask, hm, h, keep, B, H). */
#define OPERAND(s, t, b)                                                                     \
    ((s)->mask ? (s)->hm + (((s)->keep ? (t) : (t) % 2) * (s)->B + (b)) * (s)->H             \
               : (s)->h + ((t) * (s)->B + (b)) * (s)->H)

/* A padding step (valid[row] = 0)? It keeps the state and passes the gradient through. */
INLINE int padding(const uint8_t *valid, int64_t row) { return valid && !valid[row]; }

/* Padding, forward: h_t = h_{t-1}, and h ⊙ m with it (hm NULL without recurrent dropout). */
INLINE void hold_state(REAL *h, REAL *hm, place p, int64_t B, int64_t H) {
    memcpy(h + (p.row + B) * H, h + p.row * H, H * sizeof(REAL));
    if (hm) memcpy(hm + p.next * H, hm + p.prev * H, H * sizeof(REAL));
}

/* The state that enters W_hh at the next step, h_t ⊙ m, when there is a mask m (B, H). */
INLINE void mask_state(REAL *restrict hm, const REAL *restrict h, const REAL *restrict m,
                       place p, int64_t b, int64_t H) {
    if (!m) return;
    hm += p.next * H;
    m += b * H;
    for (int64_t j = 0; j < H; j++) hm[j] = h[j] * m[j];
}

/* dL/dh_t of row b into G's row (returned): the output's gradient plus what came back
 * through W_hh, R = d_{t+1} W_hh, masked when the forward pass masked h_t there. */
INLINE REAL *incoming(REAL *G, const REAL *dout, const REAL *R, const REAL *m, place p,
                      int64_t b, int64_t H) {
    REAL *restrict dh = G + b * H;
    const REAL *restrict d = dout + p.row * H, *restrict r = R + b * H;
    if (m) {
        const REAL *restrict mb = m + b * H;
        for (int64_t j = 0; j < H; j++) dh[j] += d[j] + r[j] * mb[j];
    } else {
        for (int64_t j = 0; j < H; j++) dh[j] += d[j] + r[j];
    }
    return dh;
}

#if RBITS == 64
typedef uint64_t UINT;
#define MANT 52
#define EXP_BIAS 1023
#define EXP_MAX 709.0
#define EXP_MIN -708.0
#define SHIFTER 6755399441055744.0 /* 1.5 * 2^52: x + SHIFTER rounds x to an integer */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#else
typedef uint32_t UINT;
#define MANT 23
#define EXP_BIAS 127
#define EXP_MAX 88.0f
#define EXP_MIN -87.0f
#define SHIFTER 12582912.0f /* 1.5 * 2^23 */
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
#endif
#define LOG2E ((REAL)1.44269504088896340736)

/* exp(x) = 2^n e^r, n = round(x / ln 2), |r| <= ln2 / 2, e^r by its Taylor polynomial
 * (degree 13 in double: truncation error below half an ulp; degree 6 in float: below
 * 1.3e-7 relative, about one ulp). */
static inline REAL exp_(REAL x) {
    x = x > EXP_MAX ? EXP_MAX : (x < EXP_MIN ? EXP_MIN : x);
    REAL kd = x * LOG2E + SHIFTER;
    REAL n = kd - SHIFTER;
    REAL r = (x - n * LN2_HI) - n * LN2_LO;
#if RBITS == 64
    REAL p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
#else
    REAL p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
#endif
    p = p * r + (REAL)(1.0 / 24.0);
    p = p * r + (REAL)(1.0 / 6.0);
    p = p * r + (REAL)0.5;
    p = p * r + (REAL)1.0;
    p = p * r + (REAL)1.0;
    UINT kbits, sbits;
    REAL s = SHIFTER, scale;
    memcpy(&kbits, &kd, sizeof kbits);
    memcpy(&sbits, &s, sizeof sbits);
    UINT e = (kbits - sbits + (UINT)EXP_BIAS) << MANT; /* the bits of 2^n */
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline REAL sigmoid_(REAL x) { return (REAL)1 / ((REAL)1 + exp_(-x)); }
static inline REAL tanh_(REAL x) { return (REAL)1 - (REAL)2 / (exp_((REAL)2 * x) + (REAL)1); }
/* The derivatives from the activation's value y: σ' = y (1 - y), tanh' = 1 - y². */
static inline REAL dsigmoid(REAL y) { return y * ((REAL)1 - y); }
static inline REAL dtanh(REAL y) { return (REAL)1 - y * y; }

/* Row reductions in LANES independent partial sums: without -ffast-math gcc keeps a plain
 * sum serial (one add per latency), while LANES sums vectorize; the order of the additions
 * differs from torch's, which is within rounding. */
#define LANES 16

/* Σ_j x_j y_j (y NULL: Σ_j x_j) */
static inline REAL dot(const REAL *restrict x, const REAL *restrict y, int64_t n) {
    REAL acc[LANES] = {0};
    int64_t j = 0;
    if (y) {
        for (; j + LANES <= n; j += LANES)
            for (int k = 0; k < LANES; k++) acc[k] += x[j + k] * y[j + k];
        for (; j < n; j++) acc[0] += x[j] * y[j];
    } else {
        for (; j + LANES <= n; j += LANES)
            for (int k = 0; k < LANES; k++) acc[k] += x[j + k];
        for (; j < n; j++) acc[0] += x[j];
    }
    REAL total = 0;
    for (int k = 0; k < LANES; k++) total += acc[k];
    return total;
}

/* Normalize row v (n) in place: v <- (v - mean) * rstd; returns rstd. */
static inline REAL normalize(REAL *restrict v, int64_t n, REAL eps) {
    REAL mean = dot(v, NULL, n) / (REAL)n;
    for (int64_t j = 0; j < n; j++) v[j] -= mean;
    REAL rstd = (REAL)1 / sqrt(dot(v, v, n) / (REAL)n + eps);
    for (int64_t j = 0; j < n; j++) v[j] *= rstd;
    return rstd;
}

/* The rest of LN' once d holds dŷ = γ dy: d <- rstd (dŷ - mean dŷ - ŷ mean(dŷ ŷ)). */
static inline void ln_backward_rest(REAL *restrict d, const REAL *restrict y, REAL rstd,
                                    int64_t n) {
    REAL m1 = dot(d, NULL, n) / (REAL)n, m2 = dot(d, y, n) / (REAL)n;
    for (int64_t j = 0; j < n; j++) d[j] = rstd * (d[j] - m1 - y[j] * m2);
}

/* dx (n) = LN'(dy), dx not dy; dx holds dŷ in between. */
static inline void normalize_backward(REAL *restrict dx, const REAL *restrict dy,
                                      const REAL *restrict y, const REAL *restrict gamma,
                                      REAL rstd, int64_t n) {
    for (int64_t j = 0; j < n; j++) dx[j] = dy[j] * gamma[j];
    ln_backward_rest(dx, y, rstd, n);
}

/* d (n) <- LN'(d), in place. */
static inline void normalize_backward_in_place(REAL *restrict d, const REAL *restrict y,
                                               const REAL *restrict gamma, REAL rstd,
                                               int64_t n) {
    for (int64_t j = 0; j < n; j++) d[j] *= gamma[j];
    ln_backward_rest(d, y, rstd, n);
}

/* Layer norm of the input half, in the step: gx's row (W_ih x_t) is normalized in place
 * (to ŷ_ih, which the backward reads), and the gates get γ_ih ŷ_ih (its shift β_ih rides
 * in bias). Without LN_ih (gamma NULL) gx is the input half as it is. */
INLINE void input_norm(REAL *restrict gx, const REAL *gamma, REAL *rstd, int64_t srow,
                       REAL eps, int64_t n) {
    if (gamma) rstd[srow] = normalize(gx, n, eps);
}
INLINE REAL gin(const REAL *restrict gx, const REAL *restrict gamma, int64_t j) {
    return gamma ? gx[j] * gamma[j] : gx[j];
}

/* acc (n) += x y elementwise (y NULL: += x), in double: a parameter's gradient sums T B
 * rows, and a float sum of that many terms would lose digits. */
static inline void accumulate(double *restrict acc, const REAL *restrict x,
                              const REAL *restrict y, int64_t n) {
    if (y) {
        for (int64_t j = 0; j < n; j++) acc[j] += (double)x[j] * (double)y[j];
    } else {
        for (int64_t j = 0; j < n; j++) acc[j] += (double)x[j];
    }
}

/* The parameter gradients that are sums over steps and rows, accumulated by the backward
 * steps (one block of LSTM_SUMS(H) / GRU_SUMS(H) doubles per thread), at these offsets:
 *   LSTM:  Σ dgx (4H) | Σ di c_{t-1}, Σ df c_{t-1}, Σ do c_t (3H, peepholes)
 *          | Σ dgx â (4H, LN_hh's gain) | Σ dcn ĉ, Σ dcn (H each, LN_c's gain and shift)
 *          | Σ dgx ŷ_ih (4H, LN_ih's gain)
 *   GRU:   Σ dgx (3H) | Σ dgh (3H) | Σ dgh â (3H, LN_hh's gain) | Σ dgx ŷ_ih (3H, LN_ih's)
 * (Σ dgx is also the gradient of the norms' shifts: they enter the gates as a plain sum.)
 * dgx is the gradient of the gates' input half, γ_ih ŷ_ih + bias; with LN_ih the step
 * turns it into that of W_ih x_t (LN_ih') after the sums. */
#define LSTM_SUMS(H) (17 * (H))
#define GRU_SUMS(H) (12 * (H))

typedef struct {
    int64_t B, H;
    int64_t keep; /* 1: one row per step in the step buffers (for backward); 0: see below */
    REAL eps;
    /* weights (NULL when the option is off) */
    const REAL *bias;               /* (4H): added to gx */
    const REAL *peep;               /* (3H): p_i, p_f, p_o */
    const REAL *ln_ih_w;            /* (4H): LN_ih's gain (its shift is in bias) */
    const REAL *ln_hh_w, *ln_hh_b;  /* (4H) */
    const REAL *ln_c_w, *ln_c_b;    /* (H) */
    const REAL *mask;               /* (B, H) recurrent dropout, already scaled */
    const uint8_t *valid;           /* (T, B) or NULL: every step real */
    /* forward buffers */
    REAL *gx;                       /* (T, B, 4H): W_ih x_t [+ b]; LN_ih's ŷ after the step */
    REAL *rstd_ih;                  /* (T, B): LN_ih's 1/std */
    REAL *a;                        /* (T, B, 4H): W_hh (h m) in, LN_hh's ŷ out; (B, 4H) without LN_hh */
    REAL *rstd_a;                   /* (T, B) */
    REAL *act;                      /* (T, B, 4H): i, f, g, o after σ / tanh */
    REAL *c;                        /* (T+1, B, H) */
    REAL *h;                        /* (T+1, B, H) */
    REAL *hm;                       /* (T+1, B, H): h m, when mask */
    REAL *tc;                       /* (T, B, H): tanh(LN_c(c_t)) */
    REAL *chat;                     /* (T, B, H): normalized c_t, with LN_c */
    REAL *rstd_c;                   /* (T, B) */
    /* backward buffers */
    const REAL *dh_out;             /* (T, B, H): gradient of h_t from outside the cell */
    REAL *dgx;                      /* (T, B, 4H): gradient of gx (= of the gates' input) */
    REAL *da;                       /* (T, B, 4H): of a, with LN_hh (else it is dgx) */
    REAL *dcn;                      /* (T, B, H): of LN_c's output, with LN_c */
    const REAL *R;                  /* (B, H): da_{t+1} W_hh */
    REAL *G;                        /* (B, H): gradient carried to h_t past the GEMM */
    REAL *dc;                       /* (B, H): gradient of c_t, in; of c_{t-1}, out */
    double *sums;                   /* (threads, LSTM_SUMS(H)), zeroed: see LSTM_SUMS */
    int64_t gx_now;                 /* 1: gx is (B, G), step t's rows only (inference) */
} lstm_seq;

VECTOR_CLONES
void lstm_forward_rows(const lstm_seq *s, int64_t t, int64_t b0, int64_t b1) {
    const int64_t B = s->B, H = s->H, G4 = 4 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(s->keep, t, B, b);
        const int64_t srow = p.srow;
        const REAL *restrict c_prev = s->c + p.prev * H;
        REAL *restrict c = s->c + p.next * H;
        REAL *restrict h = s->h + (p.row + B) * H;
        if (padding(s->valid, p.row)) { /* the state stays */
            memcpy(c, c_prev, H * sizeof(REAL));
            hold_state(s->h, s->hm, p, B, H);
            continue;
        }
        REAL *restrict gx = s->gx + (s->gx_now ? b : p.row) * G4;
        REAL *restrict a = s->a + (s->ln_hh_w ? srow : b) * G4; /* kept only as LN's ŷ */
        REAL *restrict act = s->act + srow * G4;
        const REAL *restrict g_ih = s->ln_ih_w;
        input_norm(gx, g_ih, s->rstd_ih, srow, s->eps, G4);
        if (s->ln_hh_w) {
            s->rstd_a[srow] = normalize(a, G4, s->eps);
            for (int64_t j = 0; j < G4; j++)
                act[j] = gin(gx, g_ih, j) + a[j] * s->ln_hh_w[j] + s->ln_hh_b[j];
        } else {
            for (int64_t j = 0; j < G4; j++) act[j] = gin(gx, g_ih, j) + a[j];
        }
        if (s->bias)
            for (int64_t j = 0; j < G4; j++) act[j] += s->bias[j];
        REAL *restrict ai = act, *restrict af = act + H, *restrict ag = act + 2 * H;
        REAL *restrict ao = act + 3 * H;
        if (s->peep) {
            const REAL *p = s->peep;
            for (int64_t j = 0; j < H; j++) {
                ai[j] += p[j] * c_prev[j];
                af[j] += p[H + j] * c_prev[j];
            }
        }
        for (int64_t j = 0; j < H; j++) {
            ai[j] = sigmoid_(ai[j]);
            af[j] = sigmoid_(af[j]);
            ag[j] = tanh_(ag[j]);
            c[j] = af[j] * c_prev[j] + ai[j] * ag[j];
        }
        if (s->peep)
            for (int64_t j = 0; j < H; j++) ao[j] += s->peep[2 * H + j] * c[j];
        REAL *restrict tc = s->tc + srow * H;
        if (s->ln_c_w) {
            REAL *restrict ch = s->chat + srow * H;
            memcpy(ch, c, H * sizeof(REAL));
            s->rstd_c[srow] = normalize(ch, H, s->eps);
            for (int64_t j = 0; j < H; j++) tc[j] = tanh_(ch[j] * s->ln_c_w[j] + s->ln_c_b[j]);
        } else {
            for (int64_t j = 0; j < H; j++) tc[j] = tanh_(c[j]);
        }
        for (int64_t j = 0; j < H; j++) {
            ao[j] = sigmoid_(ao[j]);
            h[j] = ao[j] * tc[j];
        }
        mask_state(s->hm, h, s->mask, p, b, H);
    }
}

VECTOR_CLONES
void lstm_backward_rows(const lstm_seq *s, int64_t t, int64_t b0, int64_t b1, double *acc) {
    const int64_t B = s->B, H = s->H, G4 = 4 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(1, t, B, b);
        const int64_t row = p.row;
        REAL *restrict dh = incoming(s->G, s->dh_out, s->R, s->mask, p, b, H);
        REAL *restrict dgx = s->dgx + row * G4;
        if (padding(s->valid, row)) { /* dh and dc pass to step t-1 as they are */
            memset(dgx, 0, G4 * sizeof(REAL));
            if (s->ln_hh_w) memset(s->da + row * G4, 0, G4 * sizeof(REAL));
            if (s->ln_c_w) memset(s->dcn + row * H, 0, H * sizeof(REAL));
            continue;
        }
        const REAL *act = s->act + row * G4;
        const REAL *ai = act, *af = act + H, *ag = act + 2 * H, *ao = act + 3 * H;
        const REAL *restrict tc = s->tc + row * H;
        const REAL *restrict c_prev = s->c + row * H;
        REAL *restrict dc = s->dc + b * H;
        REAL *restrict di = dgx, *restrict df = dgx + H, *restrict dg = dgx + 2 * H;
        REAL *restrict d_o = dgx + 3 * H;
        /* dc_new (in dg, as scratch): through h = o tanh(LN_c c) */
        for (int64_t j = 0; j < H; j++) {
            d_o[j] = dh[j] * tc[j] * dsigmoid(ao[j]);
            dg[j] = dh[j] * ao[j] * dtanh(tc[j]);
        }
        if (s->ln_c_w) {
            REAL *restrict dcn = s->dcn + row * H;
            memcpy(dcn, dg, H * sizeof(REAL));
            normalize_backward(dg, dcn, s->chat + row * H, s->ln_c_w, s->rstd_c[row], H);
        }
        if (s->peep) {
            const REAL *p = s->peep;
            for (int64_t j = 0; j < H; j++) dg[j] += p[2 * H + j] * d_o[j];
        }
        for (int64_t j = 0; j < H; j++) dc[j] += dg[j]; /* dc <- the whole gradient of c_t */
        for (int64_t j = 0; j < H; j++) {
            di[j] = dc[j] * ag[j] * dsigmoid(ai[j]);
            df[j] = dc[j] * c_prev[j] * dsigmoid(af[j]);
            dg[j] = dc[j] * ai[j] * dtanh(ag[j]);
        }
        for (int64_t j = 0; j < H; j++) dc[j] *= af[j];
        if (s->peep) {
            const REAL *p = s->peep;
            for (int64_t j = 0; j < H; j++) dc[j] += p[j] * di[j] + p[H + j] * df[j];
        }
        if (s->ln_hh_w)
            normalize_backward(s->da + row * G4, dgx, s->a + row * G4, s->ln_hh_w, s->rstd_a[row], G4);
        else if (s->da != s->dgx) /* da is its own buffer where LN_ih rewrites dgx below */
            memcpy(s->da + row * G4, dgx, G4 * sizeof(REAL));
        memset(dh, 0, H * sizeof(REAL)); /* what reaches h_{t-1} now goes through R */
        accumulate(acc, dgx, NULL, G4);
        if (s->peep) {
            accumulate(acc + 4 * H, di, c_prev, H);
            accumulate(acc + 5 * H, df, c_prev, H);
            accumulate(acc + 6 * H, d_o, s->c + (row + B) * H, H);
        }
        if (s->ln_hh_w) accumulate(acc + 7 * H, dgx, s->a + row * G4, G4);
        if (s->ln_c_w) {
            accumulate(acc + 11 * H, s->dcn + row * H, s->chat + row * H, H);
            accumulate(acc + 12 * H, s->dcn + row * H, NULL, H);
        }
        if (s->ln_ih_w) { /* dgx <- the gradient of W_ih x_t */
            const REAL *restrict y = s->gx + row * G4;
            accumulate(acc + 13 * H, dgx, y, G4);
            normalize_backward_in_place(dgx, y, s->ln_ih_w, s->rstd_ih[row], G4);
        }
    }
}

typedef struct {
    int64_t B, H;
    int64_t keep; /* 1: one row per step in the step buffers (for backward); 0: see below */
    REAL eps;
    const REAL *bias;               /* (3H) or NULL: added to gx */
    const REAL *b_hh;               /* (3H) or NULL */
    const REAL *ln_ih_w;            /* (3H) or NULL: LN_ih's gain (its shift is in bias) */
    const REAL *ln_hh_w, *ln_hh_b;  /* (3H) or NULL */
    const REAL *mask;               /* (B, H) or NULL */
    const uint8_t *valid;           /* (T, B) or NULL */
    REAL *gx;                       /* (T, B, 3H): W_ih x_t [+ b_ih]; LN_ih's ŷ after the step */
    REAL *rstd_ih;                  /* (T, B): LN_ih's 1/std */
    REAL *a;                        /* (T, B, 3H): W_hh (h m) in, LN_hh's ŷ out; (B, 3H) without LN_hh */
    REAL *rstd_a;                   /* (T, B) */
    REAL *act;                      /* (T, B, 3H): r, z, n */
    REAL *ghn;                      /* (T, B, H): gh_n, the n-part of LN_hh(a) + b_hh */
    REAL *h;                        /* (T+1, B, H) */
    REAL *hm;                       /* (T+1, B, H), when mask */
    const REAL *dh_out;             /* (T, B, H) */
    REAL *dgx;                      /* (T, B, 3H) */
    REAL *dgh;                      /* (T, B, 3H): gradient of gh */
    REAL *da;                       /* (T, B, 3H): of a, with LN_hh (else it is dgh) */
    const REAL *R;                  /* (B, H) */
    REAL *G;                        /* (B, H) */
    double *sums;                   /* (threads, GRU_SUMS(H)), zeroed: see LSTM_SUMS */
    int64_t gx_now;                 /* 1: gx is (B, G), step t's rows only (inference) */
} gru_seq;

VECTOR_CLONES
void gru_forward_rows(const gru_seq *s, int64_t t, int64_t b0, int64_t b1) {
    const int64_t B = s->B, H = s->H, G3 = 3 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(s->keep, t, B, b);
        const int64_t srow = p.srow;
        if (padding(s->valid, p.row)) {
            hold_state(s->h, s->hm, p, B, H);
            continue;
        }
        const REAL *restrict h_prev = s->h + p.row * H;
        REAL *restrict h = s->h + (p.row + B) * H;
        REAL *restrict gx = s->gx + (s->gx_now ? b : p.row) * G3;
        REAL *restrict a = s->a + (s->ln_hh_w ? srow : b) * G3;
        const REAL *restrict g_ih = s->ln_ih_w;
        input_norm(gx, g_ih, s->rstd_ih, srow, s->eps, G3);
        REAL *restrict act = s->act + srow * G3;
        REAL *restrict ghn = s->ghn + srow * H;
        if (s->ln_hh_w) s->rstd_a[srow] = normalize(a, G3, s->eps);
        /* act <- gh = LN_hh(a) + b_hh */
        if (s->ln_hh_w)
            for (int64_t j = 0; j < G3; j++) act[j] = a[j] * s->ln_hh_w[j] + s->ln_hh_b[j];
        else
            memcpy(act, a, G3 * sizeof(REAL));
        if (s->b_hh)
            for (int64_t j = 0; j < G3; j++) act[j] += s->b_hh[j];
        if (s->bias) /* act <- gx' + gh for r and z; gx'_n + r gh_n below */
            for (int64_t j = 0; j < 2 * H; j++) act[j] += gin(gx, g_ih, j) + s->bias[j];
        else
            for (int64_t j = 0; j < 2 * H; j++) act[j] += gin(gx, g_ih, j);
        for (int64_t j = 0; j < H; j++) { /* ghn <- gh_n; act_n <- gx'_n */
            ghn[j] = act[2 * H + j];
            act[2 * H + j] = gin(gx, g_ih, 2 * H + j);
        }
        if (s->bias)
            for (int64_t j = 0; j < H; j++) act[2 * H + j] += s->bias[2 * H + j];
        for (int64_t j = 0; j < 2 * H; j++) act[j] = sigmoid_(act[j]); /* r, z */
        const REAL *restrict r = act, *restrict z = act + H;
        REAL *restrict n = act + 2 * H;
        for (int64_t j = 0; j < H; j++) {
            n[j] = tanh_(n[j] + r[j] * ghn[j]);
            h[j] = ((REAL)1 - z[j]) * n[j] + z[j] * h_prev[j];
        }
        mask_state(s->hm, h, s->mask, p, b, H);
    }
}

VECTOR_CLONES
void gru_backward_rows(const gru_seq *s, int64_t t, int64_t b0, int64_t b1, double *acc) {
    const int64_t B = s->B, H = s->H, G3 = 3 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(1, t, B, b);
        const int64_t row = p.row;
        REAL *restrict dh = incoming(s->G, s->dh_out, s->R, s->mask, p, b, H);
        REAL *restrict dgx = s->dgx + row * G3;
        REAL *restrict dgh = s->dgh + row * G3;
        if (padding(s->valid, row)) {
            memset(dgx, 0, G3 * sizeof(REAL));
            memset(dgh, 0, G3 * sizeof(REAL));
            if (s->ln_hh_w) memset(s->da + row * G3, 0, G3 * sizeof(REAL));
            continue;
        }
        const REAL *act = s->act + row * G3;
        const REAL *r = act, *z = act + H, *n = act + 2 * H;
        const REAL *restrict ghn = s->ghn + row * H;
        const REAL *restrict h_prev = s->h + row * H;
        for (int64_t j = 0; j < H; j++) {
            REAL dn = dh[j] * ((REAL)1 - z[j]) * dtanh(n[j]);
            REAL dz = dh[j] * (h_prev[j] - n[j]) * dsigmoid(z[j]);
            REAL dr = dn * ghn[j] * dsigmoid(r[j]);
            dgx[j] = dr;
            dgx[H + j] = dz;
            dgx[2 * H + j] = dn;
            dgh[j] = dr;
            dgh[H + j] = dz;
            dgh[2 * H + j] = dn * r[j];
            dh[j] *= z[j]; /* the direct path h_{t-1} -> z h_{t-1} */
        }
        if (s->ln_hh_w)
            normalize_backward(s->da + row * G3, dgh, s->a + row * G3, s->ln_hh_w, s->rstd_a[row], G3);
        accumulate(acc, dgx, NULL, G3);
        accumulate(acc + G3, dgh, NULL, G3);
        if (s->ln_hh_w) accumulate(acc + 2 * G3, dgh, s->a + row * G3, G3);
        if (s->ln_ih_w) { /* dgx <- the gradient of W_ih x_t (da is not dgx here) */
            const REAL *restrict y = s->gx + row * G3;
            accumulate(acc + 3 * G3, dgx, y, G3);
            normalize_backward_in_place(dgx, y, s->ln_ih_w, s->rstd_ih[row], G3);
        }
    }
}

/* Elman:  h_t = act(gx_t + bias + a_t),  a_t = (h_{t-1} m) W_hh^T,  act tanh or ReLU
 *         (gx_t + bias = W_ih x_t + b_ih + b_hh); dpre = dh act'(h_t): 1 - h_t² or [h_t > 0].
 * torch's kernels run it without recurrent dropout; this one is for the mask m. */
typedef struct {
    int64_t B, H;
    int64_t keep, relu;             /* relu: 1 for ReLU, 0 for tanh */
    const REAL *bias;               /* (H) or NULL: added to gx */
    const REAL *mask;               /* (B, H) or NULL */
    const uint8_t *valid;           /* (T, B) or NULL */
    const REAL *gx;                 /* (T, B, H) */
    REAL *a;                        /* (B, H): W_hh (h m), one step */
    REAL *h;                        /* (T+1, B, H) */
    REAL *hm;                       /* (T+1, B, H), when mask (a ring of two without keep) */
    const REAL *dh_out;             /* (T, B, H) */
    REAL *dgx;                      /* (T, B, H): gradient of the pre-activation */
    const REAL *R;                  /* (B, H) */
    REAL *G;                        /* (B, H) */
    double *sums;                   /* (threads, H): Σ dgx, the biases' gradient */
    int64_t gx_now;                 /* 1: gx is (B, G), step t's rows only (inference) */
} elman_seq;

VECTOR_CLONES
void elman_forward_rows(const elman_seq *s, int64_t t, int64_t b0, int64_t b1) {
    const int64_t B = s->B, H = s->H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(s->keep, t, B, b);
        if (padding(s->valid, p.row)) {
            hold_state(s->h, s->hm, p, B, H);
            continue;
        }
        REAL *restrict h = s->h + (p.row + B) * H;
        const REAL *restrict gx = s->gx + (s->gx_now ? b : p.row) * H, *restrict a = s->a + b * H;
        if (s->bias) {
            for (int64_t j = 0; j < H; j++) h[j] = gx[j] + a[j] + s->bias[j];
        } else {
            for (int64_t j = 0; j < H; j++) h[j] = gx[j] + a[j];
        }
        if (s->relu) {
            for (int64_t j = 0; j < H; j++) h[j] = h[j] > 0 ? h[j] : (REAL)0;
        } else {
            for (int64_t j = 0; j < H; j++) h[j] = tanh_(h[j]);
        }
        mask_state(s->hm, h, s->mask, p, b, H);
    }
}

VECTOR_CLONES
void elman_backward_rows(const elman_seq *s, int64_t t, int64_t b0, int64_t b1, double *acc) {
    const int64_t B = s->B, H = s->H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(1, t, B, b);
        REAL *restrict dh = incoming(s->G, s->dh_out, s->R, s->mask, p, b, H);
        REAL *restrict dgx = s->dgx + p.row * H;
        if (padding(s->valid, p.row)) {
            memset(dgx, 0, H * sizeof(REAL));
            continue;
        }
        const REAL *restrict h = s->h + (p.row + B) * H;
        if (s->relu) {
            for (int64_t j = 0; j < H; j++) dgx[j] = h[j] > 0 ? dh[j] : (REAL)0;
        } else {
            for (int64_t j = 0; j < H; j++) dgx[j] = dh[j] * dtanh(h[j]);
        }
        memset(dh, 0, H * sizeof(REAL));
        accumulate(acc, dgx, NULL, H);
    }
}

/* GRU with reset_after = 0 (Cho et al. 2014): the reset gate acts before W_hn, so each step
 * has two GEMMs, the second on the first's result:
 *   a_rz = hh W_rz^T,   r = σ(gx'_r + a_r),  z = σ(gx'_z + a_z),   q = r hh     (hh = h_{t-1} m)
 *   a_n  = q W_n^T,     n = tanh(gx'_n + a_n),   h_t = (1 - z) n + z h_{t-1}
 * (gx' = W_ih x_t + b_ih + b_hh: every bias is outside a product here.) The gates' input is
 * gx' + a, so dgx is also the gradient of a; backward, with dh = G:
 *   dn = dh (1-z)(1-n²),  dz = dh (h_{t-1} - n) z(1-z),  dq = dn W_n,
 *   dr = dq hh r(1-r),  dh_{t-1} = dh z + m (dq r + [dr, dz] W_rz)
 * Each step is two C calls around the GEMMs: _a before the second GEMM, _b after it. */
typedef struct {
    int64_t B, H;
    int64_t keep;
    REAL eps;                       /* unused: the struct starts as the others */
    const REAL *bias;               /* (3H) or NULL: added to gx */
    const REAL *mask;               /* (B, H) or NULL */
    const uint8_t *valid;           /* (T, B) or NULL */
    const REAL *gx;                 /* (T, B, 3H) */
    REAL *a;                        /* (B, 3H): [a_rz, a_n] of one step */
    REAL *act;                      /* (T, B, 3H): r, z, n; (B, 3H) without keep */
    REAL *q;                        /* (T, B, H): r hh, W_n's operand; (B, H) without keep */
    REAL *h;                        /* (T+1, B, H) */
    REAL *hm;                       /* (T+1, B, H), when mask */
    const REAL *dh_out;             /* (T, B, H) */
    REAL *dgx;                      /* (T, B, 3H): of the gates' input (= of a) */
    REAL *dq;                       /* (B, H): dn W_n */
    const REAL *R;                  /* (B, H): [dr, dz]_{t+1} W_rz */
    REAL *G;                        /* (B, H) */
    double *sums;                   /* (threads, 3H): Σ dgx */
    int64_t gx_now;                 /* 1: gx is (B, G), step t's rows only (inference) */
} gru_rb_seq;


VECTOR_CLONES
void gru_rb_forward_a(const gru_rb_seq *s, int64_t t, int64_t b0, int64_t b1) {
    const int64_t B = s->B, H = s->H, G3 = 3 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(s->keep, t, B, b);
        REAL *restrict q = s->q + p.srow * H;
        if (padding(s->valid, p.row)) {
            memset(q, 0, H * sizeof(REAL)); /* W_n's operand: 0, not stale, at padding */
            continue;
        }
        const REAL *restrict gx = s->gx + (s->gx_now ? b : p.row) * G3;
        const REAL *restrict a = s->a + b * G3, *restrict hh = OPERAND(s, t, b);
        REAL *restrict act = s->act + p.srow * G3;
        for (int64_t j = 0; j < 2 * H; j++) act[j] = gx[j] + a[j] + (s->bias ? s->bias[j] : 0);
        for (int64_t j = 0; j < 2 * H; j++) act[j] = sigmoid_(act[j]);
        for (int64_t j = 0; j < H; j++) q[j] = act[j] * hh[j];
    }
}

VECTOR_CLONES
void gru_rb_forward_b(const gru_rb_seq *s, int64_t t, int64_t b0, int64_t b1) {
    const int64_t B = s->B, H = s->H, G3 = 3 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(s->keep, t, B, b);
        if (padding(s->valid, p.row)) {
            hold_state(s->h, s->hm, p, B, H);
            continue;
        }
        const REAL *restrict h_prev = s->h + p.row * H;
        REAL *restrict h = s->h + (p.row + B) * H;
        const REAL *restrict gx = s->gx + (s->gx_now ? b : p.row) * G3 + 2 * H;
        const REAL *restrict a = s->a + b * G3 + 2 * H;
        const REAL *restrict bias = s->bias ? s->bias + 2 * H : NULL;
        REAL *restrict act = s->act + p.srow * G3;
        const REAL *restrict z = act + H;
        REAL *restrict n = act + 2 * H;
        for (int64_t j = 0; j < H; j++) n[j] = tanh_(gx[j] + a[j] + (bias ? bias[j] : 0));
        for (int64_t j = 0; j < H; j++) h[j] = ((REAL)1 - z[j]) * n[j] + z[j] * h_prev[j];
        mask_state(s->hm, h, s->mask, p, b, H);
    }
}

VECTOR_CLONES
void gru_rb_backward_a(const gru_rb_seq *s, int64_t t, int64_t b0, int64_t b1) {
    const int64_t B = s->B, H = s->H, G3 = 3 * H;
    for (int64_t b = b0; b < b1; b++) {
        const place p = place_of(1, t, B, b);
        REAL *restrict dh = incoming(s->G, s->dh_out, s->R, s->mask, p, b, H);
        REAL *restrict dgx = s->dgx + p.row * G3;
        if (padding(s->valid, p.row)) {
            memset(dgx, 0, G3 * sizeof(REAL));
            continue;
        }
        const REAL *act = s->act + p.row * G3, *z = act + H, *n = act + 2 * H;
        const REAL *restrict h_prev = s->h + p.row * H;
        for (int64_t j = 0; j < H; j++) {
            dgx[2 * H + j] = dh[j] * ((REAL)1 - z[j]) * dtanh(n[j]);
            dgx[H + j] = dh[j] * (h_prev[j] - n[j]) * dsigmoid(z[j]);
            dh[j] *= z[j]; /* the direct path h_{t-1} -> z h_{t-1} */
        }
    }
}

VECTOR_CLONES
void gru_rb_backward_b(const gru_rb_seq *s, int64_t t, int64_t b0, int64_t b1, double *acc) {
    const int64_t B = s->B, H = s->H, G3 = 3 * H;
    for (int64_t b = b0; b < b1; b++) {
        const int64_t row = t * B + b;
        if (padding(s->valid, row)) continue;
        REAL *restrict dgx = s->dgx + row * G3, *restrict dh = s->G + b * H;
        const REAL *restrict r = s->act + row * G3, *restrict dq = s->dq + b * H;
        const REAL *restrict hh = OPERAND(s, t, b), *restrict m = s->mask ? s->mask + b * H : NULL;
        for (int64_t j = 0; j < H; j++) dgx[j] = dq[j] * hh[j] * dsigmoid(r[j]);
        if (m) { /* q = r (h m): its gradient reaches h through m */
            for (int64_t j = 0; j < H; j++) dh[j] += dq[j] * r[j] * m[j];
        } else {
            for (int64_t j = 0; j < H; j++) dh[j] += dq[j] * r[j];
        }
        accumulate(acc, dgx, NULL, G3);
    }
}

/* One step of all rows: the per-step path of bptt.py, which runs the GEMM in PyTorch. */
void lstm_forward_step(const lstm_seq *s, int64_t t) { lstm_forward_rows(s, t, 0, s->B); }
void lstm_backward_step(const lstm_seq *s, int64_t t) {
    lstm_backward_rows(s, t, 0, s->B, s->sums);
}
void gru_forward_step(const gru_seq *s, int64_t t) { gru_forward_rows(s, t, 0, s->B); }
void gru_backward_step(const gru_seq *s, int64_t t) { gru_backward_rows(s, t, 0, s->B, s->sums); }
void elman_forward_step(const elman_seq *s, int64_t t) { elman_forward_rows(s, t, 0, s->B); }
void gru_rb_forward_step_a(const gru_rb_seq *s, int64_t t) { gru_rb_forward_a(s, t, 0, s->B); }
void gru_rb_forward_step_b(const gru_rb_seq *s, int64_t t) { gru_rb_forward_b(s, t, 0, s->B); }
void gru_rb_backward_step_a(const gru_rb_seq *s, int64_t t) { gru_rb_backward_a(s, t, 0, s->B); }
void gru_rb_backward_step_b(const gru_rb_seq *s, int64_t t) {
    gru_rb_backward_b(s, t, 0, s->B, s->sums);
}
void elman_backward_step(const elman_seq *s, int64_t t) {
    elman_backward_rows(s, t, 0, s->B, s->sums);
}

/* ---- The whole time loop in C -------------------------------------------------------
 *
 * Each step is a product and a pass over the rows, and the threads share both: the
 * product by columns, the pass by batch rows. Thread k computes a_t's columns [c0, c1)
 * for all B rows, (h_{t-1} m) W_hh[c0:c1]^T: a GEMM of B rows by half of W_hh, which
 * stays in this core's cache and runs at full width (at H = 256, B = 32 on this machine:
 * 110 us against 140 us for 16 rows by all of W_hh, the row split this replaced; the
 * per-step product is most of the step). A barrier, then the thread's rows [b0, b1) go
 * through the elementwise step (the norms need whole rows), a barrier, the next step.
 * Backward likewise: the rows' step, a barrier, R's columns = D_t W_hh[:, c0:c1], a
 * barrier. The GEMMs are the BLAS that PyTorch itself calls (MKL's sgemm_ / dgemm_,
 * passed in as a pointer by bptt.py); inside the parallel region it runs on the calling
 * thread. The sums and the results are those of the per-step path (each output element
 * is the same dot product, up to the BLAS's blocking).
 */
#ifdef _OPENMP
#include <omp.h>
#endif

/* Fortran BLAS GEMM, column-major, 32-bit integers (LP64). */
typedef void (*gemm_fn)(const char *ta, const char *tb, const int *m, const int *n,
                        const int *k, const REAL *alpha, const REAL *a, const int *lda,
                        const REAL *b, const int *ldb, const REAL *beta, REAL *c,
                        const int *ldc);

/* Row-major out (M, N) = x (M, K) W^T with W (N, K): column-major out^T = W x^T. The rows
 * of x and out are ldx and ldo apart (a slice of a wider buffer). */
static void gemm_xwt(gemm_fn gemm, int M, int N, int K, const REAL *x, int ldx, const REAL *W,
                     REAL *out, int ldo) {
    const REAL one = 1, zero = 0;
    if (N > 0) gemm("T", "N", &N, &M, &K, &one, W, &K, x, &ldx, &zero, out, &ldo);
}

/* Row-major out (M, N) = x (M, K) W with W (K, N): column-major out^T = W^T x^T. The rows
 * of W and out are ldw and ldo apart (N columns of wider matrices). */
static void gemm_xw(gemm_fn gemm, int M, int N, int K, const REAL *x, int ldx, const REAL *W,
                    int ldw, REAL *out, int ldo) {
    const REAL one = 1, zero = 0;
    if (N > 0) gemm("N", "N", &N, &M, &K, &one, W, &ldw, x, &ldx, &zero, out, &ldo);
}

/* This thread's block of the B rows, [*b0, *b1); returns the thread's number. */
static int64_t my_rows(int64_t B, int64_t *b0, int64_t *b1) {
#ifdef _OPENMP
    const int64_t k = omp_get_thread_num(), n = omp_get_num_threads();
#else
    const int64_t k = 0, n = 1;
#endif
    *b0 = B * k / n;
    *b1 = B * (k + 1) / n;
    return k;
}

/* This thread's block of n columns, [*c0, *c1): whole 8-wide vectors but the last. */
static void my_columns(int64_t n, int64_t *c0, int64_t *c1) {
#ifdef _OPENMP
    const int64_t k = omp_get_thread_num(), m = omp_get_num_threads();
#else
    const int64_t k = 0, m = 1;
#endif
    *c0 = k == 0 ? 0 : (n * k / m) & ~(int64_t)7;
    *c1 = k == m - 1 ? n : (n * (k + 1) / m) & ~(int64_t)7;
}

/* Inference (gx_now): the input half of step t, columns [c0, c1) of all B rows,
 * gx = x_t W_ih^T into the (B, G) buffer (LN_ih, where there is one, is the step's), one
 * small GEMM a step instead of a (T, B, G) buffer for all steps (at T = 1000, B = 32,
 * H = 256: 131 MB written, read, and first page-faulted). */
static void input_columns(gemm_fn gemm, const REAL *x, const REAL *w_ih, int64_t I, REAL *gx,
                          int64_t G, int64_t t, int64_t B, int64_t c0, int64_t c1) {
    if (!x) return;
    gemm_xwt(gemm, (int)B, (int)(c1 - c0), (int)I, x + t * B * I, (int)I, w_ih + c0 * I,
             gx + c0, (int)G);
}


/* Ask the kernel for transparent huge pages (2 MB) on the whole 2 MB pages inside the
 * n bytes at p, a fresh buffer not yet written. The step buffers of a long sequence are
 * large (T = 1000, B = 32, H = 256: 131 MB each), their memory is fresh each call (glibc
 * maps such blocks anew and unmaps them when freed), and the first write to each 4 KB
 * page faults: about 1.2 ms per MB on the VM this was measured on, more than the GEMMs
 * of the step (THP "madvise" mode: 30 ms instead of 190 ms for 131 MB). Only a hint:
 * it changes no value; returns 1 when the kernel took it, else 0 (not Linux, THP off). */
int64_t rnn_huge_pages(void *p, int64_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t page = (uintptr_t)1 << 21;
    const uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    const uintptr_t end = ((uintptr_t)p + (uintptr_t)n) & ~(page - 1);
    if (end > start) return madvise((void *)start, end - start, MADV_HUGEPAGE) == 0;
#else
    (void)p;
    (void)n;
#endif
    return 0;
}

/* 1 when built with OpenMP (the row blocks run on threads), else 0 (one thread). */
int64_t rnn_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* The time loops of the LSTM, the GRU and the Elman cell (each struct has the fields
 * named here): per step forward, [the input half (inference),] one GEMM a_t = (h_{t-1} m)
 * W_hh^T into a (kept for every step where LN_hh needs its ŷ: A_PER_STEP), then the rows;
 * backward, the rows, then R = D_t W_hh (D: the gradient of a). GATES: G / H. A thread
 * with no rows (B < threads) still computes its columns, and meets every barrier. */
#define FORWARD_SEQ(kind, GATES, A_PER_STEP)                                                \
    void kind##_forward_seq(const kind##_seq *s, int64_t T, const REAL *w_hh, gemm_fn gemm,  \
                            int64_t threads, const REAL *x, const REAL *w_ih, int64_t I) {   \
        const int64_t B = s->B, H = s->H, G = (GATES) * H, per_step = (A_PER_STEP);         \
        _Pragma("omp parallel num_threads(threads)") {                                       \
            int64_t b0, b1, c0, c1;                                                          \
            my_rows(B, &b0, &b1);                                                            \
            my_columns(G, &c0, &c1);                                                         \
            for (int64_t t = 0; t < T; t++) {                                                \
                input_columns(gemm, x, w_ih, I, (REAL *)s->gx, G, t, B, c0, c1);             \
                REAL *a = s->a + (per_step ? t * B : 0) * G;                                 \
                gemm_xwt(gemm, (int)B, (int)(c1 - c0), (int)H, OPERAND(s, t, 0), (int)H,     \
                         w_hh + c0 * H, a + c0, (int)G);                                     \
                _Pragma("omp barrier") /* all of a_t, before the rows' pass */               \
                kind##_forward_rows(s, t, b0, b1);                                           \
                _Pragma("omp barrier") /* all of h_t, before the next product */             \
            }                                                                                \
        }                                                                                    \
    }

#define BACKWARD_SEQ(kind, GATES, SUMS, D)                                                  \
    void kind##_backward_seq(const kind##_seq *s, int64_t T, const REAL *w_hh, gemm_fn gemm, \
                             int64_t threads) {                                              \
        const int64_t B = s->B, H = s->H, G = (GATES) * H;                                  \
        _Pragma("omp parallel num_threads(threads)") {                                       \
            int64_t b0, b1, c0, c1;                                                          \
            double *acc = s->sums + my_rows(B, &b0, &b1) * (SUMS);                           \
            my_columns(H, &c0, &c1);                                                         \
            for (int64_t t = T - 1; t >= 0; t--) {                                           \
                kind##_backward_rows(s, t, b0, b1, acc);                                     \
                _Pragma("omp barrier") /* all of D_t, and R read by every row */             \
                gemm_xw(gemm, (int)B, (int)(c1 - c0), (int)G, (D) + t * B * G, (int)G,       \
                        w_hh + c0, (int)H, (REAL *)s->R + c0, (int)H);                       \
                _Pragma("omp barrier") /* all of R, before the rows of step t - 1 */         \
            }                                                                                \
        }                                                                                    \
    }

FORWARD_SEQ(lstm, 4, s->ln_hh_w && s->keep)
BACKWARD_SEQ(lstm, 4, LSTM_SUMS(H), s->da)
FORWARD_SEQ(gru, 3, s->ln_hh_w && s->keep)
BACKWARD_SEQ(gru, 3, GRU_SUMS(H), s->da)
FORWARD_SEQ(elman, 1, 0) /* a holds one step; no norms */
BACKWARD_SEQ(elman, 1, H, s->dgx) /* dgx: the gradient of the pre-activation, also of a */

/* The GRU of Cho et al.: two products a step, by W_hh's rows [0, 2H) (r, z) and, once the
 * rows' first pass has made q = r (h_{t-1} m), by its rows [2H, 3H). */
void gru_rb_forward_seq(const gru_rb_seq *s, int64_t T, const REAL *w_hh, gemm_fn gemm,
                        int64_t threads, const REAL *x, const REAL *w_ih, int64_t I) {
    const int64_t B = s->B, H = s->H, G = 3 * H;
#pragma omp parallel num_threads(threads)
    {
        int64_t b0, b1, c0, c1, n0, n1, r0, r1;
        my_rows(B, &b0, &b1);
        my_columns(G, &c0, &c1);
        my_columns(2 * H, &r0, &r1);
        my_columns(H, &n0, &n1);
        for (int64_t t = 0; t < T; t++) {
            input_columns(gemm, x, w_ih, I, (REAL *)s->gx, G, t, B, c0, c1);
            REAL *a = s->a, *q = s->q + (s->keep ? t * B : 0) * H;
            gemm_xwt(gemm, (int)B, (int)(r1 - r0), (int)H, OPERAND(s, t, 0), (int)H,
                     w_hh + r0 * H, a + r0, (int)G);
#pragma omp barrier
            gru_rb_forward_a(s, t, b0, b1);
#pragma omp barrier
            gemm_xwt(gemm, (int)B, (int)(n1 - n0), (int)H, q, (int)H, w_hh + (2 * H + n0) * H,
                     a + 2 * H + n0, (int)G);
#pragma omp barrier
            gru_rb_forward_b(s, t, b0, b1);
#pragma omp barrier
        }
    }
}

void gru_rb_backward_seq(const gru_rb_seq *s, int64_t T, const REAL *w_hh, gemm_fn gemm,
                         int64_t threads) {
    const int64_t B = s->B, H = s->H, G = 3 * H;
#pragma omp parallel num_threads(threads)
    {
        int64_t b0, b1, c0, c1;
        double *acc = s->sums + my_rows(B, &b0, &b1) * G;
        my_columns(H, &c0, &c1);
        for (int64_t t = T - 1; t >= 0; t--) {
            const REAL *dgx = s->dgx + t * B * G;
            gru_rb_backward_a(s, t, b0, b1);
#pragma omp barrier
            gemm_xw(gemm, (int)B, (int)(c1 - c0), (int)H, dgx + 2 * H, (int)G,
                    w_hh + 2 * H * H + c0, (int)H, s->dq + c0, (int)H);
#pragma omp barrier
            gru_rb_backward_b(s, t, b0, b1, acc);
#pragma omp barrier
            gemm_xw(gemm, (int)B, (int)(c1 - c0), (int)(2 * H), dgx, (int)G, w_hh + c0, (int)H,
                    (REAL *)s->R + c0, (int)H);
#pragma omp barrier
        }
    }
}
