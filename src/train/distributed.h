// distributed.h: data-parallel training across processes, on LibTorch's c10d.
//
// One process per device, started by torchrun (or anything that sets the same variables):
//   RANK, WORLD_SIZE      this process's rank and the number of processes (all nodes)
//   LOCAL_RANK            the rank on this node: picks the GPU (cuda:LOCAL_RANK)
//   MASTER_ADDR/PORT      the TCPStore used for rendezvous. Under torchrun
//                         (TORCHELASTIC_USE_AGENT_STORE=True) the agent already serves it and
//                         every rank connects as a client; otherwise rank 0 serves it.
// Without RANK and WORLD_SIZE the trainer runs single-process, exactly as before.
//
// Communication uses torch's compiled process groups (train/distributed_backends.h): Gloo on
// CPU, NCCL on CUDA. What travels:
//   - parameters and buffers are broadcast from rank 0 once at start (all ranks then agree
//     whatever their initialisation or resume did);
//   - gradients are averaged by GradientReducer: bucketed all-reduces (buckets of about
//     bucket_mb, filled in reverse parameter order, the order backward produces them), each
//     launched from autograd hooks as soon as its last gradient is ready, so communication
//     overlaps the rest of the backward pass; finish() waits and writes the averages to .grad;
//   - with global mining, embeddings and labels are all-gathered (gather_batch);
//   - one small all-reduce per step agrees on whether to apply the update (any rank found
//     triplets, every rank's values are finite) and whether to stop (any rank was signalled);
//   - checkpoint-time state (samplers, generators) goes to rank 0 through the store.
// Batch-norm statistics are per rank (no SyncBatchNorm): each rank normalises its own batch.
//
// Failure: every collective and store access waits at most `timeout_seconds`. A peer that dies
// makes the survivors' next collective fail (connection closed, or the timeout); they throw
// face::Error naming their rank, the operation and the timeout, and the program exits non-zero.
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace face {

// The launcher's variables; absent when not launched for distributed training.
struct LaunchEnvironment {
  int rank = 0, local_rank = 0, world_size = 1;
  std::string master_addr;
  int master_port = 0;
  bool agent_store = false;  // TORCHELASTIC_USE_AGENT_STORE=True: torchrun serves the store
};

// Reads the variables; nullopt when RANK and WORLD_SIZE are both unset. face::Error naming the
// variable when one is malformed, out of range, or missing while the others are set.
std::optional<LaunchEnvironment> read_launch_environment();

struct DistributedOptions {
  double timeout_seconds = 300;  // every collective and store wait; must exceed rank 0's evaluation time
  double bucket_mb = 25;         // gradient all-reduce bucket size
};

class Distributed {
 public:
  // Connects to the store and creates the process group for `device` (Gloo on CPU, NCCL on
  // CUDA). Returns when every rank has joined (or fails after the timeout).
  Distributed(const LaunchEnvironment& env, const torch::Device& device, DistributedOptions options);
  ~Distributed();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }
  const char* backend_name() const { return backend_name_; }
  double timeout_seconds() const { return options_.timeout_seconds; }

  // Copies rank 0's values into `tensors` on every rank.
  void broadcast(std::vector<torch::Tensor> tensors);
  // Sums `tensor` (on the process group's device) over ranks, in place; blocking.
  void all_reduce_sum(torch::Tensor& tensor);
  // Element-wise sums over ranks of a few numbers (one small all-reduce), e.g. flags.
  std::vector<double> sum_over_ranks(const std::vector<double>& values);
  // Rows of every rank's `local` (same shape on all ranks), in rank order; no gradient.
  torch::Tensor all_gather(const torch::Tensor& local);
  // Rank 0 receives every rank's `value` (index = rank) through the store; others get {}.
  // `key` must be unique per call (e.g. include the step).
  std::vector<std::string> gather_to_main(const std::string& key, const std::string& value);
  void barrier();

  // Internal: waits for `work`, turning a failure into face::Error naming `what`.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);
  const c10::intrusive_ptr<c10d::Backend>& backend() const { return backend_; }

 private:
  LaunchEnvironment env_;
  DistributedOptions options_;
  torch::Device device_;
  const char* backend_name_ = "";
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
};

// The global batch for mining across ranks: every rank's embeddings (rank order) with this
// rank's rows still attached to the graph, and every rank's labels. A loss over it, multiplied
// by `loss_scale` (= world size) and backpropagated on every rank, gives after gradient
// averaging exactly the gradient of that loss over the global batch: each rank contributes the
// part that flows through its own embeddings.
struct GlobalBatch {
  torch::Tensor embeddings, labels;
  double loss_scale = 1;
};
GlobalBatch gather_batch(Distributed& dist, const torch::Tensor& embeddings, const torch::Tensor& labels);

// Averages the gradients of `parameters` over ranks (see the header comment). Hooks are
// registered once; per step: backward() (buckets launch from the hooks), then finish().
class GradientReducer {
 public:
  GradientReducer(Distributed& dist, const std::vector<torch::Tensor>& parameters, double bucket_mb);
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // After backward: launches any bucket not launched yet (parameters without a gradient this
  // step contribute zeros), waits for all, writes the averages into each parameter's .grad.
  void finish();
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<size_t> members;   // parameter indices
    std::vector<int64_t> offsets;  // element offset of each member in `flat`
    torch::Tensor flat;
    size_t pending = 0;            // members whose gradient has not arrived this step
    c10::intrusive_ptr<c10d::Work> work;
  };
  void on_gradient(size_t parameter, const torch::Tensor& grad);
  void launch_ready();

  Distributed& dist_;
  std::vector<torch::Tensor> parameters_;
  std::vector<std::pair<size_t, size_t>> slot_;  // parameter -> (bucket, member)
  std::vector<Bucket> buckets_;
  std::vector<bool> arrived_;
  size_t next_launch_ = 0;
  std::mutex mutex_;
};

// Fingerprint of the parameters only (buffers excluded: batch-norm running statistics are per
// rank), for checking that ranks hold the same weights.
std::string parameters_fingerprint(const torch::nn::Module& model);

// Seed of rank `rank`'s sampler and random stream. Rank 0 of a fresh run keeps `seed` itself,
// so a single-process run is unchanged; `restart_step` > 0 re-derives the streams when a run
// resumes with another world size.
uint64_t rank_seed(uint64_t seed, int rank, int64_t restart_step = 0);

}  // namespace face
