#include "deploy/gallery/flat_scan.h"

#include <ATen/Parallel.h>
#include <c10/util/Half.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FACE_SCAN_X86 1
#define FACE_AVX2 __attribute__((target("avx2,fma,f16c")))
#pragma GCC diagnostic ignored "-Wpsabi"  // __m256 in the AVX2-only helpers, never across the ABI
#endif

#include "util/error.h"

namespace face {

namespace {

constexpr int64_t kTile = 256;         // rows scored against every query while they sit in L2
constexpr int64_t kGrain = 16384;      // rows per thread at least: below, one thread scans all
constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- scores ------------------------------------------------------------------------------
// Every path sums a row's products in the same order (AVX2: two 8-lane accumulators, even and
// odd 8-float chunks, then a fixed horizontal sum), so one row scores identically whether it is
// scanned alone, in a block of 4 queries or re-ranked: the fp16 re-rank reproduces the fp32 scan.

float to_float(float x) { return x; }
float to_float(c10::Half x) { return static_cast<float>(x); }

// Scores of queries q[0..nq) (nq <= 4) against rows [r0, r1) of a tile: out[j * kTile + r - r0]
// = |g|^2 - 2 q_j.g. Dispatched once per tile, so the row loop runs inside the AVX2 code.
template <class T>
void score_tile_portable(const T* rows, const float* norms, int64_t d, int64_t r0, int64_t r1,
                         const float* const* q, int nq, float* out) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* g = rows + r * d;
    for (int j = 0; j < nq; ++j) {
      float s = 0;
      for (int64_t i = 0; i < d; ++i) s += to_float(g[i]) * q[j][i];
      out[j * kTile + (r - r0)] = norms[r] - 2 * s;
    }
  }
}

#ifdef FACE_SCAN_X86
FACE_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
FACE_AVX2 inline __m256 load8(const c10::Half* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
FACE_AVX2 inline float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

// NQ queries against one row; d % 8 == 0. The row is loaded once for all NQ queries.
template <int NQ, class T>
FACE_AVX2 inline void dot_avx2(const T* g, const float* const* q, int64_t d, float* out) {
  __m256 even[NQ], odd[NQ];
  for (int j = 0; j < NQ; ++j) even[j] = odd[j] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256 x = load8(g + i), y = load8(g + i + 8);
    for (int j = 0; j < NQ; ++j) {
      even[j] = _mm256_fmadd_ps(x, _mm256_loadu_ps(q[j] + i), even[j]);
      odd[j] = _mm256_fmadd_ps(y, _mm256_loadu_ps(q[j] + i + 8), odd[j]);
    }
  }
  if (i < d) {
    __m256 x = load8(g + i);
    for (int j = 0; j < NQ; ++j) even[j] = _mm256_fmadd_ps(x, _mm256_loadu_ps(q[j] + i), even[j]);
  }
  for (int j = 0; j < NQ; ++j) out[j] = hsum(_mm256_add_ps(even[j], odd[j]));
}

template <class T>
FACE_AVX2 void score_tile_avx2(const T* rows, const float* norms, int64_t d, int64_t r0, int64_t r1,
                               const float* const* q, int nq, float* out) {
  float dots[4];
  for (int64_t r = r0; r < r1; ++r) {
    const T* g = rows + r * d;
    if (nq == 4) {
      dot_avx2<4>(g, q, d, dots);
    } else {
      for (int j = 0; j < nq; ++j) dot_avx2<1>(g, q + j, d, dots + j);
    }
    for (int j = 0; j < nq; ++j) out[j * kTile + (r - r0)] = norms[r] - 2 * dots[j];
  }
}
#endif

bool cpu_has_avx2() {
#ifdef FACE_SCAN_X86
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return yes;
#else
  return false;
#endif
}

template <class T>
void score_tile(const T* rows, const float* norms, int64_t d, int64_t r0, int64_t r1, const float* const* q,
                int nq, float* out) {
#ifdef FACE_SCAN_X86
  if (d % 8 == 0 && cpu_has_avx2()) return score_tile_avx2(rows, norms, d, r0, r1, q, nq, out);
#endif
  score_tile_portable(rows, norms, d, r0, r1, q, nq, out);
}

// ---- running top-k -----------------------------------------------------------------------
// One query's best rows within one thread's range. `heap` holds the k smallest scores so far
// (a max-heap); `kept` every row offered whose score was within `slack` of the k-th best at the
// time, so it always holds every row within `slack` of the final k-th best (and, with slack 0,
// every row tied with it).
class QueryTop {
 public:
  QueryTop(int64_t k, float slack) : k_(k), slack_(slack) {}
  void offer(float score, int64_t row) {
    if (score > bound_) return;
    if (static_cast<int64_t>(heap_.size()) < k_) {
      heap_.push_back(score);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (score < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = score;
      std::push_heap(heap_.begin(), heap_.end());
    }
    if (static_cast<int64_t>(heap_.size()) == k_) bound_ = heap_.front() + slack_;
    kept_.emplace_back(score, row);
    if (static_cast<int64_t>(kept_.size()) > 4 * k_ + 256) prune();
  }
  std::vector<std::pair<float, int64_t>>& kept() { return kept_; }

 private:
  void prune() {
    float b = bound_;
    kept_.erase(std::remove_if(kept_.begin(), kept_.end(), [b](const auto& e) { return e.first > b; }), kept_.end());
  }
  int64_t k_;
  float slack_, bound_ = kInf;
  std::vector<float> heap_;
  std::vector<std::pair<float, int64_t>> kept_;
};

// Scores rows [begin, end) against every query: score = |g|^2 - 2 q.g (the query's own |q|^2 is
// added at the end, it does not change the order).
template <class T>
void scan_range(const T* rows, const float* norms, int64_t d, int64_t begin, int64_t end,
                const std::vector<const float*>& queries, std::vector<QueryTop>& tops) {
  const int nq = static_cast<int>(queries.size());
  std::vector<float> scores(4 * kTile);
  for (int64_t t0 = begin; t0 < end; t0 += kTile) {
    int64_t t1 = std::min(end, t0 + kTile);
    for (int j0 = 0; j0 < nq; j0 += 4) {
      int nb = std::min(4, nq - j0);
      score_tile(rows, norms, d, t0, t1, queries.data() + j0, nb, scores.data());
      for (int j = 0; j < nb; ++j)
        for (int64_t r = t0; r < t1; ++r) tops[j0 + j].offer(scores[j * kTile + (r - t0)], r);
    }
  }
}

// A bound on |score_fp16 - score_fp32| for every row, for a query of L2 norm `q2` and L1 norm
// `q1`, rows of L2 norm at most `g2`, dimension d. fp16 rounding (to nearest) moves each value
// by at most u16 |g_i| (normal range) or 2^-25 (subnormal), so the dot product by at most
// u16 |q| |g| + 2^-25 |q|_1 (Cauchy-Schwarz); each fp32 dot product (any summation order, FMA
// or not) is within gamma_d |q| |g| of the real one; the score's |g|^2 - 2 s rounds once more
// on each side. Scaled by 1.25 for the rounding of this bound's own arithmetic.
float fp16_score_error(double q2, double q1, double g2, int64_t d) {
  const double u16 = std::ldexp(1.0, -11), u32 = std::ldexp(1.0, -24);
  const double gamma = d * u32 / (1 - d * u32);
  double dot = u16 * q2 * g2 + std::ldexp(1.0, -25) * q1 + 2 * gamma * q2 * g2 * (1 + u16);
  double score = 2 * dot + 2 * u32 * (g2 * g2 + 2 * q2 * g2 * (1 + u16));
  return static_cast<float>(1.25 * score);
}

}  // namespace

bool flat_scan_uses_avx2() { return cpu_has_avx2(); }

FlatScan::FlatScan(const torch::Tensor& rows, bool half) {
  if (rows.dim() != 2 || rows.size(1) < 1)
    fail("gallery rows must be a matrix (N, D) with D >= 1, got shape {}", c10::str(rows.sizes()));
  if (!rows.is_floating_point()) fail("gallery rows must be floating point, got {}", std::string(c10::toString(rows.scalar_type())));
  rows_ = rows.to(torch::kCPU, torch::kFloat32).contiguous();
  n_ = rows_.size(0);
  dim_ = rows_.size(1);
  if (n_ == 0) return;
  auto finite = torch::isfinite(rows_).all(1);
  if (!finite.all().item<bool>())
    fail("gallery row {} holds a NaN or infinite value", (~finite).nonzero()[0][0].item<int64_t>());
  auto sq = rows_.pow(2).sum(1);
  norms_.assign(sq.data_ptr<float>(), sq.data_ptr<float>() + n_);
  max_norm_ = std::sqrt(*std::max_element(norms_.begin(), norms_.end()));
  if (half) {
    auto worst = rows_.abs().max().item<float>();
    if (worst > 65504.f) fail("gallery value {} is beyond fp16's range (+-65504): use the fp32 exact index", worst);
    half_ = rows_.to(torch::kHalf).contiguous();
  }
}

int64_t FlatScan::bytes() const {
  int64_t b = static_cast<int64_t>(norms_.size() * sizeof(float));
  if (rows_.defined()) b += static_cast<int64_t>(rows_.nbytes());
  if (half_.defined()) b += static_cast<int64_t>(half_.nbytes());
  return b;
}

void FlatScan::search(const torch::Tensor& queries_in, int64_t k, torch::Tensor* distances, torch::Tensor* rows) const {
  if (k < 1) fail("search asked for k = {} nearest rows; k must be >= 1", k);
  if (queries_in.dim() != 2 || queries_in.size(1) != dim_)
    fail("queries must be (Q, {}) to match the gallery's dimension, got shape {}", dim_, c10::str(queries_in.sizes()));
  auto queries = queries_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t nq = queries.size(0);
  if (nq > 0) {
    auto finite = torch::isfinite(queries).all(1);
    if (!finite.all().item<bool>())
      fail("query {} holds a NaN or infinite value", (~finite).nonzero()[0][0].item<int64_t>());
  }
  *distances = torch::full({nq, k}, kInf);
  *rows = torch::full({nq, k}, -1, torch::kInt64);
  if (n_ == 0 || nq == 0) return;

  std::vector<const float*> qptr(nq);
  std::vector<float> qnorm2(nq), slack(nq, 0.f);
  for (int64_t j = 0; j < nq; ++j) {
    qptr[j] = queries.data_ptr<float>() + j * dim_;
    double s2 = 0, s1 = 0;
    for (int64_t i = 0; i < dim_; ++i) s2 += double(qptr[j][i]) * qptr[j][i], s1 += std::abs(qptr[j][i]);
    qnorm2[j] = static_cast<float>(s2);
    if (half()) slack[j] = fp16_score_error(std::sqrt(s2), s1, max_norm_, dim_);
  }

  // Each thread scans its share of rows into its own tops; they are merged below.
  std::vector<std::vector<QueryTop>> parts;
  std::mutex parts_mutex;
  at::parallel_for(0, n_, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<QueryTop> tops;
    tops.reserve(nq);
    for (int64_t j = 0; j < nq; ++j) tops.emplace_back(k, slack[j]);
    if (half())
      scan_range(half_.data_ptr<c10::Half>(), norms_.data(), dim_, begin, end, qptr, tops);
    else
      scan_range(rows_.data_ptr<float>(), norms_.data(), dim_, begin, end, qptr, tops);
    std::lock_guard<std::mutex> lock(parts_mutex);
    parts.push_back(std::move(tops));
  });

  auto dist = distances->accessor<float, 2>();
  auto idx = rows->accessor<int64_t, 2>();
  const float* g32 = rows_.data_ptr<float>();
  for (int64_t j = 0; j < nq; ++j) {
    std::vector<std::pair<float, int64_t>> cand;
    for (auto& part : parts) cand.insert(cand.end(), part[j].kept().begin(), part[j].kept().end());
    // The k-th best score over all threads, then every row within the slack of it.
    std::vector<float> scores(cand.size());
    for (size_t i = 0; i < cand.size(); ++i) scores[i] = cand[i].first;
    size_t kth = std::min<size_t>(static_cast<size_t>(k), scores.size()) - 1;
    std::nth_element(scores.begin(), scores.begin() + kth, scores.end());
    float limit = scores[kth] + slack[j];
    cand.erase(std::remove_if(cand.begin(), cand.end(), [limit](const auto& c) { return c.first > limit; }), cand.end());
    if (half()) {
      std::vector<float> score(kTile);
      for (auto& c : cand) {  // re-rank: the fp32 scan's score of the same row, by the same code
        score_tile(g32, norms_.data(), dim_, c.second, c.second + 1, &qptr[j], 1, score.data());
        c.first = score[0];
      }
    }
    int64_t take = std::min<int64_t>(k, static_cast<int64_t>(cand.size()));
    std::partial_sort(cand.begin(), cand.begin() + take, cand.end());  // by score, then row
    for (int64_t i = 0; i < take; ++i) {
      dist[j][i] = std::max(0.f, qnorm2[j] + cand[i].first);
      idx[j][i] = cand[i].second;
    }
  }
}

}  // namespace face
