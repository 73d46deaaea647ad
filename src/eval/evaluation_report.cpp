#include "eval/evaluation_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "util/hash.h"
#include "util/run_info.h"

namespace face {

namespace {

using Json = nlohmann::ordered_json;  // keys in the order written

// "1e-3" style labels for FAR targets.
std::string far_label(double far) {
  int exponent = static_cast<int>(std::lround(std::log10(far)));
  if (std::abs(far - std::pow(10.0, exponent)) < 1e-12 * far) return fmt::format("1e{}", exponent);
  return fmt::format("{}", far);
}

constexpr size_t kExamples = 20;  // image paths listed per kind of skip

Json first(const std::vector<std::string>& items, size_t limit) {
  return std::vector<std::string>(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(std::min(limit, items.size())));
}

Json object_of(const std::vector<std::pair<std::string, std::string>>& entries) {
  Json out = Json::object();
  for (const auto& [key, value] : entries) out[key] = value;
  return out;
}

}  // namespace

std::string config_fingerprint(const EvaluationRecord& r) {
  Fnv1a h;
  h.update(r.model_fingerprint).update("\n");
  for (const auto& [name, value] : r.options) h.update(name).update("=").update(value).update("\n");
  return h.hex();
}

// Non-finite numbers (a metric that could not be computed) are written as null.
std::string evaluation_json(const EvaluationRecord& r, const VerificationMetrics& m) {
  Json val = Json::array(), folds = Json::array(), timings = Json::object();
  for (const auto& v : m.val)
    val.push_back({{"far_target", v.far_target}, {"val_mean", v.val_mean}, {"val_std", v.val_std}, {"far_mean", v.far_mean}});
  for (size_t f = 0; f < m.folds.size(); ++f)
    folds.push_back({{"fold", f}, {"pairs", m.folds[f].pairs}, {"threshold", m.folds[f].threshold},
                     {"accuracy", m.folds[f].accuracy}});
  for (const auto& [name, seconds] : r.timings) timings[name] = std::round(seconds * 1000) / 1000;
  Json impostor = nullptr;
  if (r.impostor) {
    Json at = Json::array();
    for (const auto& t : r.impostor->at)
      at.push_back({{"far_target", t.far_target}, {"threshold", t.threshold}, {"accepted", t.accepted}});
    impostor = {{"images", r.impostor->images}, {"identities", r.impostor->identities},
                {"impostor_pairs", r.impostor->impostor_pairs}, {"at", at}};
  }
  Json report = {
      {"tool", "evaluate"},
      {"run_info", run_info()},
      {"model", {{"kind", r.model_kind}, {"description", r.model_description}, {"fingerprint", r.model_fingerprint}}},
      {"config", {{"fingerprint", config_fingerprint(r)}, {"options", object_of(r.options)}}},
      {"pairs",
       {{"file", r.pairs_file}, {"format", r.pairs_format}, {"checksum", r.pairs_checksum}, {"folds", r.pairs_folds},
        {"listed", r.pairs_listed}, {"scored", r.pairs_scored}, {"skipped", r.pairs_listed - r.pairs_scored},
        {"same", r.pairs_same}, {"different", r.pairs_different}}},
      {"images",
       {{"source", r.image_source}, {"distinct", r.images_distinct}, {"embedded", r.images_embedded},
        {"missing", r.missing.size()}, {"missing_examples", first(r.missing, kExamples)},
        {"unreadable", r.unreadable.size()}, {"unreadable_examples", first(r.unreadable, kExamples)},
        {"align_fallback", r.align_fallback}}},
      {"metrics",
       {{"distance", r.distance}, {"accuracy_mean", m.accuracy_mean}, {"accuracy_std", m.accuracy_std}, {"val", val},
        {"auc", m.auc}, {"eer", m.eer}, {"best_threshold", m.best_threshold}, {"best_accuracy", m.best_accuracy}}},
      {"folds", folds},
      {"impostor_thresholds", impostor},
      {"timings_s", timings},
      {"warnings", r.warnings},
      {"outputs", object_of(r.outputs)},
  };
  return report.dump(2) + "\n";
}

std::string roc_csv(const VerificationMetrics& m) {
  std::string out = "threshold,far,tar\n";
  for (const auto& p : m.roc) out += fmt::format("{},{},{}\n", p.threshold, p.far, p.tar);
  return out;
}

std::string pair_scores_csv(const std::vector<ImagePair>& pairs, const std::vector<int>& folds,
                            const std::vector<double>& distances) {
  std::string out = "first,second,same,fold,distance\n";
  for (size_t i = 0; i < pairs.size(); ++i)
    out += fmt::format("{},{},{},{},{}\n", pairs[i].first, pairs[i].second, pairs[i].same ? 1 : 0, folds[i],
                       distances[i]);
  return out;
}

std::string evaluation_summary(const EvaluationRecord& r, const VerificationMetrics& m) {
  std::string out = fmt::format("{} ({}, {} pairs scored of {}), {} folds\n", r.pairs_file, r.pairs_format,
                                r.pairs_scored, r.pairs_listed, m.folds.size());
  out += fmt::format("model: {} [{}]\n", r.model_description, r.model_fingerprint);
  out += fmt::format("  accuracy        {:.4f} +- {:.4f}  (threshold chosen on the other folds)\n", m.accuracy_mean,
                     m.accuracy_std);
  for (const auto& v : m.val)
    out += fmt::format("  VAL@FAR={:<6}   {:.4f} +- {:.4f}  (FAR {:.5f})\n", far_label(v.far_target), v.val_mean,
                       v.val_std, v.far_mean);
  out += fmt::format("  ROC AUC         {:.4f}\n  EER             {:.4f}\n", m.auc, m.eer);
  out += fmt::format("  best threshold  {:.4f} ({} distance; accuracy {:.4f} on all pairs)\n", m.best_threshold,
                     r.distance, m.best_accuracy);
  if (r.impostor)
    for (const auto& t : r.impostor->at)
      out += fmt::format("  FAR {:<6} at   {:.4f} (over all {} pairs of different people among the images)\n",
                         far_label(t.far_target), t.threshold, r.impostor->impostor_pairs);
  out += "  fold:      ";
  for (size_t f = 0; f < m.folds.size(); ++f) out += fmt::format("{:>7}", f + 1);
  out += "\n  threshold: ";
  for (const auto& f : m.folds) out += fmt::format("{:>7.3f}", f.threshold);
  out += "\n  accuracy:  ";
  for (const auto& f : m.folds) out += fmt::format("{:>7.3f}", f.accuracy);
  out += fmt::format("\n  images: {} distinct, {} embedded, {} missing, {} unreadable, {} alignment fallbacks\n",
                     r.images_distinct, r.images_embedded, r.missing.size(), r.unreadable.size(), r.align_fallback);
  double total = 0;
  std::string stages;
  for (const auto& [stage, seconds] : r.timings) {
    if (stage == "total") total = seconds;
    else stages += fmt::format("{}{} {:.1f}", stages.empty() ? "" : ", ", stage, seconds);
  }
  out += fmt::format("  time: {:.1f} s ({})\n", total, stages);
  return out;
}

}  // namespace face
