// hooks.h: what the training loop does periodically, one class per concern.
//
//   TelemetryHook   every logging.every_steps: loss, triplets, active fraction, mean d(a,p) and
//                   d(a,n) (squared L2, as in the loss), embedding spread (mean pairwise L2
//                   distance; near 0 means collapse), lr, images/s, memory, skipped steps ->
//                   a progress bar or plain lines, and a line of metrics.jsonl.
//   EvaluationHook  every evaluation.every_steps and at the end: validation (and LFW View 1)
//                   scores -> metrics.jsonl; a better score rewrites best.pt.
//   CheckpointHook  every checkpoint.every_steps and/or every_minutes, and when the run ends or
//                   is stopped: ckpt-NNNNNNNN.pt, keeping the last checkpoint.keep_last.
#pragma once
#include <chrono>
#include <memory>

#include "train/trainer.h"
#include "util/progress.h"

namespace face {

class Hook {
 public:
  virtual ~Hook() = default;
  virtual void before_train(Trainer&) {}
  virtual void after_step(Trainer&) {}
  virtual void after_train(Trainer&) {}
};

class TelemetryHook : public Hook {
 public:
  void before_train(Trainer& t) override;
  void after_step(Trainer& t) override;
  void after_train(Trainer& t) override;

 private:
  std::unique_ptr<Progress> progress_;
  torch::Tensor sums_;  // device: loss, triplets, active, d_ap, d_an, spread summed over the window
  int64_t window_steps_ = 0;
  std::chrono::steady_clock::time_point window_start_;
};

class EvaluationHook : public Hook {
 public:
  void before_train(Trainer& t) override;
  void after_step(Trainer& t) override;
  void after_train(Trainer& t) override;

 private:
  void run(Trainer& t);
  int64_t last_step_ = -1;
};

class CheckpointHook : public Hook {
 public:
  void before_train(Trainer& t) override;
  void after_step(Trainer& t) override;
  void after_train(Trainer& t) override;

 private:
  void write(Trainer& t);
  int64_t last_step_ = -1;
  std::chrono::steady_clock::time_point last_time_;
};

}  // namespace face
