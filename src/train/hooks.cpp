#include "train/hooks.h"

#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "train/distributed.h"
#include "train/evaluation.h"
#include "train/loss_head.h"
#include "util/error.h"
#include "util/memory.h"

namespace face {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

using Json = nlohmann::ordered_json;  // metrics keys in the order logged; NaN is written as null

}  // namespace

// ---- telemetry ------------------------------------------------------------------------------

void TelemetryHook::before_train(Trainer& t) {
  keys_ = {"loss", "embedding_spread"};
  for (const auto& k : loss_telemetry_keys()) keys_.push_back(k);
  nan_ = torch::full({}, std::nan(""), torch::TensorOptions().dtype(torch::kFloat64).device(t.device()));
  if (t.config().logging.progress)
    progress_ = std::make_unique<Progress>("train", t.total_steps() - t.start_step(), 10.0);
  window_start_ = std::chrono::steady_clock::now();
}

void TelemetryHook::after_step(Trainer& t) {
  std::vector<torch::Tensor> step;
  for (const auto& k : keys_) {
    auto v = t.metrics().get(k);
    step.push_back(v.defined() ? v.to(torch::kFloat64) : nan_);
  }
  auto values = torch::stack(step);
  sums_ = sums_.defined() ? sums_ + values : values;  // stays on the device
  ++window_steps_;
  bool due = t.state().step % t.config().logging.every_steps == 0 || t.state().step == t.total_steps() || t.stopping();
  if (!due) {
    if (progress_) progress_->advance(1);
    return;
  }
  auto mean = (sums_ / static_cast<double>(window_steps_)).cpu();  // the logging sync
  std::map<std::string, double> m;
  for (size_t i = 0; i < keys_.size(); ++i) m[keys_[i]] = mean[static_cast<int64_t>(i)].item<double>();
  double elapsed = seconds_since(window_start_);
  // All ranks' images (distributed: every rank trains on its own batch of batch_size()).
  double rate = static_cast<double>(window_steps_ * t.batch_size() * t.world_size()) / std::max(elapsed, 1e-9);
  const auto& st = t.state();
  Json row = {{"kind", "train"}, {"step", st.step}, {"epoch", st.epoch}, {"loss", m["loss"]},
              {"embedding_spread", m["embedding_spread"]}, {"lr", t.lr()}, {"images_per_s", rate},
              {"host_memory_mb", resident_memory_mb()},
              {"device_memory_mb", t.device().is_cuda() ? device_memory_in_use_mb() : -1.0},
              {"nonfinite_total", st.nonfinite_total}, {"empty_batches", st.empty_batches}};
  for (size_t i = 2; i < keys_.size(); ++i) row[keys_[i]] = m[keys_[i]];
  t.log_metrics(row.dump());
  std::string note = fmt::format("loss {:.4f}", m["loss"]);
  for (const auto& head : t.loss_heads()) note += " " + head->note(m);
  note += fmt::format(" spread {:.3f} lr {:.2e} {:.1f} img/s", m["embedding_spread"], t.lr(), rate);
  if (progress_)
    progress_->advance(1, note);
  else
    fmt::print("step {}/{} {}\n", st.step, t.total_steps(), note);
  sums_ = torch::Tensor();
  window_steps_ = 0;
  window_start_ = std::chrono::steady_clock::now();
}

void TelemetryHook::after_train(Trainer& t) {
  if (progress_) progress_->finish();
}

// ---- evaluation -----------------------------------------------------------------------------

void EvaluationScheduled::before_train(Trainer& t) {
  start(t);
  if (t.evaluation().any() && t.config().evaluation.at_start && t.state().step == 0) run_at_this_step(t);
}

void EvaluationScheduled::after_step(Trainer& t) {
  int64_t every = t.config().evaluation.every_steps;
  if (every > 0 && t.state().step % every == 0) run_at_this_step(t);
}

void EvaluationScheduled::after_train(Trainer& t) {
  if (!t.stopping() && last_step_ != t.state().step) run_at_this_step(t);
}

void EvaluationScheduled::run_at_this_step(Trainer& t) {
  if (!t.evaluation().any()) return;
  last_step_ = t.state().step;
  run(t);
}

void EvaluationHook::start(Trainer& t) {
  const auto& e = t.evaluation();
  bool lfw_selects = e.has_lfw_view1() && t.config().evaluation.select_by != SelectBy::validation;
  if (!e.has_validation())
    fmt::print(stderr, "warning: no validation pairs (data.validation_fraction = {} leaves too few held-out "
               "identities): {}\n", t.config().data.validation_fraction,
               e.has_lfw_view1() ? (lfw_selects ? "LFW View 1 only" : "LFW View 1 only, no best.pt")
                                 : "no evaluation, no best.pt");
}

void EvaluationHook::run(Trainer& t) {
  auto r = t.evaluation().evaluate(t.model());
  auto& st = t.state();
  bool best = r.score > st.best_score;
  if (best) {
    st.best_score = r.score;
    t.save(t.run_dir() / "best.pt");
  }
  Json row = {{"kind", "eval"}, {"step", st.step}, {"validation_accuracy", r.accuracy}, {"validation_auc", r.auc},
              {"threshold", r.threshold}, {"pairs", r.pairs}};
  std::string lfw_note;
  if (t.evaluation().has_lfw_view1()) {
    row["lfw_view1_accuracy"] = r.lfw_accuracy, row["lfw_view1_auc"] = r.lfw_auc, row["lfw_view1_pairs"] = r.lfw_pairs;
    row["lfw_view1_val"] = r.lfw_val;
    lfw_note = fmt::format(", LFW View 1 accuracy {:.4f} auc {:.4f} all-pairs VAL@1e-3 {:.3f} ({} pairs)", r.lfw_accuracy,
                           r.lfw_auc, r.lfw_val, r.lfw_pairs);
  }
  if (std::isfinite(r.validation_distill))
    row["validation_distill_direct"] = r.validation_distill, row["train_distill_direct"] = r.train_distill;
  row["score"] = r.score, row["best"] = best;
  t.log_metrics(row.dump());
  fmt::print("eval step {}: validation accuracy {:.4f} auc {:.4f} ({} pairs){}{}\n", st.step, r.accuracy, r.auc,
             r.pairs, lfw_note, best ? " -> best.pt" : "");
}

// ---- checkpoints ----------------------------------------------------------------------------

void CheckpointHook::before_train(Trainer& t) {
  last_time_ = std::chrono::steady_clock::now();
  last_step_ = t.state().step;
}

void CheckpointHook::after_step(Trainer& t) {
  const auto& c = t.config().checkpoint;
  bool by_count = c.every_steps > 0 && t.state().step % c.every_steps == 0;
  bool by_time = c.every_minutes > 0 && seconds_since(last_time_) >= c.every_minutes * 60;
  // Distributed: writing is collective, so the ranks' clocks must agree on when.
  if (c.every_minutes > 0 && t.distributed()) by_time = t.distributed()->sum_over_ranks({double(by_time)})[0] > 0;
  if (by_count || by_time) write(t);
}

void CheckpointHook::after_train(Trainer& t) {
  if (last_step_ != t.state().step) write(t);
  if (t.stopping() && t.is_main())
    fmt::print(stderr, "stopped at step {}: checkpoint written; continue with --resume auto\n", t.state().step);
}

void CheckpointHook::write(Trainer& t) {
  t.checkpoint(t.run_dir() / checkpoint_name(t.state().step));
  if (t.is_main()) prune_checkpoints(t.run_dir(), t.config().checkpoint.keep_last);
  last_step_ = t.state().step;
  last_time_ = std::chrono::steady_clock::now();
}

}  // namespace face
