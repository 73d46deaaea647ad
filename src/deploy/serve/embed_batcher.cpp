#include "deploy/serve/embed_batcher.h"

#include <torch/torch.h>

#include <exception>
#include <future>

#include "deploy/serve/metrics.h"
#include "util/error.h"

namespace face::serve {

struct EmbedBatcher::Job {
  torch::Tensor faces;
  std::promise<torch::Tensor> done;
};

EmbedBatcher::EmbedBatcher(Embedder& embedder, BatchOptions options, Metrics* metrics)
    : embedder_(embedder), options_(options), metrics_(metrics) {
  if (options_.max_batch < 1) fail("embedding batch size {} must be at least 1", options_.max_batch);
  if (options_.max_wait.count() < 0) fail("embedding batch wait must not be negative");
  thread_ = std::thread([this] { run(); });
}

EmbedBatcher::~EmbedBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  thread_.join();
}

torch::Tensor EmbedBatcher::embed(const torch::Tensor& faces) {
  const int64_t s = embedder_.input_size();
  if (faces.dim() != 4 || faces.size(1) != 3 || faces.size(2) != s || faces.size(3) != s ||
      faces.scalar_type() != torch::kUInt8)
    fail("embed: expected uint8 faces of shape (n, 3, {}, {}), got {}", s, s, c10::str(faces.sizes()));
  if (faces.size(0) == 0) return torch::empty({0, embedder_.embedding_dim()});
  auto job = std::make_shared<Job>();
  job->faces = faces;
  std::future<torch::Tensor> result = job->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) fail("embed: the server is shutting down");
    queue_.push_back(job);
    queued_rows_ += faces.size(0);
  }
  queued_.notify_one();
  return result.get();  // rethrows what run_batch stored
}

void EmbedBatcher::run() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      if (options_.max_wait.count() > 0 && queued_rows_ < options_.max_batch && !stopping_)
        queued_.wait_for(lock, options_.max_wait, [&] { return stopping_ || queued_rows_ >= options_.max_batch; });
      int64_t rows = 0;
      // Whole requests, oldest first, while they fit; the first one always goes, whatever its size.
      while (!queue_.empty() && (batch.empty() || rows + queue_.front()->faces.size(0) <= options_.max_batch)) {
        rows += queue_.front()->faces.size(0);
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_rows_ -= rows;
    }
    run_batch(batch);
  }
}

void EmbedBatcher::run_batch(std::vector<std::shared_ptr<Job>>& batch) {
  torch::Tensor all;
  try {
    std::vector<torch::Tensor> parts;
    for (const auto& job : batch) parts.push_back(job->faces);
    torch::Tensor faces = parts.size() == 1 ? parts[0] : torch::cat(parts);
    auto start = std::chrono::steady_clock::now();
    // A single request larger than max_batch (an enrolment of many photos) runs in max_batch chunks.
    all = embedder_.embed_all(faces, options_.max_batch);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (metrics_) metrics_->batch(faces.size(0), seconds);
  } catch (...) {
    for (auto& job : batch) job->done.set_exception(std::current_exception());
    return;
  }
  int64_t at = 0;
  for (auto& job : batch) {
    const int64_t n = job->faces.size(0);
    job->done.set_value(all.slice(0, at, at + n).clone());
    at += n;
  }
}

}  // namespace face::serve
