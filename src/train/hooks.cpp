#include "train/hooks.h"

#include <torch/torch.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "train/distributed.h"
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
  if (t.config().logging.progress)
    progress_ = std::make_unique<Progress>("train", t.total_steps() - t.start_step(), 10.0);
  window_start_ = std::chrono::steady_clock::now();
}

void TelemetryHook::after_step(Trainer& t) {
  const auto& s = t.last_step();
  auto values = torch::stack({s.loss, s.triplets, s.active, s.d_ap, s.d_an, s.spread, s.triplet_loss,
                              s.distill_direct, s.distill_relational, s.softmax_loss, s.target_cosine,
                              s.target_angle, s.train_accuracy})
                    .to(torch::kFloat64);
  sums_ = sums_.defined() ? sums_ + values : values;  // stays on the device
  ++window_steps_;
  bool due = t.state().step % t.config().logging.every_steps == 0 || t.state().step == t.total_steps() || t.stopping();
  if (!due) {
    if (progress_) progress_->advance(1);
    return;
  }
  auto mean = (sums_ / static_cast<double>(window_steps_)).cpu();  // the logging sync
  auto m = mean.accessor<double, 1>();
  double elapsed = seconds_since(window_start_);
  // All ranks' images (distributed: every rank trains on its own batch of batch_size()).
  double rate = static_cast<double>(window_steps_ * t.batch_size() * t.world_size()) / std::max(elapsed, 1e-9);
  const auto& st = t.state();
  t.log_metrics(Json{{"kind", "train"}, {"step", st.step}, {"epoch", st.epoch}, {"loss", m[0]}, {"triplets", m[1]},
                     {"active_fraction", m[2]}, {"d_ap", m[3]}, {"d_an", m[4]}, {"embedding_spread", m[5]},
                     {"lr", t.lr()}, {"images_per_s", rate}, {"host_memory_mb", resident_memory_mb()},
                     {"device_memory_mb", t.device().is_cuda() ? device_memory_in_use_mb() : -1.0},
                     {"nonfinite_total", st.nonfinite_total}, {"empty_batches", st.empty_batches},
                     {"triplet_loss", m[6]}, {"distill_direct", m[7]}, {"distill_relational", m[8]},
                     {"softmax_loss", m[9]}, {"target_cosine", m[10]}, {"target_angle_deg", m[11]},
                     {"train_accuracy", m[12]}}
                    .dump());
  auto note = t.config().loss.margin_softmax()
                  ? fmt::format("loss {:.4f} {} {:.4f} cos {:.3f} angle {:.1f} acc {:.2f} spread {:.3f} lr {:.2e} "
                                "{:.1f} img/s", m[0], t.config().loss.name, m[9], m[10], m[11], m[12], m[5], t.lr(), rate)
                  : fmt::format("loss {:.4f} triplets {:.0f} active {:.2f} spread {:.3f} lr {:.2e} {:.1f} img/s", m[0],
                                m[1], m[2], m[5], t.lr(), rate);
  if (t.distilling()) note += fmt::format(" distill {:.4f}/{:.4f}", m[7], m[8]);
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

void EvaluationHook::before_train(Trainer& t) {
  bool lfw_selects = t.has_lfw_view1() && t.config().evaluation.select_by == "lfw_view1";
  if (!t.has_validation())
    fmt::print(stderr, "warning: no validation pairs (data.validation_fraction = {} leaves too few held-out "
               "identities): {}\n", t.config().data.validation_fraction,
               t.has_lfw_view1() ? (lfw_selects ? "LFW View 1 only" : "LFW View 1 only, no best.pt")
                                 : "no evaluation, no best.pt");
  if (t.has_evaluation() && t.config().evaluation.at_start && t.state().step == 0) run(t);
}

void EvaluationHook::after_step(Trainer& t) {
  int64_t every = t.config().evaluation.every_steps;
  if (every > 0 && t.state().step % every == 0) run(t);
}

void EvaluationHook::after_train(Trainer& t) {
  if (!t.stopping() && last_step_ != t.state().step) run(t);
}

void EvaluationHook::run(Trainer& t) {
  if (!t.has_evaluation()) return;
  last_step_ = t.state().step;
  auto r = t.evaluate();
  auto& st = t.state();
  bool best = r.score > st.best_score;
  if (best) {
    st.best_score = r.score;
    t.save(t.run_dir() / "best.pt");
  }
  Json row = {{"kind", "eval"}, {"step", st.step}, {"validation_accuracy", r.accuracy}, {"validation_auc", r.auc},
              {"threshold", r.threshold}, {"pairs", r.pairs}};
  std::string lfw_note;
  if (t.has_lfw_view1()) {
    row["lfw_view1_accuracy"] = r.lfw_accuracy, row["lfw_view1_auc"] = r.lfw_auc, row["lfw_view1_pairs"] = r.lfw_pairs;
    lfw_note = fmt::format(", LFW View 1 accuracy {:.4f} auc {:.4f} ({} pairs)", r.lfw_accuracy, r.lfw_auc, r.lfw_pairs);
  }
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
