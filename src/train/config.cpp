#include "train/config.h"

#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>

#include "model/nn4.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/threads.h"

namespace face {

namespace {

// One key of the schema: how to read it (with checks), write it, and whether it is part of the
// recipe's fingerprint.
struct Field {
  std::string key, help;
  bool recipe;  // changes what is computed
  std::function<void(const YAML::Node&, const std::string& where)> set;
  std::function<YAML::Node()> get;
  // Keys added after runs were made enter the fingerprint only when set away from their default,
  // so checkpoints of older recipes still resume.
  bool hashed_at_default = true;
};

Field since_defaults(Field f) {
  f.hashed_at_default = false;
  return f;
}

template <class T>
T convert(const YAML::Node& node, const std::string& key, const std::string& where, const char* kind) {
  if (!node.IsScalar()) fail("{}: '{}' must be {}, got a {}", where, key, kind, node.IsMap() ? "mapping" : "list");
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail("{}: '{}' must be {}, got '{}'", where, key, kind, node.Scalar());
  }
}

template <class T>
Field number(const std::string& key, T& ref, T lo, T hi, bool recipe, const std::string& help) {
  const char* kind = std::is_integral_v<T> ? "an integer" : "a number";
  return {key, help, recipe,
          [&ref, key, lo, hi, kind](const YAML::Node& node, const std::string& where) {
            T value = convert<T>(node, key, where, kind);
            if (!(value >= lo && value <= hi)) {
              if (hi == std::numeric_limits<T>::max()) fail("{}: '{}' must be at least {}, got {}", where, key, lo, value);
              fail("{}: '{}' must be in [{}, {}], got {}", where, key, lo, hi, value);
            }
            ref = value;
          },
          [&ref] { return YAML::Node(ref); }};
}

Field flag(const std::string& key, bool& ref, bool recipe, const std::string& help) {
  return {key, help, recipe,
          [&ref, key](const YAML::Node& node, const std::string& where) {
            ref = convert<bool>(node, key, where, "true or false");
          },
          [&ref] { return YAML::Node(ref); }};
}

// A string, restricted to `choices` when they are given.
Field text(const std::string& key, std::string& ref, std::vector<std::string> choices, bool recipe,
           const std::string& help) {
  return {key, help, recipe,
          [&ref, key, choices](const YAML::Node& node, const std::string& where) {
            auto value = node.IsNull() ? std::string() : convert<std::string>(node, key, where, "a string");
            if (!choices.empty() && std::find(choices.begin(), choices.end(), value) == choices.end())
              fail("{}: '{}' must be one of {}, got '{}'", where, key, fmt::join(choices, ", "), value);
            ref = value;
          },
          [&ref] { return YAML::Node(ref); }};
}

// A choice among the named values of an enum: read and written by name; a name not listed fails
// naming the key and listing the choices.
template <class E>
using Names = std::vector<std::pair<std::string, E>>;

template <class E>
Field choice(const std::string& key, E& ref, Names<E> names, bool recipe, const std::string& help) {
  return {key, help, recipe,
          [&ref, key, names](const YAML::Node& node, const std::string& where) {
            auto value = node.IsNull() ? std::string() : convert<std::string>(node, key, where, "a string");
            std::vector<std::string> all;
            for (const auto& [name, e] : names) {
              if (name == value) {
                ref = e;
                return;
              }
              all.push_back(name);
            }
            fail("{}: '{}' must be one of {}, got '{}'", where, key, fmt::join(all, ", "), value);
          },
          [&ref, names] {
            for (const auto& [name, e] : names)
              if (e == ref) return YAML::Node(name);
            return YAML::Node();
          }};
}

const Names<IdentityLoss> kIdentityLosses = {
    {"triplet", IdentityLoss::triplet}, {"cosface", IdentityLoss::cosface}, {"arcface", IdentityLoss::arcface}};

constexpr double kInf = std::numeric_limits<double>::max();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// The schema, bound to one config. Order here is the order of the resolved file and the docs.
std::vector<Field> schema(TrainConfig& c) {
  auto& a = c.data.augmentation;
  return {
      text("run.name", c.run.name, {}, false, "run directory name (default: the config file's name)"),
      text("run.dir", c.run.dir, {}, false, "parent folder of run directories"),
      number<int64_t>("run.seed", c.run.seed, 0, kMax, true, "seed of model init, sampling, augmentation, mining"),
      text("model.arch", c.model.arch, nn4_architectures(), true, "network architecture"),
      number<int64_t>("model.embedding_dim", c.model.embedding_dim, 1, 4096, true, "embedding size"),
      since_defaults(text("model.init", c.model.init, {}, true,
                          "weights to start from: a checkpoint, model file or export of this arch (\"\": random)")),
      since_defaults(flag("model.revive_dead_filters", c.model.revive_dead_filters, true,
                          "re-initialise convolution filters whose weights decay erased (after model.init)")),
      text("data.pack", c.data.pack, {}, false, "aligned training pack (build it with `pack`)"),
      number("data.validation_fraction", c.data.validation_fraction, 0.0, 0.9, true,
             "fraction of identities held out for validation"),
      number<int64_t>("data.p", c.data.sampler.p, 2, 10000, true, "identities per batch (P)"),
      number<int64_t>("data.k", c.data.sampler.k, 2, 1000, true, "images per identity (K)"),
      number<int64_t>("data.min_images", c.data.sampler.min_images, 2, 1000, true, "identities with fewer images are not sampled"),
      flag("data.on_device", c.data.on_device, false, "keep the whole pack on the training device"),
      flag("data.augment", c.data.augment, true, "augment training batches"),
      flag("data.augmentation.flip", a.flip, true, "random horizontal flip"),
      number<int64_t>("data.augmentation.crop_padding", a.crop_padding, 0, 48, true, "random crop after zero padding (pixels)"),
      number("data.augmentation.brightness", a.brightness, 0.0, 1.0, true, "brightness jitter"),
      number("data.augmentation.contrast", a.contrast, 0.0, 1.0, true, "contrast jitter"),
      text("data.teacher_targets", c.data.teacher_targets, {}, false,
           "distillation: the teacher's embeddings of the pack (default: data.pack + '.teacher')"),
      since_defaults(text("data.online_teacher", c.data.online_teacher, {}, true,
                          "distillation: the teacher as a model file (export_dlib); it embeds every step's "
                          "augmented view instead of the precomputed targets (which still give the centring mean)")),
      text("data.unlabelled_pack", c.data.unlabelled_pack, {}, false,
           "distillation: a pack of faces without identities, used by the distillation terms only"),
      text("data.unlabelled_targets", c.data.unlabelled_targets, {}, false,
           "the teacher's embeddings of data.unlabelled_pack (default: its path + '.teacher')"),
      number<int64_t>("data.unlabelled_per_batch", c.data.unlabelled_per_batch, 0, 100000, true,
                      "unlabelled faces added to every P x K batch"),
      since_defaults(text("data.unlabelled_weights", c.data.unlabelled_weights, {}, true,
                          "how often each unlabelled face is drawn: '<path> <weight>' lines (default: uniformly)")),
      since_defaults(choice("loss.name", c.loss.name, kIdentityLosses, true,
                          "identity loss: triplet (FaceNet), cosface or arcface (margin softmax)")),
      number("loss.margin", c.loss.margin, 1e-6, 4.0, true, "triplet margin alpha"),
      number("loss.triplet_weight", c.loss.triplet_weight, 0.0, 1000.0, true, "weight of the triplet loss (0: off)"),
      since_defaults(number("loss.softmax.scale", c.loss.softmax.scale, 1.0, 1000.0, true,
                            "cosface/arcface: logit scale s")),
      since_defaults(number("loss.softmax.weight", c.loss.softmax.weight, 0.0, 1000.0, true,
                            "cosface/arcface: weight of the margin-softmax term (0: off)")),
      since_defaults(choice("loss.softmax.centres", c.loss.softmax.centres,
                            Names<ClassCentres>{{"learned", ClassCentres::learned}, {"prototype", ClassCentres::prototype},
                                                {"teacher", ClassCentres::teacher}},
                            true,
                          "cosface/arcface: class centres learned by the optimiser, running means of each class's "
                          "embeddings (few visits per class), or the teacher's class means (fixed; needs teacher "
                          "targets)")),
      since_defaults(number("loss.softmax.prototype_momentum", c.loss.softmax.prototype_momentum, 0.0, 0.999, true,
                            "cosface/arcface with prototype centres: share of the old centre kept per visit")),
      since_defaults(number("loss.cosface.margin", c.loss.cosface.margin, 0.0, 1.0, true,
                            "cosface: margin m subtracted from the target cosine")),
      since_defaults(number("loss.arcface.margin", c.loss.arcface.margin, 0.0, 1.5, true,
                            "arcface: margin m added to the target angle (radians)")),
      since_defaults(flag("loss.arcface.easy_margin", c.loss.arcface.easy_margin, true,
                          "arcface: apply the margin only where the target cosine is positive")),
      number("loss.distill.weight", c.loss.distill.weight, 0.0, 1000.0, true,
             "weight of the distillation loss (0: off; needs teacher targets)"),
      number("loss.distill.direct_weight", c.loss.distill.direct_weight, 0.0, 1000.0, true,
             "distillation: cosine distance to the centred teacher vector"),
      number("loss.distill.relational_weight", c.loss.distill.relational_weight, 0.0, 1000.0, true,
             "distillation: squared error of the batch's pairwise similarities against the teacher's"),
      since_defaults(number("loss.distill.centring", c.loss.distill.centring, 0.0, 1.0, true,
                            "distillation: share of the teacher vectors' mean taken off before matching (1: all)")),
      since_defaults(number("loss.low_far.weight", c.loss.low_far.weight, 0.0, 1000.0, true,
                            "weight of the low-FAR term: the teacher's decisions at strict thresholds (0: off; "
                            "needs teacher targets)")),
      since_defaults(number("loss.low_far.strictest_far", c.loss.low_far.strictest_far, 1e-6, 0.1, true,
                            "low-FAR term: FAR levels 1e-1, 1e-2, ... down to this one")),
      since_defaults(number("loss.low_far.temperature", c.loss.low_far.temperature, 1e-4, 1.0, true,
                            "low-FAR term: temperature of the soft decisions (cosine units)")),
      since_defaults(number("loss.low_far.momentum", c.loss.low_far.momentum, 0.0, 0.9999, true,
                            "low-FAR term: moving average of the thresholds (share of the old value kept)")),
      choice("mining.strategy", c.mining.strategy,
             Names<MiningStrategy>{{"semihard", MiningStrategy::semihard}, {"hard", MiningStrategy::hard},
                                   {"batch_all", MiningStrategy::batch_all}, {"margin", MiningStrategy::margin}},
             true, "online mining"),
      choice("mining.fallback", c.mining.fallback,
             Names<MiningFallback>{{"hardest", MiningFallback::hardest}, {"random", MiningFallback::random},
                                   {"skip", MiningFallback::skip}},
             true,
           "semihard: negative used when none lies in the band"),
      choice("optimiser.name", c.optimiser.name,
             Names<OptimiserKind>{{"adam", OptimiserKind::adam}, {"adamw", OptimiserKind::adamw},
                                  {"adagrad", OptimiserKind::adagrad}, {"sgd", OptimiserKind::sgd}},
             true, "optimiser"),
      number("optimiser.lr", c.optimiser.lr, 1e-12, 10.0, true, "peak learning rate"),
      number("optimiser.weight_decay", c.optimiser.weight_decay, 0.0, 1.0, true,
             "weight decay (L2 in the gradient; adamw: decoupled)"),
      number("optimiser.momentum", c.optimiser.momentum, 0.0, 0.999999, true, "sgd momentum"),
      number("optimiser.beta1", c.optimiser.beta1, 0.0, 0.999999, true, "adam beta1"),
      number("optimiser.beta2", c.optimiser.beta2, 0.0, 0.999999, true, "adam beta2"),
      number("optimiser.eps", c.optimiser.eps, 1e-16, 1.0, true, "adam/adagrad epsilon"),
      choice("schedule.name", c.schedule.name,
             Names<ScheduleKind>{{"constant", ScheduleKind::constant}, {"step", ScheduleKind::step},
                                 {"cosine", ScheduleKind::cosine}},
             true, "learning-rate schedule"),
      number<int64_t>("schedule.warmup_steps", c.schedule.warmup_steps, 0, kMax, true, "linear warm-up steps"),
      number<int64_t>("schedule.step_size", c.schedule.step_size, 1, kMax, true, "step: steps between decays"),
      number("schedule.gamma", c.schedule.gamma, 1e-9, 1.0, true, "step: decay factor"),
      number("schedule.min_lr_ratio", c.schedule.min_lr_ratio, 0.0, 1.0, true, "cosine: final lr / peak lr"),
      number<int64_t>("length.steps", c.length.steps, 0, kMax, false, "optimiser steps (0: use epochs)"),
      number("length.epochs", c.length.epochs, 0.0, kInf, false, "passes over the training identities"),
      text("runtime.device", c.runtime.device, {}, false, "cpu, cuda or cuda:N"),
      text("runtime.precision", c.runtime.precision, {"auto", "fp32", "bf16"}, false,
           "bf16 = autocast (fp32 master weights); auto = bf16 where the CPU or GPU computes it natively"),
      flag("runtime.channels_last", c.runtime.channels_last, false, "channels-last memory format"),
      flag("runtime.cudnn_benchmark", c.runtime.cudnn_benchmark, false, "cuDNN autotuning"),
      number<int64_t>("runtime.threads", c.runtime.threads, 0, int64_t{kMaxThreads}, false, "CPU intra-op threads (0 = all cores)"),
      flag("runtime.flush_denormals", c.runtime.flush_denormals, false,
           "flush-to-zero and denormals-are-zero in every CPU thread"),
      number<int64_t>("checkpoint.every_steps", c.checkpoint.every_steps, 0, kMax, false, "checkpoint every N steps"),
      number("checkpoint.every_minutes", c.checkpoint.every_minutes, 0.0, kInf, false, "checkpoint every N minutes"),
      number<int64_t>("checkpoint.keep_last", c.checkpoint.keep_last, 1, 100000, false, "periodic checkpoints kept"),
      number<int64_t>("evaluation.every_steps", c.evaluation.every_steps, 0, kMax, false, "evaluate every N steps"),
      flag("evaluation.at_start", c.evaluation.at_start, false, "also evaluate before the first step"),
      number<int64_t>("evaluation.max_pairs", c.evaluation.max_pairs, 2, kMax, true, "validation pairs"),
      number<int64_t>("evaluation.batch", c.evaluation.batch, 1, 100000, false, "images per forward when embedding"),
      number<int64_t>("evaluation.precise_bn_batches", c.evaluation.precise_bn_batches, 0, 100000, false,
                      "recompute batch-norm statistics on N training batches before evaluating (0 = off)"),
      text("evaluation.lfw_pack", c.evaluation.lfw_pack, {}, false, "LFW pack for View 1 evaluation"),
      text("evaluation.lfw_pairs", c.evaluation.lfw_pairs, {}, false, "LFW View 1 pairsDevTest.txt"),
      choice("evaluation.select_by", c.evaluation.select_by,
             Names<SelectBy>{{"validation", SelectBy::validation}, {"lfw_view1", SelectBy::lfw_view1},
                             {"lfw_view1_val", SelectBy::lfw_view1_val}},
             false,
           "score that selects best.pt"),
      number<int64_t>("logging.every_steps", c.logging.every_steps, 1, kMax, false, "telemetry every N steps"),
      flag("logging.progress", c.logging.progress, false, "progress bar / lines"),
      number<int64_t>("guard.max_nonfinite_in_row", c.guard.max_nonfinite_in_row, 1, kMax, false,
                      "stop after this many non-finite steps in a row"),
      // Not part of the fingerprint, like the world size: a run may resume with other settings.
      flag("distributed.mine_global", c.distributed.mine_global, false,
           "distributed: all-gather embeddings and mine across the global batch (default: per rank)"),
      number("distributed.timeout_seconds", c.distributed.timeout_seconds, 1.0, 86400.0, false,
             "distributed: seconds a collective waits for peers before the run fails"),
      number("distributed.bucket_mb", c.distributed.bucket_mb, 0.01, 1024.0, false,
             "distributed: gradient all-reduce bucket size (MB)"),
  };
}

const Field* find_field(const std::vector<Field>& fields, const std::string& key) {
  for (const auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

bool is_section(const std::vector<Field>& fields, const std::string& prefix) {
  for (const auto& f : fields)
    if (f.key.rfind(prefix + ".", 0) == 0) return true;
  return false;
}

void apply_map(const YAML::Node& map, const std::string& prefix, const std::vector<Field>& fields,
               const std::string& file) {
  std::map<std::string, int> seen;  // key -> line: YAML loaders keep the last of two equal keys silently
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
    std::string where = fmt::format("{} line {}", file, it->first.Mark().line + 1);
    auto [first, fresh] = seen.emplace(key, it->first.Mark().line + 1);
    if (!fresh) fail("{}: '{}' is given twice (lines {} and {})", where, key, first->second, it->first.Mark().line + 1);
    if (const Field* f = find_field(fields, key)) {
      f->set(it->second, where);
    } else if (is_section(fields, key)) {
      if (!it->second.IsMap()) fail("{}: '{}' must be a mapping of keys", where, key);
      apply_map(it->second, key, fields, file);
    } else {
      fail("{}: unknown key '{}'", where, key);
    }
  }
}

void check_rules(const TrainConfig& c) {
  if (c.data.pack.empty()) fail("config: 'data.pack' is required (an aligned training pack)");
  if (c.length.steps == 0 && c.length.epochs <= 0) fail("config: set 'length.steps' or 'length.epochs'");
  const auto& d = c.runtime.device;
  if (d != "cpu" && d != "cuda" && d.rfind("cuda:", 0) != 0)
    fail("config: 'runtime.device' must be cpu, cuda or cuda:N, got '{}'", d);
  const bool softmax = c.loss.margin_softmax();
  if ((softmax ? c.loss.softmax.weight : c.loss.triplet_weight) == 0 && !c.loss.uses_teacher())
    fail("config: 'loss.{}', 'loss.distill.weight' and 'loss.low_far.weight' are all 0: nothing to learn from",
         softmax ? "softmax.weight" : "triplet_weight");
  if (c.loss.distill.weight > 0 && c.loss.distill.direct_weight == 0 && c.loss.distill.relational_weight == 0)
    fail("config: 'loss.distill.weight' is set but both of its terms have weight 0");
  if (c.data.unlabelled_pack.empty() != (c.data.unlabelled_per_batch == 0))
    fail("config: 'data.unlabelled_pack' and 'data.unlabelled_per_batch' go together: set both or neither");
  if (!c.data.unlabelled_weights.empty() && c.data.unlabelled_pack.empty())
    fail("config: 'data.unlabelled_weights' weighs the faces of 'data.unlabelled_pack', which is not set");
  if (!c.data.online_teacher.empty() && !c.loss.uses_teacher())
    fail("config: 'data.online_teacher' teaches through the teacher's terms: set 'loss.distill.weight' (or "
         "'loss.low_far.weight')");
  if (!c.data.unlabelled_pack.empty() && !c.loss.uses_teacher())
    fail("config: unlabelled faces ('data.unlabelled_pack') only teach through the teacher: set 'loss.distill.weight' "
         "or 'loss.low_far.weight'");
  // LFW View 1: the pack of LFW images and the pair list only make sense together (the files
  // themselves are checked when the trainer starts, before any step).
  const auto& e = c.evaluation;
  if (e.lfw_pack.empty() != e.lfw_pairs.empty())
    fail("config: LFW View 1 evaluation needs both 'evaluation.lfw_pack' (a pack of aligned LFW images) and "
         "'evaluation.lfw_pairs' (pairsDevTest.txt); set both or neither");
  if (e.select_by != SelectBy::validation && e.lfw_pairs.empty())
    fail("config: 'evaluation.select_by: {}' needs 'evaluation.lfw_pack' and 'evaluation.lfw_pairs'",
         e.select_by == SelectBy::lfw_view1 ? "lfw_view1" : "lfw_view1_val");
}

}  // namespace

TrainConfig load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  TrainConfig config;
  auto fields = schema(config);
  if (!path.empty()) {
    if (!std::filesystem::exists(path)) fail("config file '{}' does not exist", path.string());
    YAML::Node root;
    try {
      root = YAML::LoadFile(path.string());
    } catch (const YAML::Exception& e) {
      fail("config '{}' line {}: malformed YAML: {}", path.string(), e.mark.line + 1, e.msg);
    }
    if (root.IsDefined() && !root.IsNull()) {
      if (!root.IsMap()) fail("config '{}': the top level must be a mapping of sections", path.string());
      apply_map(root, "", fields, fmt::format("config '{}'", path.string()));
    }
    if (config.run.name.empty()) config.run.name = path.stem().string();
  }
  for (const auto& assignment : overrides) {
    auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) fail("--set '{}': expected key=value", assignment);
    std::string key = assignment.substr(0, eq);
    const Field* f = find_field(fields, key);
    if (!f) fail("--set '{}': unknown key '{}'", assignment, key);
    YAML::Node value;
    try {
      value = YAML::Load(assignment.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      fail("--set '{}': malformed value: {}", assignment, e.msg);
    }
    f->set(value, fmt::format("--set '{}'", assignment));
  }
  if (config.run.name.empty()) config.run.name = "run";
  check_rules(config);
  return config;
}

std::string TrainConfig::to_yaml() const {
  TrainConfig copy = *this;
  // The schema lists each section's keys together, so nesting follows the key prefixes.
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;  // sections currently open
  for (const auto& f : schema(copy)) {
    std::vector<std::string> parts;
    for (size_t start = 0, dot;; start = dot + 1) {
      dot = f.key.find('.', start);
      parts.push_back(f.key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
    }
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    for (; open.size() > common; open.pop_back()) out << YAML::EndMap;
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out << YAML::Key << parts[i] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[i]);
    }
    out << YAML::Key << parts.back() << YAML::Value << f.get();
  }
  for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string TrainConfig::fingerprint() const {
  TrainConfig copy = *this, defaults;
  auto default_fields = schema(defaults);
  auto emit = [](const Field& f) {
    YAML::Emitter out;
    out << f.get();
    return std::string(out.c_str());
  };
  Fnv1a hash;
  for (const auto& f : schema(copy)) {
    if (!f.recipe) continue;
    auto value = emit(f);
    if (!f.hashed_at_default && value == emit(*find_field(default_fields, f.key))) continue;
    hash.update(f.key).update("=").update(value).update("\n");
  }
  return hash.hex();
}

std::string choice_name(IdentityLoss loss) {
  for (const auto& [name, e] : kIdentityLosses)
    if (e == loss) return name;
  return "?";
}

std::vector<std::pair<std::string, std::string>> config_keys() {
  TrainConfig c;
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& f : schema(c)) keys.emplace_back(f.key, f.help);
  return keys;
}

}  // namespace face
