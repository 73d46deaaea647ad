// checkpoint.h: everything a training run needs to continue exactly, in one archive.
//
// A checkpoint is a model file (model/model_file.h: embed, evaluate and export read it as is)
// with the trainer's entries beside the model's:
//   "optimiser"            sub-archive (torch::optim::Optimizer::save)
//   "step", "epoch"        steps done, sampler epoch
//   "rng_cpu"              LibTorch's default CPU generator state
//   "rng_cuda"             the CUDA generator state, when the run used CUDA
//   "sampler"              PxkSampler::state()
//   "config_fingerprint"   TrainConfig::fingerprint(): a resume must use the same recipe
//   "best_score", "nonfinite_total", "empty_batches"   bookkeeping that telemetry continues
//   "run_info"             run_info_json() at writing time
//   loss heads' entries    each head's own state (train/loss_head.h), e.g. "class_centres", the
//                          (classes, D) centres of a cosface/arcface run: trained state, but not
//                          the model's (exports and model readers ignore them)
//   "world_size", "rank_samplers", "rank_rng_cpu", "rank_rng_cuda"   distributed runs only
//                          (train/distributed.h): every rank's sampler and generators, index =
//                          rank; rank 0's are also the single-process entries above
// Files are written atomically (util/atomic_file.h): a crash or kill while writing leaves the
// previous checkpoint and at most a stray temporary. Tensors are loaded onto the training
// device, so a checkpoint written on CPU resumes on CUDA and the other way round.
#pragma once
#include <torch/optim.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/nn4.h"

namespace face {

struct CheckpointState {
  int64_t step = 0, epoch = 0;
  std::string sampler;
  std::string config_fingerprint;
  double best_score = -1;
  int64_t nonfinite_total = 0, empty_batches = 0;
  // Distributed runs: every rank's streams (empty otherwise, and in best.pt).
  int64_t world_size = 1;
  std::vector<std::string> rank_samplers;
  std::vector<torch::Tensor> rank_rng_cpu, rank_rng_cuda;
};

// Entries beside the trainer's own (the loss heads' state): written into, and read back from, the archive.
using SaveEntries = std::function<void(torch::serialize::OutputArchive&)>;
using LoadEntries = std::function<void(torch::serialize::InputArchive&)>;

// Writes model, optimiser, state, the generators of `device` and `extra`'s entries (when given)
// atomically to `path`.
void save_checkpoint(const std::filesystem::path& path, Nn4& model, const torch::optim::Optimizer& optimiser,
                     const CheckpointState& state, const torch::Device& device, const SaveEntries& extra = {});

// Restores model weights, `extra`'s entries (when given; before the optimiser, whose state may
// cover them), optimiser state and the generators (onto `device`); returns the state. Fails
// (face::Error naming the file) when it is damaged, `expected_fingerprint` differs, or `extra`
// fails.
CheckpointState load_checkpoint(const std::filesystem::path& path, Nn4& model, torch::optim::Optimizer& optimiser,
                                const torch::Device& device, const std::string& expected_fingerprint,
                                const LoadEntries& extra = {});

// Reads only the state entries, verifying that the whole archive loads (used to pick one to resume).
CheckpointState read_checkpoint_state(const std::filesystem::path& path);

// "ckpt-00001000.pt" for step 1000; periodic checkpoints sort by name = by step.
std::string checkpoint_name(int64_t step);

// Sets a random generator to a saved state. Generators are shared handles: passing the default
// CPU or CUDA generator sets the one LibTorch draws from.
void set_generator_state(at::Generator generator, const torch::Tensor& state);

// Periodic checkpoints in `dir`, oldest first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

// The newest checkpoint in `dir` that loads and verifies; damaged ones are skipped with a
// warning appended to `warnings`. None when there is no usable one.
std::optional<std::filesystem::path> find_resumable(const std::filesystem::path& dir, std::vector<std::string>* warnings);

// Deletes the oldest periodic checkpoints so that `keep` remain.
void prune_checkpoints(const std::filesystem::path& dir, int64_t keep);

}  // namespace face
