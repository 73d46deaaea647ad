// hooks.h: what the training loop does periodically, one class per concern.
//
//   TelemetryHook         every logging.every_steps: the step's named values (train/step_metrics.h:
//                         loss, embedding spread, and every loss head's terms) averaged over the
//                         window, lr, images/s, memory, skipped steps -> a progress bar or plain
//                         lines, and a line of metrics.jsonl.
//   EvaluationScheduled   the schedule of evaluation: before the first step (evaluation.at_start),
//                         every evaluation.every_steps, and at the end of a run not stopped.
//   PreciseBatchNormHook  on that schedule, first: batch-norm statistics (train/precise_bn.h).
//   EvaluationHook        on that schedule: validation (and LFW View 1) scores -> metrics.jsonl;
//                         a better score rewrites best.pt (train/evaluation.h).
//   CheckpointHook        every checkpoint.every_steps and/or every_minutes, and when the run ends
//                         or is stopped: ckpt-NNNNNNNN.pt, keeping the last checkpoint.keep_last.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

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
  std::vector<std::string> keys_;  // "loss", "embedding_spread", then every registered head's names
  std::unique_ptr<Progress> progress_;
  torch::Tensor sums_;  // device: each of keys_ summed over the window
  torch::Tensor nan_;   // what a name not put in a step adds (logged as null)
  int64_t window_steps_ = 0;
  std::chrono::steady_clock::time_point window_start_;
};

// run() when the trainer has something to evaluate and evaluation is due (see above).
class EvaluationScheduled : public Hook {
 public:
  void before_train(Trainer& t) final;
  void after_step(Trainer& t) final;
  void after_train(Trainer& t) final;

 protected:
  virtual void start(Trainer& t) {}  // before_train, before any run
  virtual void run(Trainer& t) = 0;

 private:
  void run_at_this_step(Trainer& t);
  int64_t last_step_ = -1;
};

class EvaluationHook : public EvaluationScheduled {
 private:
  void start(Trainer& t) override;
  void run(Trainer& t) override;
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
