// trainer.h: the training loop (detectron2-style: a short loop, everything periodic in hooks).
//
// One step: P x K indices from the sampler (host, cheap) -> copied to the device -> gather from
// the pack kept on the device (plus data.unlabelled_per_batch unlabelled faces when distilling)
// -> to_model_input -> augment -> forward (bf16 autocast, channels-last when configured) ->
// distillation terms against the centred teacher targets (all rows; train/distillation_loss.h)
// -> the identity term on the labelled rows: squared-distance matrix -> mining -> triplet loss,
// or (loss.name cosface | arcface) the margin softmax against the training identities' class
// centres (train/margin_softmax_loss.h) -> backward -> update. Mining, loss and telemetry stay on the device; the only host sync per step is one read
// of two flags (usable triplets? finite loss and gradients?) that decides whether the update is
// applied: a step without triplets or with a non-finite value is skipped and counted.
//
// Hooks (train/hooks.h) log telemetry, evaluate and keep the best checkpoint, and write periodic
// checkpoints. Evaluation scores held-out-identity pairs of the training pack and, when
// evaluation.lfw_pack/lfw_pairs are set, LFW View 1 (eval/packed_pairs.h: resolved in the
// constructor, so a View 2 list or a missing image fails before any step); evaluation.select_by
// picks the score that keeps best.pt. A stop request (SIGINT/SIGTERM through request_stop) ends the loop after the
// current step; the checkpoint hook then writes a checkpoint.
#pragma once
#include <torch/optim.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/identity_split.h"
#include "data/pack.h"
#include "data/pxk_sampler.h"
#include "data/validation_pairs.h"
#include "eval/packed_pairs.h"
#include "model/nn4.h"
#include "model/precision.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/miner.h"

namespace face {

class Hook;
class Distributed;
class GradientReducer;

struct TrainerOptions {
  std::string resume;             // "", "auto" (newest usable checkpoint in the run dir) or a path
  std::string command_line;       // recorded in run.json
  int64_t stop_after = 0;         // > 0: stop as on SIGTERM after this many steps of this invocation
};

// Device scalars of the last step (read only when logging, so they cost no sync).
// Terms of the other identity loss are NaN (logged as null).
struct StepTelemetry {
  torch::Tensor loss, spread;
  torch::Tensor triplets, active, d_ap, d_an, triplet_loss;                   // triplet loss
  torch::Tensor softmax_loss, target_cosine, target_angle, train_accuracy;  // cosface / arcface
  torch::Tensor distill_direct, distill_relational;                         // distillation, unweighted
};

struct EvaluationResult {
  double accuracy = 0, auc = 0, threshold = 0;  // validation: 10-fold accuracy, ROC AUC, best threshold
  int64_t pairs = 0;
  double lfw_accuracy = -1, lfw_auc = -1;      // LFW View 1 (pairsDevTest), when configured
  int64_t lfw_pairs = 0;
  double score = -1;                            // what selects best.pt
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
    return sampler_->batch_size() + (unlabelled_images_.defined() ? config_.data.unlabelled_per_batch : 0);
  }
  double lr() const { return lr_; }
  bool stopping() const;
  const StepTelemetry& last_step() const { return last_; }
  const torch::Device& device() const { return device_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }
  bool has_validation() const { return !validation_pairs_.empty(); }
  bool has_lfw_view1() const { return lfw_ != nullptr; }
  bool has_evaluation() const { return has_validation() || has_lfw_view1(); }
  bool distilling() const { return targets_.defined(); }
  EvaluationResult evaluate();
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
  void build_model(const IdentitySplit& split);
  void join_ranks();
  void write_run_record(const IdentitySplit& split, const TrainerOptions& options);
  struct Batch {
    torch::Tensor images;   // network input: labelled rows, then unlabelled ones
    torch::Tensor labels;   // pack labels of the labelled rows
    torch::Tensor targets;  // centred teacher vectors of every row (distillation only)
  };
  Batch next_batch();
  void step();
  torch::Tensor triplet_term(const torch::Tensor& embeddings, const torch::Tensor& labels);
  torch::Tensor margin_softmax_term(const torch::Tensor& embeddings, const torch::Tensor& labels);
  void make_class_centres(const std::vector<int64_t>& train_images);
  std::vector<torch::Tensor> trained_parameters();  // the model's, and learned class centres
  void resume_or_start(const TrainerOptions& options);
  void tidy_run_dir_for_resume(const std::filesystem::path& checkpoint);
  torch::Tensor embed(const torch::Tensor& images, const torch::Tensor& indices);
  void load_lfw_view1();
  void load_distillation_targets(const std::vector<int64_t>& train_images);
  void evaluate_validation(EvaluationResult& r);
  void evaluate_lfw_view1(EvaluationResult& r);
  void precise_batch_norm();
  void restore_rank_streams();

  TrainConfig config_;
  torch::Device device_;
  Precision precision_ = Precision::fp32;  // runtime.precision resolved for device_
  Pack pack_;
  torch::Tensor images_, labels_;          // on the device when data.on_device
  // Distillation: centred teacher targets of the pack's images, and the unlabelled faces with theirs.
  torch::Tensor targets_, unlabelled_images_, unlabelled_targets_;
  // Margin softmax: pack label -> class (-1: held out), and the (classes, D) centres (learned, or
  // running class means: train/margin_softmax_loss.h).
  torch::Tensor class_of_label_, class_centres_;
  torch::Tensor nan_;  // telemetry of a term the recipe does not use (logged as null)
  std::vector<int64_t> train_images_;      // sampler position -> pack image index
  std::vector<int64_t> sampler_labels_;    // labels of train_images_
  std::vector<ImageIndexPair> validation_pairs_;  // held-out identities (data/validation_pairs.h)
  std::unique_ptr<PackedPairs> lfw_;       // LFW View 1 images and pairs, when configured
  std::unique_ptr<PxkSampler> sampler_;
  Nn4 model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimiser_;
  std::vector<std::unique_ptr<Hook>> hooks_;
  MinerOptions miner_;
  CheckpointState state_;
  int64_t total_steps_ = 0, start_step_ = 0, nonfinite_in_row_ = 0, stop_after_ = 0;
  double lr_ = 0;
  StepTelemetry last_;
  std::filesystem::path run_dir_;
  std::unique_ptr<Distributed> dist_;
  std::unique_ptr<GradientReducer> reducer_;
  bool global_stop_ = false;     // distributed: some rank was asked to stop (agreed every step)
  int64_t checkpoints_written_ = 0;
};

}  // namespace face
