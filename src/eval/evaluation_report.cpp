#include "eval/evaluation_report.h"

#include <fmt/format.h>

#include <cmath>

#include "util/hash.h"
#include "util/run_info.h"

namespace face {

namespace {

std::string number(double x) { return std::isfinite(x) ? fmt::format("{}", x) : "null"; }

std::string string_array(const std::vector<std::string>& items, size_t limit) {
  std::string out = "[";
  for (size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + json_quote(items[i]);
  return out + "]";
}

// "1e-3" style labels for FAR targets.
std::string far_label(double far) {
  int exponent = static_cast<int>(std::lround(std::log10(far)));
  if (std::abs(far - std::pow(10.0, exponent)) < 1e-12 * far) return fmt::format("1e{}", exponent);
  return fmt::format("{}", far);
}

constexpr size_t kExamples = 20;  // image paths listed per kind of skip

}  // namespace

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string config_fingerprint(const EvaluationRecord& r) {
  Fnv1a h;
  h.update(r.model_fingerprint).update("\n");
  for (const auto& [name, value] : r.options) h.update(name).update("=").update(value).update("\n");
  return h.hex();
}

std::string evaluation_json(const EvaluationRecord& r, const VerificationMetrics& m) {
  std::string options;
  for (size_t i = 0; i < r.options.size(); ++i)
    options += fmt::format("{}{}: {}", i ? ", " : "", json_quote(r.options[i].first), json_quote(r.options[i].second));
  std::string val;
  for (size_t i = 0; i < m.val.size(); ++i)
    val += fmt::format(R"({}{{"far_target": {}, "val_mean": {}, "val_std": {}, "far_mean": {}}})", i ? ", " : "",
                       number(m.val[i].far_target), number(m.val[i].val_mean), number(m.val[i].val_std),
                       number(m.val[i].far_mean));
  std::string folds;
  for (size_t f = 0; f < m.folds.size(); ++f)
    folds += fmt::format(R"({}    {{"fold": {}, "pairs": {}, "threshold": {}, "accuracy": {}}})", f ? ",\n" : "", f,
                         m.folds[f].pairs, number(m.folds[f].threshold), number(m.folds[f].accuracy));
  std::string timings;
  for (size_t i = 0; i < r.timings.size(); ++i)
    timings += fmt::format("{}{}: {}", i ? ", " : "", json_quote(r.timings[i].first),
                           number(std::round(r.timings[i].second * 1000) / 1000));
  std::string outputs;
  for (size_t i = 0; i < r.outputs.size(); ++i)
    outputs += fmt::format("{}{}: {}", i ? ", " : "", json_quote(r.outputs[i].first), json_quote(r.outputs[i].second));

  std::string out = "{\n";
  out += "  \"tool\": \"evaluate\",\n";
  out += fmt::format("  \"run_info\": {},\n", run_info_json());
  out += fmt::format("  \"model\": {{\"kind\": {}, \"description\": {}, \"fingerprint\": {}}},\n",
                     json_quote(r.model_kind), json_quote(r.model_description), json_quote(r.model_fingerprint));
  out += fmt::format("  \"config\": {{\"fingerprint\": {}, \"options\": {{{}}}}},\n", json_quote(config_fingerprint(r)),
                     options);
  out += fmt::format(
      "  \"pairs\": {{\"file\": {}, \"format\": {}, \"checksum\": {}, \"folds\": {}, \"listed\": {}, \"scored\": {}, "
      "\"skipped\": {}, \"same\": {}, \"different\": {}}},\n",
      json_quote(r.pairs_file), json_quote(r.pairs_format), json_quote(r.pairs_checksum), r.pairs_folds,
      r.pairs_listed, r.pairs_scored, r.pairs_listed - r.pairs_scored, r.pairs_same, r.pairs_different);
  out += fmt::format(
      "  \"images\": {{\"source\": {}, \"distinct\": {}, \"embedded\": {}, \"missing\": {}, \"missing_examples\": {}, "
      "\"unreadable\": {}, \"unreadable_examples\": {}, \"align_fallback\": {}}},\n",
      json_quote(r.image_source), r.images_distinct, r.images_embedded, r.missing.size(),
      string_array(r.missing, kExamples), r.unreadable.size(), string_array(r.unreadable, kExamples), r.align_fallback);
  out += fmt::format(
      "  \"metrics\": {{\"distance\": {}, \"accuracy_mean\": {}, \"accuracy_std\": {}, \"val\": [{}], \"auc\": {}, "
      "\"eer\": {}, \"best_threshold\": {}, \"best_accuracy\": {}}},\n",
      json_quote(r.distance), number(m.accuracy_mean), number(m.accuracy_std), val, number(m.auc), number(m.eer),
      number(m.best_threshold), number(m.best_accuracy));
  out += fmt::format("  \"folds\": [\n{}\n  ],\n", folds);
  out += fmt::format("  \"timings_s\": {{{}}},\n", timings);
  out += fmt::format("  \"warnings\": {},\n", string_array(r.warnings, r.warnings.size()));
  out += fmt::format("  \"outputs\": {{{}}}\n", outputs);
  return out + "}\n";
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
