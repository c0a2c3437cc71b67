// Conway's fused decoding kernels for LifeGPT in bfloat16, compiled at load by NVRTC (FusedKernels.cs launches them).
// Shapes are the model's: rows of 256 channels, 8 heads of 64, rotary on each head's first 32 channels (rotate halves),
// a projection row q | k | v of 1536, and a position-major KV cache [2, cacheLength, batch, 8, 64] (LayerCache.cs).
// No headers: bfloat16 is handled as its 16 bits, so the source compiles with NVRTC alone.

typedef unsigned short bf16;
typedef long long index_t;   // element offsets: a cache holds more than 2^31 values at large batches

#define NEG_INF __int_as_float(0xff800000)

struct alignas(16) Pack8 { unsigned int w[4]; };   // 8 bfloat16 values: one 16-byte load or store

__device__ __forceinline__ float to_float(bf16 v) { return __uint_as_float(((unsigned int)v) << 16); }

// round to nearest even, as libtorch's float -> bfloat16 conversion
__device__ __forceinline__ bf16 to_bf16(float f)
{
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x40u);   // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

__device__ __forceinline__ float round_bf16(float f) { return to_float(to_bf16(f)); }

__device__ __forceinline__ void unpack8(Pack8 p, float* f)
{
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        f[2 * i] = __uint_as_float(p.w[i] << 16);
        f[2 * i + 1] = __uint_as_float(p.w[i] & 0xffff0000u);
    }
}

__device__ __forceinline__ Pack8 pack8(const float* f)
{
    Pack8 p;
#pragma unroll
    for (int i = 0; i < 4; i++) p.w[i] = (unsigned int)to_bf16(f[2 * i]) | ((unsigned int)to_bf16(f[2 * i + 1]) << 16);
    return p;
}

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Per row of 256 channels: x += y when y is given (rounded to bfloat16, as libtorch's add_), then
// out = LayerNorm(x) * weight (no bias), in float32 as libtorch's layer_norm. One warp a row, 8 channels a lane.
extern "C" __global__ void add_layer_norm(bf16* __restrict__ x, const bf16* __restrict__ y, const bf16* __restrict__ weight,
                                          bf16* __restrict__ out, int rows, float eps)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return;
    index_t at = (index_t)row * 256 + lane * 8;
    float v[8];
    unpack8(*(const Pack8*)(x + at), v);
    if (y != nullptr)
    {
        float a[8];
        unpack8(*(const Pack8*)(y + at), a);
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = round_bf16(v[i] + a[i]);
        *(Pack8*)(x + at) = pack8(v);
    }
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) sum += v[i];
    float mean = warp_sum(sum) * (1.f / 256.f);
    float squares = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) squares += (v[i] - mean) * (v[i] - mean);
    float rstd = rsqrtf(warp_sum(squares) * (1.f / 256.f) + eps);
    float g[8], o[8];
    unpack8(*(const Pack8*)(weight + lane * 8), g);
#pragma unroll
    for (int i = 0; i < 8; i++) o[i] = (v[i] - mean) * rstd * g[i];
    *(Pack8*)(out + at) = pack8(o);
}

// A pass's rotary, in place on q (heads 0-7) and k (heads 8-15) of a projection [rows, 1536] whose row r is at position
// start + r % length: x cos + rotate_half(x) sin on channels 0..31 with the bfloat16 tables cos, sin [positions, 32],
// rounded as libtorch's x.mul_(cos).addcmul_(rotate_half(x), sin). A thread per (row, head, channel pair j, j + 16).
extern "C" __global__ void rotary_pass(bf16* __restrict__ qkv, const bf16* __restrict__ cos, const bf16* __restrict__ sin,
                                       int rows, int length, int start)
{
    index_t i = (index_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (index_t)rows * 256) return;
    int j = (int)(i & 15), head = (int)((i >> 4) & 15);
    index_t row = i >> 8;
    int position = start + (int)(row % length);
    bf16* p = qkv + row * 1536 + head * 64;
    float x1 = to_float(p[j]), x2 = to_float(p[j + 16]);
    const bf16* c = cos + position * 32;
    const bf16* s = sin + position * 32;
    p[j] = to_bf16(round_bf16(x1 * to_float(c[j])) + (-x2) * to_float(s[j]));
    p[j + 16] = to_bf16(round_bf16(x2 * to_float(c[j + 16])) + x1 * to_float(s[j + 16]));
}

// A decode step's q, k, v [batch, 1536] at one position: q rotated and scaled by 1/8 into q_out [batch, 512], k rotated
// and v as they are into the cache [2, cacheLength, batch, 512] at the position. Rotary with the bfloat16 tables in
// float32, rounded once (as a step's matmul with the position's rotation matrix). A thread a channel.
extern "C" __global__ void rotary_step(const bf16* __restrict__ qkv, const bf16* __restrict__ cos, const bf16* __restrict__ sin,
                                       bf16* __restrict__ cache, bf16* __restrict__ q_out, int batch, int position, int cacheLength)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= batch * 1536) return;
    int b = i / 1536, r = i % 1536, part = r / 512, channel = r % 64;
    float v = to_float(qkv[i]);
    if (part < 2 && channel < 32)
    {
        float other = to_float(qkv[i + (channel < 16 ? 16 : -16)]);
        v = v * to_float(cos[position * 32 + channel]) + (channel < 16 ? -other : other) * to_float(sin[position * 32 + channel]);
    }
    if (part == 0)
        q_out[b * 512 + r] = to_bf16(v * 0.125f);
    else
        cache[((index_t)(part - 1) * cacheLength + position) * batch * 512 + (index_t)b * 512 + (r - part * 512)] = to_bf16(v);
}

// One query a head (q [batch, 512], already scaled by 1/8) over the cached keys and values 0..length-1: split-K
// ("flash decoding"). Block (board, split) with a warp a head; the warp's 4 groups of 8 lanes take keys begin + g,
// + 4, ... of the split, each lane 8 of the head's 64 channels, so a group reads a key's or a value's 128 bytes in one
// coalesced 16-byte load a lane. Each group keeps an online softmax (max, sum, weighted values), then the warp merges its
// groups. partial [batch, splits, 8, 66]: the 64 weighted values, the max and the sum, for attend_combine.
extern "C" __global__ void __launch_bounds__(256) attend_step(const bf16* __restrict__ q, const bf16* __restrict__ cache,
                                                                float* __restrict__ partial, int batch, int length, int cacheLength, int chunk)
{
    int b = blockIdx.x, split = blockIdx.y, splits = gridDim.y, head = threadIdx.x / 32, lane = threadIdx.x % 32;
    int group = lane / 8, part = lane % 8;
    int begin = split * chunk, end = min(begin + chunk, length);
    float query[8];
    unpack8(*(const Pack8*)(q + (index_t)b * 512 + head * 64 + part * 8), query);

    index_t positionStride = (index_t)batch * 512;
    const bf16* keys = cache + (index_t)b * 512 + head * 64 + part * 8;
    const bf16* values = keys + (index_t)cacheLength * positionStride;
    float m = NEG_INF, l = 0.f, acc[8];
#pragma unroll
    for (int e = 0; e < 8; e++) acc[e] = 0.f;
    for (int first = begin; first < end; first += 4)                 // every lane runs every round: the shuffles need all 32
    {
        int t = first + group;
        bool valid = t < end;
        Pack8 kp = {}, vp = {};
        if (valid)
        {
            kp = *(const Pack8*)(keys + t * positionStride);
            vp = *(const Pack8*)(values + t * positionStride);
        }
        float k[8], score = 0.f;
        unpack8(kp, k);
#pragma unroll
        for (int e = 0; e < 8; e++) score += query[e] * k[e];
        score += __shfl_xor_sync(0xffffffffu, score, 4);
        score += __shfl_xor_sync(0xffffffffu, score, 2);
        score += __shfl_xor_sync(0xffffffffu, score, 1);
        if (valid)
        {
            float mNew = fmaxf(m, score), scale = expf(m - mNew), p = expf(score - mNew), v[8];
            l = l * scale + p;
            unpack8(vp, v);
#pragma unroll
            for (int e = 0; e < 8; e++) acc[e] = acc[e] * scale + p * v[e];
            m = mNew;
        }
    }
#pragma unroll
    for (int offset = 8; offset <= 16; offset <<= 1)                 // the 4 groups: lanes with the same channels
    {
        float mOther = __shfl_xor_sync(0xffffffffu, m, offset), lOther = __shfl_xor_sync(0xffffffffu, l, offset);
        float mNew = fmaxf(m, mOther);
        float mine = m == NEG_INF ? 0.f : expf(m - mNew), theirs = mOther == NEG_INF ? 0.f : expf(mOther - mNew);
        l = l * mine + lOther * theirs;
#pragma unroll
        for (int e = 0; e < 8; e++) acc[e] = acc[e] * mine + __shfl_xor_sync(0xffffffffu, acc[e], offset) * theirs;
        m = mNew;
    }
    if (group == 0)
    {
        float* out = partial + (((index_t)b * splits + split) * 8 + head) * 66;
#pragma unroll
        for (int e = 0; e < 8; e++) out[part * 8 + e] = acc[e];
        if (part == 0)
        {
            out[64] = m;
            out[65] = l;
        }
    }
}

// Merges attend_step's splits: out [batch, 512] = per head, the splits' weighted values rescaled to the common max,
// over the splits' rescaled sums. A block a board, a thread a (head, channel).
extern "C" __global__ void attend_combine(const float* __restrict__ partial, bf16* __restrict__ out, int splits)
{
    int b = blockIdx.x, head = threadIdx.x / 64, d = threadIdx.x % 64;
    const float* p = partial + ((index_t)b * splits * 8 + head) * 66;
    float m = NEG_INF;
    for (int s = 0; s < splits; s++) m = fmaxf(m, p[(index_t)s * 8 * 66 + 64]);
    float sum = 0.f, value = 0.f;
    for (int s = 0; s < splits; s++)
    {
        const float* ps = p + (index_t)s * 8 * 66;
        float w = ps[64] == NEG_INF ? 0.f : expf(ps[64] - m);
        sum += ps[65] * w;
        value += ps[d] * w;
    }
    out[(index_t)b * 512 + head * 64 + d] = to_bf16(value / sum);
}
