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

// The row a warp takes in a kernel of a warp a row, launched in blocks of whole warps (e.g. FusedKernels.LaunchWarpPerRow).
__device__ __forceinline__ int row_of_warp() { return blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; }

// LayerNorm(v) * weight (no bias) of one row of 256 channels held 8 a lane by a warp, in float32 as libtorch's
// layer_norm, not yet rounded.
__device__ __forceinline__ void layer_norm_row(const float* v, const bf16* __restrict__ weight, int lane, float eps, float* o)
{
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) sum += v[i];
    float mean = warp_sum(sum) * (1.f / 256.f);
    float squares = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i++) squares += (v[i] - mean) * (v[i] - mean);
    float rstd = rsqrtf(warp_sum(squares) * (1.f / 256.f) + eps);
    float g[8];
    unpack8(*(const Pack8*)(weight + lane * 8), g);
#pragma unroll
    for (int i = 0; i < 8; i++) o[i] = (v[i] - mean) * rstd * g[i];
}

// Per row of 256 channels: x += y when y is given (rounded to bfloat16, as libtorch's add_), then
// out = LayerNorm(x) * weight (no bias), in float32 as libtorch's layer_norm. One warp a row, 8 channels a lane.
extern "C" __global__ void add_layer_norm(bf16* __restrict__ x, const bf16* __restrict__ y, const bf16* __restrict__ weight,
                                          bf16* __restrict__ out, int rows, float eps)
{
    int row = row_of_warp(), lane = threadIdx.x % 32;
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
    float o[8];
    layer_norm_row(v, weight, lane, eps, o);
    *(Pack8*)(out + at) = pack8(o);
}

// A pass's rotary, in place on q (heads 0-7) and k (heads 8-15) of a projection [rows, 1536] whose row r is at position
// start + r % length: x cos + rotate_half(x) sin on channels 0..31 with the bfloat16 tables cos, sin [positions, 32],
// rounded as libtorch's x.mul_(cos).addcmul_(rotate_half(x), sin). A warp a row, a lane 8 channel pairs (j, j + 16) of
// one head: 16-byte loads and stores.
extern "C" __global__ void rotary_pass(bf16* __restrict__ qkv, const bf16* __restrict__ cos, const bf16* __restrict__ sin,
                                       int rows, int length, int start)
{
    int row = row_of_warp(), lane = threadIdx.x % 32;
    if (row >= rows) return;
    int first = (lane & 1) * 8, position = start + row % length;
    bf16* p = qkv + (index_t)row * 1536 + (lane >> 1) * 64 + first;
    const bf16* c = cos + position * 32 + first;
    const bf16* s = sin + position * 32 + first;
    float x1[8], x2[8], c1[8], c2[8], s1[8], s2[8], o1[8], o2[8];
    unpack8(*(const Pack8*)p, x1);
    unpack8(*(const Pack8*)(p + 16), x2);
    unpack8(*(const Pack8*)c, c1);
    unpack8(*(const Pack8*)(c + 16), c2);
    unpack8(*(const Pack8*)s, s1);
    unpack8(*(const Pack8*)(s + 16), s2);
#pragma unroll
    for (int i = 0; i < 8; i++)
    {
        o1[i] = round_bf16(x1[i] * c1[i]) + (-x2[i]) * s1[i];
        o2[i] = round_bf16(x2[i] * c2[i]) + x1[i] * s2[i];
    }
    *(Pack8*)p = pack8(o1);
    *(Pack8*)(p + 16) = pack8(o2);
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

// A key's score q . k for a group of 8 lanes, each holding 8 of the head's channels: every lane of the group gets it.
__device__ __forceinline__ float group_score(const float* query, Pack8 kp)
{
    float k[8], score = 0.f;
    unpack8(kp, k);
#pragma unroll
    for (int e = 0; e < 8; e++) score += query[e] * k[e];
    score += __shfl_xor_sync(0xffffffffu, score, 4);
    score += __shfl_xor_sync(0xffffffffu, score, 2);
    return score + __shfl_xor_sync(0xffffffffu, score, 1);
}

// One more key into an online softmax: running max m, sum l and the weighted values acc (this lane's 8 channels).
__device__ __forceinline__ void online_softmax(float& m, float& l, float* acc, float score, Pack8 vp)
{
    float mNew = fmaxf(m, score), scale = expf(m - mNew), p = expf(score - mNew), v[8];
    l = l * scale + p;
    unpack8(vp, v);
#pragma unroll
    for (int e = 0; e < 8; e++) acc[e] = acc[e] * scale + p * v[e];
    m = mNew;
}

// One query a head (q [batch, 512], already scaled by 1/8) over the cached keys and values 0..length-1: split-K
// ("flash decoding"). Block (board, split) with a warp a head; the warp's 4 groups of 8 lanes take keys begin + g,
// + 4, ... of the split, each lane 8 of the head's 64 channels, so a group reads a key's or a value's 128 bytes in one
// coalesced 16-byte load a lane. Each group keeps an online softmax (max, sum, weighted values), then the warp merges its
// groups. partial [batch, splits, 8, 66]: the 64 weighted values, the max and the sum, for attend_combine.
__device__ __forceinline__ void attend_split(const bf16* __restrict__ q, const bf16* __restrict__ cache, float* __restrict__ partial,
                                             int batch, int length, int cacheLength, int chunk)
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
    // every lane runs every round (the shuffles need all 32); a round loads two keys and values a group before it uses
    // either, so twice the bytes are in flight, and takes them in the order of one key a round
    for (int first = begin; first < end; first += 8)
    {
        int t = first + group;
        bool valid0 = t < end, valid1 = t + 4 < end;
        Pack8 kp0 = {}, vp0 = {}, kp1 = {}, vp1 = {};
        if (valid0)
        {
            kp0 = *(const Pack8*)(keys + t * positionStride);
            vp0 = *(const Pack8*)(values + t * positionStride);
        }
        if (valid1)
        {
            kp1 = *(const Pack8*)(keys + (t + 4) * positionStride);
            vp1 = *(const Pack8*)(values + (t + 4) * positionStride);
        }
        float score0 = group_score(query, kp0), score1 = group_score(query, kp1);
        if (valid0) online_softmax(m, l, acc, score0, vp0);
        if (valid1) online_softmax(m, l, acc, score1, vp1);
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

extern "C" __global__ void __launch_bounds__(256) attend_step(const bf16* __restrict__ q, const bf16* __restrict__ cache,
                                                                float* __restrict__ partial, int batch, int length, int cacheLength, int chunk)
{
    attend_split(q, cache, partial, batch, length, cacheLength, chunk);
}

// Merges attend_step's splits (at most 64): out [batch, 512] = per head, the splits' weighted values rescaled to the
// common max, over the splits' rescaled sums. A block a board, a thread a (head, channel). The two warps of a head
// first load a split's max and sum each, at once, and share each split's weight; then every thread sums its channel
// over the splits, 16 loads in flight (a thread's loop over all of a split's values one after another left 64 splits
// a latency-bound 20 us).
extern "C" __global__ void attend_combine(const float* __restrict__ partial, bf16* __restrict__ out, int splits)
{
    __shared__ float weight[8][64], headMax[8][2], headSum[8][2];
    int b = blockIdx.x, head = threadIdx.x / 64, d = threadIdx.x % 64, half = d / 32, lane = d % 32;
    const float* p = partial + ((index_t)b * splits * 8 + head) * 66;
    float mine = d < splits ? p[(index_t)d * 8 * 66 + 64] : NEG_INF;
    float m = mine;
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, offset));
    if (lane == 0) headMax[head][half] = m;
    __syncthreads();
    m = fmaxf(headMax[head][0], headMax[head][1]);
    float w = mine == NEG_INF ? 0.f : expf(mine - m);
    weight[head][d] = w;
    float sum = warp_sum(d < splits ? p[(index_t)d * 8 * 66 + 65] * w : 0.f);
    if (lane == 0) headSum[head][half] = sum;
    __syncthreads();
    sum = headSum[head][0] + headSum[head][1];
    float value = 0.f;
#pragma unroll 16
    for (int s = 0; s < splits; s++) value += p[(index_t)s * 8 * 66 + d] * weight[head][s];
    out[(index_t)b * 512 + head * 64 + d] = to_bf16(value / sum);
}

// ---------------------------------------------------------------------------------------------------------------------
// Greedy plain decoding of up to STEP_BATCH boards, a whole decode step in the kernels below (GreedySteps.cs captures
// one step's launches as a CUDA graph and replays it for every cell). Nothing in a step depends on the host: the cell
// being decoded is *step (1..1023), read on the device; the step's input token is cell *step - 1 of cells [batch, 1024]
// (int64 tokens), at position firstPosition + *step; step_choose writes cell *step and advances *step. The residual
// stream x [batch, 256] is updated in place, each value rounded as the libtorch path rounds it: the matmuls' outputs to
// bfloat16 (with their bias), then the add.

#define STEP_BATCH 8

// in [batch][K] (shared, float) times row `row` of w [rows, K] (bfloat16), for every board, by one warp: each lane takes
// 8 channels of every 256 (one 16-byte load), the warp sums. Every lane gets every board's sum.
template <int K>
__device__ __forceinline__ void warp_row(const float* in, const bf16* __restrict__ w, int row, int batch, int lane, float* sums)
{
    float wv[K / 32];
#pragma unroll
    for (int j = 0; j < K / 256; j++) unpack8(*(const Pack8*)(w + (index_t)row * K + j * 256 + lane * 8), wv + j * 8);
#pragma unroll
    for (int b = 0; b < STEP_BATCH; b++)
    {
        if (b >= batch) break;
        float s = 0.f;
#pragma unroll
        for (int j = 0; j < K / 256; j++)
#pragma unroll
            for (int e = 0; e < 8; e++) s += in[b * K + j * 256 + lane * 8 + e] * wv[j * 8 + e];
        sums[b] = warp_sum(s);
    }
}

// Warp b < batch: in[b][256] = LayerNorm(x[b]) * weight, rounded to bfloat16 (as add_layer_norm's output).
__device__ __forceinline__ void normed_rows(const bf16* __restrict__ x, const bf16* __restrict__ weight, float eps, int batch, float* in)
{
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (warp < batch)
    {
        float v[8], o[8];
        unpack8(*(const Pack8*)(x + warp * 256 + lane * 8), v);
        layer_norm_row(v, weight, lane, eps, o);
#pragma unroll
        for (int e = 0; e < 8; e++) in[warp * 256 + lane * 8 + e] = round_bf16(o[e]);
    }
    __syncthreads();
}

// x[b] = embedding[cells[b][*step - 1]]. A warp a board.
extern "C" __global__ void step_embed(const long long* __restrict__ cells, const int* __restrict__ step, const bf16* __restrict__ embedding,
                                      bf16* __restrict__ x)
{
    int b = blockIdx.x, lane = threadIdx.x;
    long long token = cells[b * 1024 + *step - 1];
    *(Pack8*)(x + b * 256 + lane * 8) = *(const Pack8*)(embedding + token * 256 + lane * 8);
}

// An attention block's q | k | v [batch, 1536] of LayerNorm(x) * norm, rotated (rotary_step's arithmetic): q scaled by
// 1/8 into q_out [batch, 512], k and v into the cache [2, cacheLength, batch, 512] at the step's position. A block a
// head of q, k or v (24), a warp 8 of its 64 rows.
extern "C" __global__ void __launch_bounds__(256) step_qkv(const bf16* __restrict__ x, const bf16* __restrict__ norm, float eps,
    const bf16* __restrict__ w, const bf16* __restrict__ cos, const bf16* __restrict__ sin, bf16* __restrict__ cache,
    bf16* __restrict__ q_out, int batch, int firstPosition, const int* __restrict__ step, int cacheLength)
{
    __shared__ float in[STEP_BATCH * 256];
    __shared__ float out[STEP_BATCH * 64];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    normed_rows(x, norm, eps, batch, in);
#pragma unroll
    for (int k = 0; k < 8; k++)
    {
        int local = warp * 8 + k;
        float sums[STEP_BATCH];
        warp_row<256>(in, w, blockIdx.x * 64 + local, batch, lane, sums);
        if (lane == 0)
            for (int b = 0; b < batch; b++) out[b * 64 + local] = round_bf16(sums[b]);
    }
    __syncthreads();
    int position = firstPosition + *step, part = blockIdx.x / 8, head = blockIdx.x % 8;
    for (int t = threadIdx.x; t < batch * 64; t += blockDim.x)
    {
        int b = t / 64, channel = t % 64;
        float v = out[t];
        if (part < 2 && channel < 32)
        {
            float other = out[t + (channel < 16 ? 16 : -16)];
            v = v * to_float(cos[position * 32 + channel]) + (channel < 16 ? -other : other) * to_float(sin[position * 32 + channel]);
        }
        if (part == 0)
            q_out[b * 512 + head * 64 + channel] = to_bf16(v * 0.125f);
        else
            cache[((index_t)(part - 1) * cacheLength + position) * batch * 512 + b * 512 + head * 64 + channel] = to_bf16(v);
    }
}

// attend_step over the positions 0..firstPosition + *step, split in gridDim.y chunks of whole multiples of 4 keys.
extern "C" __global__ void __launch_bounds__(256) attend_step_at(const bf16* __restrict__ q, const bf16* __restrict__ cache,
    float* __restrict__ partial, int batch, int firstPosition, const int* __restrict__ step, int cacheLength)
{
    int length = firstPosition + *step + 1;
    int chunk = ((length + gridDim.y - 1) / gridDim.y + 3) / 4 * 4;
    attend_split(q, cache, partial, batch, length, cacheLength, chunk);
}

// x [batch, 256] += o [batch, K] w^T (+ bias): the output projection (K = 512, no bias) or the feed-forward's second
// linear (K = 1024). A warp a row.
template <int K>
__device__ __forceinline__ void add_product(const bf16* __restrict__ o, const bf16* __restrict__ w, const bf16* __restrict__ bias,
                                            bf16* __restrict__ x, int batch)
{
    __shared__ float in[STEP_BATCH * K];
    for (int t = threadIdx.x; t < batch * K; t += blockDim.x) in[t] = to_float(o[t]);
    __syncthreads();
    int row = row_of_warp(), lane = threadIdx.x % 32;
    float sums[STEP_BATCH];
    warp_row<K>(in, w, row, batch, lane, sums);
    if (lane == 0)
        for (int b = 0; b < batch; b++)
        {
            float y = round_bf16(sums[b] + (bias == nullptr ? 0.f : to_float(bias[row])));
            x[b * 256 + row] = to_bf16(to_float(x[b * 256 + row]) + y);
        }
}

extern "C" __global__ void __launch_bounds__(256) step_out(const bf16* __restrict__ o, const bf16* __restrict__ w, bf16* __restrict__ x, int batch)
{
    add_product<512>(o, w, nullptr, x, batch);
}

extern "C" __global__ void __launch_bounds__(256) step_ff_out(const bf16* __restrict__ h, const bf16* __restrict__ w, const bf16* __restrict__ bias,
                                                                bf16* __restrict__ x, int batch)
{
    add_product<1024>(h, w, bias, x, batch);
}

// The feed-forward's hidden layer h [batch, 1024] = GELU(LayerNorm(x) * norm w^T + bias), exact (erf) GELU as libtorch's
// gelu_ on the bias-added, rounded product. A warp 4 rows.
extern "C" __global__ void __launch_bounds__(256) step_ff_in(const bf16* __restrict__ x, const bf16* __restrict__ norm, float eps,
    const bf16* __restrict__ w, const bf16* __restrict__ bias, bf16* __restrict__ h, int batch)
{
    __shared__ float in[STEP_BATCH * 256];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    normed_rows(x, norm, eps, batch, in);
#pragma unroll
    for (int k = 0; k < 4; k++)
    {
        int row = (blockIdx.x * 8 + warp) * 4 + k;
        float sums[STEP_BATCH];
        warp_row<256>(in, w, row, batch, lane, sums);
        if (lane == 0)
            for (int b = 0; b < batch; b++)
            {
                float a = round_bf16(sums[b] + to_float(bias[row]));
                h[b * 1024 + row] = to_bf16(a * 0.5f * (1.f + erff(a * 0.70710678118654752440f)));
            }
    }
}

// The final norm, the logits of '0' and '1' (rows of cellLogits [2, 256], rounded to bfloat16 as the libtorch path's),
// the larger one (a tie goes to '0', as argmax) into cells[b][*step], the two logits into logits [batch, 2]; then the
// step advances. One block, a warp a board.
extern "C" __global__ void __launch_bounds__(256) step_choose(const bf16* __restrict__ x, const bf16* __restrict__ norm, float eps,
    const bf16* __restrict__ cellLogits, long long* __restrict__ cells, float* __restrict__ logits, int* __restrict__ step, int batch,
    long long deadToken)
{
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, cell = *step;
    if (warp < batch)
    {
        float v[8], o[8], dead[8], alive[8];
        unpack8(*(const Pack8*)(x + warp * 256 + lane * 8), v);
        layer_norm_row(v, norm, lane, eps, o);
        unpack8(*(const Pack8*)(cellLogits + lane * 8), dead);
        unpack8(*(const Pack8*)(cellLogits + 256 + lane * 8), alive);
        float d = 0.f, a = 0.f;
#pragma unroll
        for (int e = 0; e < 8; e++)
        {
            float n = round_bf16(o[e]);
            d += n * dead[e];
            a += n * alive[e];
        }
        d = round_bf16(warp_sum(d));
        a = round_bf16(warp_sum(a));
        if (lane == 0)
        {
            cells[warp * 1024 + cell] = deadToken + (a > d ? 1 : 0);
            logits[warp * 2] = d;
            logits[warp * 2 + 1] = a;
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) *step = cell + 1;
}
