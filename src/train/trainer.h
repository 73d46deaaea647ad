// trainer.h: the training loop (detectron2-style: a short loop, everything periodic in hooks).
//
// One step, in the order of the data flow (README): P x K indices from the sampler (host, cheap)
// -> copied to the device -> gather from the pack kept on the device (plus
// data.unlabelled_per_batch unlabelled faces and the teacher targets when distilling:
// train/distillation_data.h) -> network input -> augment -> forward_and_loss(): the forward
// (bf16 autocast, channels-last when configured), then every loss head the recipe asks for
// (train/loss_head.h: the triplet loss with its miner, CosFace/ArcFace with their class
// centres, the distillation terms), summed -> backward -> update. Mining, loss and telemetry
// stay on the device; the only host sync per step is one read of flags (does some term teach?
// are the loss and gradients finite?) that decides whether the update is applied: a step where
// no term teaches (no triplets mined) or with a non-finite value is skipped and counted.
//
// Hooks (train/hooks.h) log telemetry (the step's named values, train/step_metrics.h),
// recompute batch-norm statistics (train/precise_bn.h) and evaluate (train/evaluation.h),
// keeping the best checkpoint, and write periodic checkpoints. A stop request (SIGINT/SIGTERM
// through request_stop) ends the loop after the current step; the checkpoint hook then writes a
// checkpoint.
#pragma once
#include <torch/optim.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/identity_split.h"
#include "data/pack.h"
#include "data/pxk_sampler.h"
#include "model/nn4.h"
#include "model/precision.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/distillation_data.h"
#include "train/evaluation.h"
#include "train/loss_head.h"
#include "train/step_metrics.h"

namespace face {

class Hook;
class Distributed;
class GradientReducer;

struct TrainerOptions {
  std::string resume;             // "", "auto" (newest usable checkpoint in the run dir) or a path
  std::string command_line;       // recorded in run.json
  int64_t stop_after = 0;         // > 0: stop as on SIGTERM after this many steps of this invocation
};

class Trainer {
 public:
  Trainer(TrainConfig config, Pack pack, TrainerOptions options = {});
  ~Trainer();

  // Hooks run in the order added, after the built-in telemetry, evaluation and checkpoint hooks.
  void add_hook(std::unique_ptr<Hook> hook);

  enum class Outcome { finished, stopped };
  Outcome train();

  // Async-signal-safe: ends the loop after the current step.
  static void request_stop();

  // For hooks.
  const TrainConfig& config() const { return config_; }
  CheckpointState& state() { return state_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t start_step() const { return start_step_; }
  int64_t batch_size() const {  // images per step: P x K, plus the unlabelled ones
    return sampler_->batch_size() + (distill_.unlabelled_images.defined() ? config_.data.unlabelled_per_batch : 0);
  }
  double lr() const { return lr_; }
  bool stopping() const;
  const StepMetrics& metrics() const { return metrics_; }  // the last step's named values
  const std::vector<std::unique_ptr<LossHead>>& loss_heads() const { return heads_; }
  TrainingEvaluation& evaluation() { return *evaluation_; }
  bool has_lfw_view1() const { return evaluation_->has_lfw_view1(); }
  const torch::Device& device() const { return device_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }
  void save(const std::filesystem::path& path);
  void log_metrics(const std::string& json_object);  // one line of metrics.jsonl
  Nn4& model() { return model_; }

  // Distributed runs (otherwise rank 0 of 1, no process group).
  bool is_main() const;
  int world_size() const;
  Distributed* distributed() { return dist_.get(); }
  // Every rank calls it: gathers every rank's streams and checks that all ranks hold the same
  // weights; rank 0 writes the checkpoint. (save() is rank 0's alone: best.pt.)
  void checkpoint(const std::filesystem::path& path);

 private:
  void start_runtime();
  IdentitySplit split_identities();
  void build_model();
  void init_weights(const std::string& file);
  void join_ranks();
  void write_run_record(const IdentitySplit& split, const TrainerOptions& options);
  void add_builtin_hooks();
  struct Batch {
    torch::Tensor images;   // network input: labelled rows, then unlabelled ones
    torch::Tensor labels;   // pack labels of the labelled rows
    torch::Tensor targets;  // centred teacher vectors of every row (distillation only)
  };
  Batch next_batch();
  void step();
  struct StepLoss {
    torch::Tensor value;         // the loss (the sum of the heads' terms)
    torch::Tensor for_backward;  // the same with each term's gradient scale
    std::vector<torch::Tensor> teaching;  // device flags of the terms that teach only sometimes
    bool always_teaches = false;          // some term teaches in every step
  };
  StepLoss forward_and_loss(const Batch& batch);
  void update_if_sound(const StepLoss& loss);
  std::vector<torch::Tensor> trained_parameters();  // the model's, then the loss heads'
  void save_heads(torch::serialize::OutputArchive& archive) const;
  void resume_or_start(const TrainerOptions& options);
  void tidy_run_dir_for_resume(const std::filesystem::path& checkpoint);
  void restore_rank_streams();

  TrainConfig config_;
  torch::Device device_;
  Precision precision_ = Precision::fp32;  // runtime.precision resolved for device_
  Pack pack_;
  torch::Tensor images_, labels_;          // on the device when data.on_device
  DistillationData distill_;               // teacher targets (and unlabelled faces) when distilling
  std::vector<int64_t> train_images_;      // sampler position -> pack image index
  std::vector<int64_t> sampler_labels_;    // labels of train_images_
  std::unique_ptr<TrainingEvaluation> evaluation_;
  std::unique_ptr<PxkSampler> sampler_;
  Nn4 model_{nullptr};
  std::vector<std::unique_ptr<LossHead>> heads_;
  std::unique_ptr<torch::optim::Optimizer> optimiser_;
  std::vector<std::unique_ptr<Hook>> hooks_;
  CheckpointState state_;
  int64_t total_steps_ = 0, start_step_ = 0, nonfinite_in_row_ = 0, stop_after_ = 0;
  double lr_ = 0;
  StepMetrics metrics_;
  std::filesystem::path run_dir_;
  std::unique_ptr<Distributed> dist_;
  std::unique_ptr<GradientReducer> reducer_;
  bool global_stop_ = false;     // distributed: some rank was asked to stop (agreed every step)
  int64_t checkpoints_written_ = 0;
};

}  // namespace face
