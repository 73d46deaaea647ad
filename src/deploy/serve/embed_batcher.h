// embed_batcher.h: one model, many request threads: their embedding calls run on one thread, in
// batches of whatever has queued up meanwhile.
//
// Why: LibTorch runs each forward pass on all the intra-op threads, so two requests embedding at
// once would only fight over the cores, and on a CPU one pass over 8 faces costs much less than
// 8 passes over 1. The batcher never waits for company by default: a lone request runs at once
// (no added latency), and while a pass runs the requests arriving meanwhile queue up and go
// together in the next (at most max_batch faces, but a request is never split). `max_wait` holds
// a batch open that much longer for more requests (off by default; for loads of many small
// requests). max_batch 1 turns batching off: requests then take turns, one pass each, which is
// what the load figures in docs/serve.md compare against.
#pragma once
#include <torch/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model/embedder.h"

namespace face::serve {

class Metrics;

struct BatchOptions {
  int64_t max_batch = 32;                        // faces per forward pass (a larger request runs alone)
  std::chrono::microseconds max_wait{0};         // extra time a batch stays open for more requests
};

class EmbedBatcher {
 public:
  // `embedder` (and `metrics`, when given) must outlive the batcher.
  EmbedBatcher(Embedder& embedder, BatchOptions options, Metrics* metrics = nullptr);
  ~EmbedBatcher();  // runs what is queued, then stops the thread
  EmbedBatcher(const EmbedBatcher&) = delete;
  EmbedBatcher& operator=(const EmbedBatcher&) = delete;

  // uint8 (n, 3, S, S) -> float (n, D), rows L2-normalised, as Embedder::embed. Blocks until its
  // batch has run; rethrows the model's failure. Thread-safe.
  torch::Tensor embed(const torch::Tensor& faces);

 private:
  struct Job;
  void run();
  void run_batch(std::vector<std::shared_ptr<Job>>& batch);

  Embedder& embedder_;
  BatchOptions options_;
  Metrics* metrics_;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<Job>> queue_;
  int64_t queued_rows_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace face::serve
