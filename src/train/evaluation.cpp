#include "train/evaluation.h"

#include <torch/torch.h>

#include <array>
#include <map>

#include "eval/impostor_thresholds.h"
#include "eval/pair_list.h"
#include "eval/pair_scoring.h"
#include "eval/verification_protocol.h"
#include "model/memory_format.h"
#include "train/network_input.h"
#include "util/error.h"

namespace face {

namespace {

// The false accept rate of evaluation.select_by: lfw_view1_val (and of the logged figure).
constexpr double kSelectionFar = 1e-3;

std::unique_ptr<PackedPairs> load_lfw_view1(const EvaluationConfig& e) {
  try {
    PairList list = read_pair_list(e.lfw_pairs);
    if (list.folds > 1)
      fail("'{}' is LFW View 2 ({} folds, as pairs.txt): View 2 is for final reports only (`evaluate`), never "
           "for model selection; use View 1's pairsDevTest.txt",
           e.lfw_pairs, list.folds);
    int64_t n_same = 0;
    for (const auto& p : list.pairs) n_same += p.same;
    int64_t fewest = std::min<int64_t>(n_same, static_cast<int64_t>(list.pairs.size()) - n_same);
    if (fewest < 2) fail("'{}' needs at least 2 matched and 2 mismatched pairs to score", e.lfw_pairs);
    fmt::print("loading LFW pack '{}'\n", e.lfw_pack);
    Pack lfw = load_pack(e.lfw_pack);
    // Ten folds in file order, as evaluate scores View 1; fewer for a tiny list.
    return std::make_unique<PackedPairs>(
        resolve_pairs_in_pack(std::move(list), lfw, e.lfw_pack, static_cast<int>(std::min<int64_t>(10, fewest))));
  } catch (const Error& err) {
    fail("LFW View 1 evaluation (evaluation.lfw_pack, evaluation.lfw_pairs): {}", err.what());
  }
}

}  // namespace

TrainingEvaluation::TrainingEvaluation(const TrainConfig& config, torch::Tensor pack_images,
                                       std::vector<ImageIndexPair> validation, torch::Device device)
    : options_(config.evaluation),
      channels_last_(config.runtime.channels_last),
      precision_(resolve_precision(config.runtime.precision, device)),
      pack_images_(std::move(pack_images)),
      validation_(std::move(validation)),
      device_(device) {
  if (!options_.lfw_pairs.empty()) {
    lfw_ = load_lfw_view1(options_);
    lfw_identities_ = pair_list_identities(lfw_->list, lfw_->names);
    if (options_.select_by == SelectBy::lfw_view1_val) check_strict_selection_possible();
  }
}

// lfw_view1_val needs the people of the list's images and enough pairs of different people for
// impostor_thresholds to place a threshold at kSelectionFar: otherwise it would be -1 at every
// evaluation and no best.pt would ever be kept.
void TrainingEvaluation::check_strict_selection_possible() const {
  if (lfw_identities_.empty())
    fail("evaluation.select_by: lfw_view1_val needs an LFW list that names people ('{}' is {})", options_.lfw_pairs,
         lfw_->list.format);
  const int64_t impostor_pairs = impostor_pair_count(lfw_identities_);
  if (kSelectionFar * static_cast<double>(impostor_pairs) < kMinExpectedFalseAccepts)
    fail("evaluation.select_by: lfw_view1_val: the {} images of '{}' make {} pairs of different people, too few "
         "for a threshold at FAR {:g} (at least {:.0f}); View 1's pairsDevTest.txt makes 1,197,943",
         lfw_identities_.size(), options_.lfw_pairs, impostor_pairs, kSelectionFar,
         kMinExpectedFalseAccepts / kSelectionFar);
}

EvaluationResult TrainingEvaluation::evaluate(Nn4& model) {
  EvaluationResult r;
  if (!any()) return r;
  r.accuracy = r.auc = r.threshold = std::nan("");  // logged as null without validation pairs
  if (has_validation()) evaluate_validation(model, r);
  if (lfw_) evaluate_lfw_view1(model, r);
  switch (options_.select_by) {
    case SelectBy::validation: r.score = r.accuracy; break;
    case SelectBy::lfw_view1: r.score = r.lfw_accuracy; break;
    case SelectBy::lfw_view1_val: r.score = r.lfw_val; break;
  }
  return r;
}

void TrainingEvaluation::compare_with_teacher(torch::Tensor targets, std::vector<int64_t> train_sample) {
  teacher_targets_ = targets.to(torch::kCPU);
  train_sample_ = torch::tensor(train_sample, torch::kLong);
}

namespace {
// Mean of 1 - <unit(student_i), target_i>.
double cosine_distance(const torch::Tensor& student, const torch::Tensor& targets) {
  return (1 - (l2_normalise(student) * targets).sum(1)).mean().item<double>();
}
}  // namespace

// Rows `indices` of the uint8 `images` (host), embedded in eval mode.
torch::Tensor TrainingEvaluation::embed(Nn4& model, const torch::Tensor& images, const torch::Tensor& indices) {
  torch::InferenceMode inference;
  model->eval();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < indices.size(0); i += options_.batch) {
    auto chunk = indices.slice(0, i, i + options_.batch);
    auto x = network_input(images.index_select(0, chunk).to(device_));
    x = in_layout(x, channels_last_);
    AutocastScope autocast(precision_, device_);
    out.push_back(model->forward(x).to(torch::kFloat32).cpu());
  }
  model->train();
  return torch::cat(out);
}

void TrainingEvaluation::evaluate_validation(Nn4& model, EvaluationResult& r) {
  // Embed each validation image once.
  std::vector<int64_t> images;
  std::map<int64_t, int64_t> row;
  for (const auto& p : validation_)
    for (auto i : {p.first, p.second})
      if (row.emplace(i, static_cast<int64_t>(images.size())).second) images.push_back(i);
  auto index = torch::tensor(images, torch::kLong);
  auto embeddings = embed(model, pack_images_, index);
  if (teacher_targets_.defined()) {
    r.validation_distill = cosine_distance(embeddings, teacher_targets_.index_select(0, index));
    r.train_distill = cosine_distance(embed(model, pack_images_, train_sample_), teacher_targets_.index_select(0, train_sample_));
  }
  std::vector<std::array<int64_t, 2>> rows;
  std::vector<bool> same;
  for (const auto& p : validation_) {
    rows.push_back({row[p.first], row[p.second]});
    same.push_back(p.same);
  }
  if (validation_.size() >= 20) {  // LFW's protocol: 10 folds in order (the pairs alternate kinds)
    auto m = score_pairs(embeddings, rows, same, contiguous_folds(rows.size(), 10));
    r.accuracy = m.accuracy_mean;
    r.auc = m.auc;
    r.threshold = m.best_threshold;
  } else {  // too few to cross-validate: the best threshold's accuracy on all of them
    auto choice = best_accuracy_threshold(pair_distances(embeddings, rows, DistanceKind::squared_l2), same);
    r.accuracy = choice.accuracy;
    r.threshold = choice.threshold;
  }
  r.pairs = static_cast<int64_t>(validation_.size());
}

void TrainingEvaluation::evaluate_lfw_view1(Nn4& model, EvaluationResult& r) {
  auto embeddings = l2_normalise(embed(model, lfw_->images, torch::arange(lfw_->images.size(0))));
  auto m = score_pairs(embeddings, lfw_->rows, lfw_->same, lfw_->folds);
  r.lfw_accuracy = m.accuracy_mean;
  r.lfw_auc = m.auc;
  r.lfw_pairs = static_cast<int64_t>(lfw_->rows.size());
  if (lfw_identities_.empty()) return;
  auto strict = impostor_thresholds(embeddings, lfw_identities_, {kSelectionFar}, DistanceKind::squared_l2);
  if (strict.at.empty()) return;  // too few impostor pairs for FAR 1e-3
  auto distances = pair_distances(embeddings, lfw_->rows, DistanceKind::squared_l2);
  int64_t genuine = 0, accepted = 0;
  for (size_t i = 0; i < distances.size(); ++i) {
    if (!lfw_->same[i]) continue;
    ++genuine;
    accepted += distances[i] < strict.at[0].threshold;  // "same" is strictly below (eval/pair_scoring.h)
  }
  r.lfw_val = genuine > 0 ? static_cast<double>(accepted) / static_cast<double>(genuine) : -1;
}

}  // namespace face
