// The kernels of one instruction set, written once on Clang's vector extension: kernels.c includes this file
// once per variant with VARIANT (name suffix), WIDTH (floats per vector) and TARGET (function attributes).
// Every element, the tail's included, goes through the same vector operations, so all variants agree bit for bit.

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define V(name) JOIN(name, VARIANT)

typedef float V(floats) __attribute__((vector_size(WIDTH * 4)));
typedef int32_t V(ints) __attribute__((vector_size(WIDTH * 4)));
typedef uint32_t V(bits) __attribute__((vector_size(WIDTH * 4)));

// a where mask is set, else b (mask lanes are all ones or all zeros, as comparisons give).
TARGET static inline V(floats) V(select)(V(ints) mask, V(floats) a, V(floats) b) {
    return (V(floats))(((V(ints))a & mask) | ((V(ints))b & ~mask));
}

// Cephes' expf, as VectorMath.exp computes it.
TARGET static inline V(floats) V(exp)(V(floats) x) {
    const V(floats) low = EXP_LOW - (V(floats)){0}, high = EXP_HIGH - (V(floats)){0};
    const V(floats) shifter = EXP_SHIFTER - (V(floats)){0};
    V(floats) clamped = V(select)(x < low, low, V(select)(x > high, high, x));
    V(floats) shifted = clamped * EXP_LOG2E + shifter;
    V(floats) n = shifted - shifter;
    V(floats) r = clamped - n * EXP_LN2_HIGH + n * EXP_LN2_LOW;
    V(floats) p = EXP_P0 - (V(floats)){0};
    p = p * r + EXP_P1;
    p = p * r + EXP_P2;
    p = p * r + EXP_P3;
    p = p * r + EXP_P4;
    p = p * r + EXP_P5;
    p = p * r * r + r + 1.0f;
    V(bits) exponent = ((V(bits))((V(ints))shifted - (V(ints))shifter) + 127u) << 23;
    return p * (V(floats))exponent;
}

// Runs body on count floats WIDTH at a time (lanes a constant there, so the copies are plain vector loads and
// stores), then once on the tail in a zero-padded vector.
#define EACH_VECTOR(count, body)                                                                                 \
    size_t i = 0;                                                                                                 \
    for (; i + WIDTH <= (count); i += WIDTH) {                                                                    \
        const size_t lanes = WIDTH;                                                                               \
        body                                                                                                      \
    }                                                                                                             \
    if (i < (count)) {                                                                                            \
        const size_t lanes = (count) - i;                                                                         \
        body                                                                                                      \
    }
#define LOAD(name, pointer) V(floats) name = {0}; memcpy(&name, (pointer) + i, lanes * sizeof(float));
#define STORE(pointer, value) { V(floats) stored = (value); memcpy((pointer) + i, &stored, lanes * sizeof(float)); }

TARGET static void V(silu)(const float *in, float *out, size_t count, float shift, float factor) {
    EACH_VECTOR(count, {
        LOAD(x, in)
        V(floats) v = x + shift;
        STORE(out, v / (1.0f + V(exp)(-v)) * factor)
    })
}

TARGET static void V(sigmoid)(const float *in, float *out, size_t count, float shift) {
    EACH_VECTOR(count, {
        LOAD(x, in)
        STORE(out, 1.0f / (1.0f + V(exp)(-(x + shift))))
    })
}

TARGET static void V(bias_relu)(const float *in, float *out, size_t count, float shift) {
    EACH_VECTOR(count, {
        LOAD(x, in)
        V(floats) v = x + shift;
        STORE(out, V(select)(v > 0.0f, v, (V(floats)){0}))
    })
}

TARGET static void V(scale_add)(const float *x, float scale, const float *addend, float *out, size_t count) {
    EACH_VECTOR(count, {
        LOAD(a, x)
        LOAD(b, addend)
        STORE(out, a * scale + b)
    })
}

// 16 double lanes in every variant (the summation order is part of the result).
typedef float V(floats16) __attribute__((vector_size(64)));
typedef double V(doubles16) __attribute__((vector_size(128)));

TARGET static double V(sum)(const float *values, size_t count) {
    V(doubles16) lanes = {0};
    size_t blocks = count / 16 * 16;
    for (size_t i = 0; i < blocks; i += 16) {
        V(floats16) x;
        memcpy(&x, values + i, sizeof x);
        lanes += __builtin_convertvector(x, V(doubles16));
    }
    double folded[16];
    memcpy(folded, &lanes, sizeof folded);
    return fold_lanes(folded, values + blocks, count - blocks);
}

#undef EACH_VECTOR
#undef LOAD
#undef STORE
#undef V
#undef JOIN
#undef JOIN2
