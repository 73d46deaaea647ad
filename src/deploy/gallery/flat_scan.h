// flat_scan.h: exact nearest rows by squared L2 distance, by scanning every row on the CPU.
//
// Why not one matrix product and a topk (the old exact index): for a single query that is a
// GEMV, which MKL ran at ~65 ms over 1M x 128 floats here (about half the memory bandwidth one
// core gets), followed by five more passes over a 1M-long distance vector and a topk. The scan
// reads each row once, in tiles that stay in cache while every query of the batch is scored
// against them (AVX2 + FMA where the CPU has them, picked at run time), keeps a running top-k per
// query and splits the rows between LibTorch's intra-op threads (at::parallel_for).
//
// Half precision: with `half`, the scan reads an fp16 copy of the rows (half the bytes of a
// memory-bound pass) and then re-ranks in fp32 every row whose fp16 distance lies within a
// rigorous bound of fp16's rounding (and of fp32 accumulation) of the k-th best. So the rows and
// distances returned are those of the fp32 scan, ties at the k-th place aside; only the time
// differs. fp16 needs every value within +-65504 (build refuses others); memory is 1.5x fp32's.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace face {

class FlatScan {
 public:
  FlatScan() = default;
  // Requires: rows (N, D) floating, N >= 0, D >= 1, finite. Copies them (fp32, contiguous) and,
  // with `half`, an fp16 copy; face::Error naming the bad row otherwise.
  FlatScan(const torch::Tensor& rows, bool half);

  // The k nearest rows of each query (Q, D): distances float (Q, k) ascending, rows int64 (Q, k);
  // -1 rows and +inf distances where the gallery has fewer than k rows. Distances are
  // max(0, |q|^2 + |g|^2 - 2 q.g) in fp32. Ties between equal distances go to the lower row.
  // Requires k >= 1 and queries' D equal to the rows'; face::Error otherwise.
  void search(const torch::Tensor& queries, int64_t k, torch::Tensor* distances, torch::Tensor* rows) const;

  int64_t size() const { return n_; }
  int64_t dim() const { return dim_; }
  bool half() const { return half_.defined(); }
  // Bytes held for searching (rows, fp16 copy, norms).
  int64_t bytes() const;

 private:
  int64_t n_ = 0, dim_ = 0;
  torch::Tensor rows_;            // fp32 (N, D): scanned, or read for the re-rank when half
  torch::Tensor half_;            // fp16 (N, D) when half: what the scan reads
  std::vector<float> norms_;      // |g|^2 per row, fp32
  float max_norm_ = 0;            // max |g|, for the fp16 rounding bound
};

// True when this CPU runs the AVX2 + FMA (+ F16C for fp16) scan; the portable loop otherwise.
bool flat_scan_uses_avx2();

}  // namespace face
