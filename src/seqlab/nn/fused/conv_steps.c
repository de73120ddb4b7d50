/* One streaming step of a causal TCN or WaveNet, the whole chain of layers in one call.
 *
 * The Python streams (seqlab/nn/tcn.py, seqlab/nn/wavenet.py) keep the ring buffers of
 * past inputs and fill each layer's partial sums (bias + the k-1 past taps) with batched
 * PyTorch matmuls (seqlab/nn/streaming.py). What is left is a chain of small products,
 * one per layer, each needing the previous one's output: in eager PyTorch every op of
 * it costs about a microsecond of dispatch, more than its arithmetic at batch 1. This
 * file runs that chain as plain loops, the same equations as the PyTorch steps:
 *
 *   TCN block (Bai et al. 2018):  a = relu(p1 + h W1),  y = relu(p2 + a W2),
 *                                 out = relu(y + h)  or  relu(y + b_d + h W_d)
 *   WaveNet layer (van den Oord et al. 2016, Eq. 2):
 *                                 [f, g] = p + h W,  z = tanh(f) * sigmoid(g),
 *                                 skip += z W_s,  h' = h + b_r + z W_r
 *
 * where p is the layer's partial sum for this step and W its current input's tap
 * (w[:, :, k-1] transposed). Compiled once per element type with -DREAL=float or
 * -DREAL=double (seqlab/nn/fused/build.py); the struct layouts are mirrored by ctypes
 * in seqlab/nn/fused/conv_steps.py. All matrices are row-major and contiguous.
 */
#include <stdint.h>
#include <string.h>
#include <tgmath.h>

#ifndef REAL
#error "compile with -DREAL=float or -DREAL=double"
#endif

/* One build runs the widest vector units the machine has: gcc emits a clone per target
 * and picks one when the library loads. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

typedef struct {
    const REAL *w;       /* (c_in, c_out): the current input's tap, transposed */
    REAL *ring;          /* (ring_size, B, c_in): the layer's last inputs, step t in slot t mod ring_size */
    const REAL *partial; /* (dilation, B, c_out): bias + past taps of the steps t mod dilation */
    int64_t c_in, c_out, ring_size, dilation;
} conv_layer;

typedef struct {
    conv_layer conv1, conv2;
    const REAL *down_w;   /* (c_in, c_out) 1x1 residual, or NULL for the identity */
    const REAL *down_b;   /* (c_out,) */
    int64_t input_nonneg; /* input >= 0 (a previous block's output): relu(y + h) == y + h */
} temporal_block;

typedef struct {
    const temporal_block *blocks;
    int64_t n_blocks;
} tcn_net;

typedef struct {
    conv_layer gated;          /* c_out = 2 R: filter columns, then gate columns */
    const REAL *res_w, *res_b; /* (R, R), (R,); NULL in the last layer */
    const REAL *skip_w;        /* (R, S) */
} gated_layer;

typedef struct {
    const gated_layer *layers;
    int64_t n_layers;
    const REAL *in_w, *in_b; /* (c_in, R), (R,) */
    int64_t c_in;
    const REAL *skip_b;      /* (S,): the sum of every layer's skip bias */
    int64_t skip_channels;
    const REAL *out_w, *out_b; /* (S, c_out), (c_out,) */
    int64_t c_out;
    REAL *scratch;           /* B * (3 R + S) values */
} wavenet_net;

/* y (B, n_out) = b + x (B, n_in) @ w (n_in, n_out); b has B rows if b_rows, else one */
static inline void affine(REAL *restrict y, const REAL *restrict b, int b_rows,
                          const REAL *restrict x, const REAL *restrict w,
                          int64_t B, int64_t n_in, int64_t n_out) {
    for (int64_t r = 0; r < B; r++) {
        REAL *restrict yr = y + r * n_out;
        const REAL *restrict xr = x + r * n_in;
        memcpy(yr, b_rows ? b + r * n_out : b, sizeof(REAL) * n_out);
        for (int64_t i = 0; i < n_in; i++) {
            const REAL xi = xr[i];
            const REAL *restrict wi = w + i * n_out;
            for (int64_t o = 0; o < n_out; o++) yr[o] += xi * wi[o];
        }
    }
}

/* y (B, n_out) += x (B, n_in) @ w (n_in, n_out) */
static inline void accumulate(REAL *restrict y, const REAL *restrict x, const REAL *restrict w,
                              int64_t B, int64_t n_in, int64_t n_out) {
    for (int64_t r = 0; r < B; r++) {
        REAL *restrict yr = y + r * n_out;
        const REAL *restrict xr = x + r * n_in;
        for (int64_t i = 0; i < n_in; i++) {
            const REAL xi = xr[i];
            const REAL *restrict wi = w + i * n_out;
            for (int64_t o = 0; o < n_out; o++) yr[o] += xi * wi[o];
        }
    }
}

static inline void relu(REAL *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
}

static inline REAL *slot(const conv_layer *c, int64_t t, int64_t B) {
    return c->ring + (t % c->ring_size) * B * c->c_in;
}

static inline const REAL *partial(const conv_layer *c, int64_t t, int64_t B) {
    return c->partial + (t % c->dilation) * B * c->c_out;
}

/* x (B, c_in) at step t (any t with the same residues mod every ring size) -> out (B, c_out).
 * Writes each layer's input into its ring slot, as the PyTorch step does. */
VECTOR_CLONES
void tcn_step(const tcn_net *net, int64_t B, int64_t t, const REAL *x, REAL *out) {
    const temporal_block *blocks = net->blocks;
    REAL *h = slot(&blocks[0].conv1, t, B);
    memcpy(h, x, sizeof(REAL) * B * blocks[0].conv1.c_in);
    for (int64_t i = 0; i < net->n_blocks; i++) {
        const temporal_block *blk = &blocks[i];
        const conv_layer *c1 = &blk->conv1, *c2 = &blk->conv2;
        REAL *a = slot(c2, t, B);
        REAL *y = i + 1 < net->n_blocks ? slot(&blocks[i + 1].conv1, t, B) : out;
        int64_t n = B * c2->c_out;
        affine(a, partial(c1, t, B), 1, h, c1->w, B, c1->c_in, c1->c_out);
        relu(a, B * c1->c_out);
        affine(y, partial(c2, t, B), 1, a, c2->w, B, c2->c_in, c2->c_out);
        relu(y, n);
        if (blk->down_w) {
            accumulate(y, h, blk->down_w, B, c1->c_in, c2->c_out);
            for (int64_t r = 0; r < B; r++)
                for (int64_t o = 0; o < c2->c_out; o++) y[r * c2->c_out + o] += blk->down_b[o];
            relu(y, n);
        } else {
            for (int64_t j = 0; j < n; j++) y[j] += h[j];
            if (!blk->input_nonneg) relu(y, n);
        }
        h = y;
    }
}

/* x (B, c_in) at step t -> out (B, c_out) = relu(b_o + relu(skips) W_o) */
VECTOR_CLONES
void wavenet_step(const wavenet_net *net, int64_t B, int64_t t, const REAL *x, REAL *out) {
    const gated_layer *layers = net->layers;
    const int64_t R = layers[0].gated.c_in, S = net->skip_channels;
    REAL *fg = net->scratch, *z = fg + 2 * B * R, *skips = z + B * R;
    REAL *h = slot(&layers[0].gated, t, B);
    affine(h, net->in_b, 0, x, net->in_w, B, net->c_in, R);
    for (int64_t r = 0; r < B; r++) memcpy(skips + r * S, net->skip_b, sizeof(REAL) * S);
    for (int64_t i = 0; i < net->n_layers; i++) {
        const gated_layer *layer = &layers[i];
        affine(fg, partial(&layer->gated, t, B), 1, h, layer->gated.w, B, R, 2 * R);
        for (int64_t r = 0; r < B; r++) {
            const REAL *f = fg + r * 2 * R, *g = f + R;
            for (int64_t j = 0; j < R; j++) z[r * R + j] = tanh(f[j]) / (1 + exp(-g[j]));
        }
        accumulate(skips, z, layer->skip_w, B, R, S);
        if (i + 1 < net->n_layers) {
            REAL *next = slot(&layers[i + 1].gated, t, B);
            affine(next, layer->res_b, 0, z, layer->res_w, B, R, R);
            for (int64_t j = 0; j < B * R; j++) next[j] += h[j];
            h = next;
        }
    }
    relu(skips, B * S);
    affine(out, net->out_b, 0, skips, net->out_w, B, S, net->c_out);
    relu(out, B * net->c_out);
}
