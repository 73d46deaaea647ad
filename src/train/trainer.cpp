#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/augment.h"
#include "data/identity_split.h"
#include "data/normalisation.h"
#include "data/validation_pairs.h"
#include "eval/pair_scoring.h"
#include "eval/verification_metrics.h"
#include "model/memory_format.h"
#include "model/precision.h"
#include "train/distillation_loss.h"
#include "train/distributed.h"
#include "train/hooks.h"
#include "train/margin_softmax_loss.h"
#include "train/optimiser.h"
#include "train/teacher_targets.h"
#include "train/triplet_loss.h"
#include "util/atomic_file.h"
#include "util/device.h"
#include "util/denormals.h"
#include "util/error.h"
#include "util/run_info.h"
#include "util/threads.h"

namespace face {
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};

// uint8 pack images -> the network's float input, resized when the pack is not 96x96.
torch::Tensor model_input(const torch::Tensor& images) {
  auto x = to_model_input(images);
  if (x.size(2) == kInputSize && x.size(3) == kInputSize) return x;
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{kInputSize, kInputSize})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(true));
}

// Mean distance between different rows, from a (B, B) squared-distance matrix: a collapse shows as 0.
torch::Tensor embedding_spread(const torch::Tensor& d) {
  const int64_t b = d.size(0);
  return d.clamp_min(0).sqrt().sum() / static_cast<double>(b * std::max<int64_t>(1, b - 1));
}

}  // namespace

void Trainer::request_stop() { g_stop.store(true); }
bool Trainer::stopping() const {
  // Distributed: a signal counts once every rank knows of it (agreed in step()).
  return (dist_ ? global_stop_ : g_stop.load()) || (stop_after_ > 0 && state_.step - start_step_ >= stop_after_);
}
bool Trainer::is_main() const { return !dist_ || dist_->is_main(); }
int Trainer::world_size() const { return dist_ ? dist_->world_size() : 1; }

// Setting up a run, in the order of the data flow; each stage is one member function below.
Trainer::Trainer(TrainConfig config, Pack pack, TrainerOptions options)
    : config_(std::move(config)), device_(parse_device(config_.runtime.device)), pack_(std::move(pack)),
      stop_after_(options.stop_after) {
  g_stop.store(false);
  start_runtime();                               // threads, device, distributed ranks, seeds
  IdentitySplit split = split_identities();      // sampler over training identities, validation pairs
  if (!config_.evaluation.lfw_pairs.empty()) load_lfw_view1();  // before any work: a bad file stops here
  if (config_.loss.distill.weight > 0) load_distillation_targets(split.train);
  // Data on the device as uint8; converted per batch.
  images_ = config_.data.on_device ? pack_.images.to(device_) : pack_.images;
  labels_ = pack_.labels.to(device_);
  nan_ = torch::full({}, std::nan(""), torch::TensorOptions().device(device_));
  build_model(split);                            // network, class centres, optimiser
  int64_t per_epoch = (sampler_->eligible_identities() + config_.data.p - 1) / config_.data.p;
  total_steps_ = config_.length.steps > 0
                     ? config_.length.steps
                     : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config_.length.epochs * per_epoch)));
  state_.config_fingerprint = config_.fingerprint();
  run_dir_ = fs::path(config_.run.dir) / config_.run.name;
  resume_or_start(options);
  if (dist_) join_ranks();
  if (is_main()) {
    write_run_record(split, options);
    hooks_.push_back(std::make_unique<TelemetryHook>());
    hooks_.push_back(std::make_unique<EvaluationHook>());
  }
  hooks_.push_back(std::make_unique<CheckpointHook>());
}

// Distributed (torchrun): one device per process, the cores shared between this node's ranks.
void Trainer::start_runtime() {
  auto launch = read_launch_environment();
  int64_t threads = config_.runtime.threads;
  if (launch) {
    if (device_.is_cuda() && config_.runtime.device == "cuda") device_ = torch::Device(torch::kCUDA, launch->local_rank);
    const char* local_world = std::getenv("LOCAL_WORLD_SIZE");
    if (threads == 0 && local_world && std::atoi(local_world) > 1)
      threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::atoi(local_world));
  }
  configure_threads(static_cast<int>(threads));
  precision_ = resolve_precision(config_.runtime.precision, device_);
  set_flush_denormals(config_.runtime.flush_denormals);
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(config_.runtime.cudnn_benchmark);
  if (launch)
    dist_ = std::make_unique<Distributed>(
        *launch, device_, DistributedOptions{config_.distributed.timeout_seconds, config_.distributed.bucket_mb});
  if (is_main())
    fmt::print("precision: {} (runtime.precision {}; {})\n", precision_name(precision_), config_.runtime.precision,
               bf16_support(device_));
  torch::manual_seed(rank_seed(config_.run.seed, dist_ ? dist_->rank() : 0));
  check_miner_options(miner_ = {config_.mining.strategy, config_.mining.fallback, config_.loss.margin});
}

// Training identities feed the sampler, held-out ones the validation pairs.
IdentitySplit Trainer::split_identities() {
  std::vector<int64_t> labels(pack_.labels.data_ptr<int64_t>(), pack_.labels.data_ptr<int64_t>() + pack_.size());
  auto split = split_by_identity(labels, pack_.identities, config_.data.validation_fraction, config_.run.seed);
  train_images_ = split.train;
  for (auto i : train_images_) sampler_labels_.push_back(labels[i]);
  sampler_ = std::make_unique<PxkSampler>(
      sampler_labels_, PxkOptions{config_.data.p, config_.data.k, config_.data.min_images,
                               rank_seed(static_cast<uint64_t>(config_.run.seed), dist_ ? dist_->rank() : 0)});
  validation_pairs_ = validation_pairs(labels, split.validation, config_.evaluation.max_pairs, config_.run.seed + 1);
  return split;
}

void Trainer::build_model(const IdentitySplit& split) {
  model_ = Nn4(Nn4Options(config_.model.arch).embedding_dim(config_.model.embedding_dim).seed(config_.run.seed));
  model_->to(device_);
  if (config_.runtime.channels_last) use_channels_last(*model_);
  if (config_.loss.margin_softmax()) make_class_centres(split.train);
  optimiser_ = make_optimiser(config_.optimiser, trained_parameters());
}

// Every rank starts from rank 0's weights and statistics; gradients are averaged from here on.
void Trainer::join_ranks() {
  auto tensors = trained_parameters();
  for (auto& b : model_->buffers()) tensors.push_back(b);
  dist_->broadcast(tensors);
  reducer_ = std::make_unique<GradientReducer>(*dist_, trained_parameters(), config_.distributed.bucket_mb);
  if (is_main())
    fmt::print("distributed: {} ranks ({}), {} gradient buckets, mining {}\n", dist_->world_size(),
               dist_->backend_name(), reducer_->buckets(), config_.distributed.mine_global ? "global" : "per rank");
}

// config.resolved.yaml and run.json: what reproduces the run.
void Trainer::write_run_record(const IdentitySplit& split, const TrainerOptions& options) {
  write_file_atomic(run_dir_ / "config.resolved.yaml", config_.to_yaml());
  nlohmann::ordered_json run = {
      {"run_info", run_info()},          {"seed", config_.run.seed},
      {"config_fingerprint", state_.config_fingerprint}, {"pack_fingerprint", pack_.source_fingerprint},
      {"command_line", options.command_line},            {"resumed_from_step", start_step_},
      {"train_identities", split.train_identities},      {"validation_identities", split.validation_identities},
      {"validation_pairs", validation_pairs_.size()},    {"world_size", world_size()},
      {"precision", precision_name(precision_)},         {"bf16_support", bf16_support(device_)}};
  write_file_atomic(run_dir_ / "run.json", run.dump(2) + "\n");
}

Trainer::~Trainer() = default;

void Trainer::add_hook(std::unique_ptr<Hook> hook) { hooks_.push_back(std::move(hook)); }

void Trainer::resume_or_start(const TrainerOptions& options) {
  std::error_code ec;
  fs::create_directories(run_dir_, ec);
  if (ec) fail("cannot create the run directory '{}' (run.dir, run.name): {}", run_dir_.string(), ec.message());
  std::optional<fs::path> from;
  if (options.resume == "auto") {
    std::vector<std::string> warnings;
    from = find_resumable(run_dir_, &warnings);
    for (const auto& w : warnings)
      if (is_main()) fmt::print(stderr, "warning: {}\n", w);
    if (!from && is_main())
      fmt::print(stderr, "no checkpoint to resume in '{}': starting from step 0\n", run_dir_.string());
  } else if (!options.resume.empty()) {
    from = fs::path(options.resume);
  } else if (!list_checkpoints(run_dir_).empty()) {
    fail("run directory '{}' already holds checkpoints: resume it with --resume auto, or set run.name",
         run_dir_.string());
  }
  if (!from) return;
  state_ = load_checkpoint(*from, model_, *optimiser_, device_, state_.config_fingerprint, class_centres_);
  sampler_->restore(state_.sampler);
  start_step_ = state_.step;
  restore_rank_streams();
  if (is_main()) {
    fmt::print(stderr, "resuming from '{}' at step {}\n", from->string(), start_step_);
    tidy_run_dir_for_resume(*from);
  }
}

// A run killed after its last checkpoint logged steps that the resumed run will log again, and
// may have left a temporary being written: metrics.jsonl keeps each step once (rows past the
// checkpoint are dropped), and temporaries older than the checkpoint are removed.
void Trainer::tidy_run_dir_for_resume(const fs::path& checkpoint) {
  std::error_code ec;
  auto checkpoint_time = fs::last_write_time(checkpoint, ec);
  for (const auto& entry : fs::directory_iterator(run_dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos &&
        entry.last_write_time(ec) < checkpoint_time) {
      fs::remove(entry.path(), ec);
      if (!ec) fmt::print(stderr, "removed a stray temporary of an interrupted write: '{}'\n", entry.path().string());
    }
  }
  fs::path metrics = run_dir_ / "metrics.jsonl";
  if (!fs::exists(metrics, ec)) return;
  std::string kept;
  int64_t dropped = 0;
  std::istringstream lines(read_file(metrics));
  for (std::string line; std::getline(lines, line);) {
    auto row = nlohmann::json::parse(line, nullptr, false);
    if (!row.is_discarded() && row.is_object() && row.value("step", int64_t{0}) > start_step_) {
      ++dropped;
      continue;
    }
    kept += line + "\n";
  }
  if (dropped == 0) return;
  write_file_atomic(metrics, kept);
  fmt::print(stderr, "metrics.jsonl: dropped {} row(s) logged after step {} (they are logged again)\n", dropped,
             start_step_);
}

// load_checkpoint restored rank 0's sampler and generators. Other ranks take theirs from the
// checkpoint when it was written by as many ranks; otherwise every rank's stream is re-derived
// from (seed, rank, step): training continues correctly, but not as the old world would have.
void Trainer::restore_rank_streams() {
  const int rank = dist_ ? dist_->rank() : 0, world = world_size();
  const bool has_streams = state_.world_size == world && (world == 1 || state_.rank_samplers.size() == size_t(world));
  if (has_streams) {
    if (rank == 0) return;
    sampler_->restore(state_.rank_samplers[rank]);
    set_generator_state(at::detail::getDefaultCPUGenerator(), state_.rank_rng_cpu.at(rank));
    if (device_.is_cuda() && state_.rank_rng_cuda.size() == size_t(world))
      set_generator_state(at::globalContext().defaultGenerator(device_), state_.rank_rng_cuda[rank]);
    return;
  }
  if (is_main())
    fmt::print(stderr, "warning: the checkpoint was written by {} rank(s){}, this run has {}: every rank's sampling "
               "and random streams are re-derived from (run.seed, rank, step {}), so the batches differ from those "
               "the original run would have drawn\n",
               state_.world_size, state_.world_size == world ? " without their streams (best.pt)" : "", world,
               state_.step);
  auto seed = rank_seed(static_cast<uint64_t>(config_.run.seed), rank, std::max<int64_t>(1, state_.step));
  sampler_ = std::make_unique<PxkSampler>(sampler_labels_, PxkOptions{config_.data.p, config_.data.k,
                                                                      config_.data.min_images, seed});
  torch::manual_seed(seed);
}

Trainer::Outcome Trainer::train() {
  for (auto& h : hooks_) h->before_train(*this);
  while (state_.step < total_steps_ && !stopping()) {
    step();
    for (auto& h : hooks_) h->after_step(*this);
  }
  for (auto& h : hooks_) h->after_train(*this);
  return state_.step < total_steps_ ? Outcome::stopped : Outcome::finished;
}

// The next P x K batch (plus the unlabelled faces when distilling), on the device, augmented and
// in the model's layout. Rows: the labelled faces first, then the unlabelled ones.
Trainer::Batch Trainer::next_batch() {
  // Indices on the host (cheap), mapped to pack images, sent to the device without waiting.
  auto positions = sampler_->next();
  std::vector<int64_t> indices;
  indices.reserve(positions.size());
  for (auto p : positions) indices.push_back(train_images_[p]);
  auto index = torch::tensor(indices, torch::kLong);
  if (device_.is_cuda()) index = index.pin_memory();
  auto on_device = index.to(device_, /*non_blocking=*/true);
  Batch b;
  b.labels = labels_.index_select(0, on_device);
  auto images = images_.index_select(0, images_.is_cuda() == device_.is_cuda() ? on_device : index)
                    .to(device_, /*non_blocking=*/true);
  b.images = model_input(images);
  if (targets_.defined()) b.targets = targets_.index_select(0, on_device);
  if (unlabelled_images_.defined()) {
    // Unlabelled faces join the batch after the P x K labelled ones (distillation terms only).
    auto pick = torch::randint(unlabelled_images_.size(0), {config_.data.unlabelled_per_batch}, torch::kLong);
    auto pick_device = pick.to(device_);
    auto extra = unlabelled_images_.index_select(0, unlabelled_images_.is_cuda() == device_.is_cuda() ? pick_device : pick)
                     .to(device_);
    b.images = torch::cat({b.images, model_input(extra)});
    b.targets = torch::cat({b.targets, unlabelled_targets_.index_select(0, pick_device)});
  }
  if (config_.data.augment) b.images = augment(b.images, config_.data.augmentation);
  b.images = in_layout(b.images, config_.runtime.channels_last);
  return b;
}

void Trainer::step() {
  auto [x, labels, targets] = next_batch();
  lr_ = scheduled_lr(config_.optimiser, config_.schedule, state_.step, total_steps_);
  set_lr(*optimiser_, lr_);
  model_->train();
  torch::Tensor embeddings;
  {
    AutocastScope autocast(precision_, device_);
    embeddings = model_->forward(x);
  }
  embeddings = embeddings.to(torch::kFloat32);
  DistillationTerms distill;
  if (targets.defined()) {
    distill = distillation_loss(embeddings, targets,
                                {config_.loss.distill.weight, config_.loss.distill.direct_weight,
                                 config_.loss.distill.relational_weight});
    embeddings = embeddings.slice(0, 0, labels.size(0));  // the triplet loss sees labelled faces only
  }
  // The identity term on the labelled rows: FaceNet's mined triplets, or a margin softmax.
  torch::Tensor loss;
  double loss_scale = 1;  // distributed global mining: see gather_batch
  const double identity_weight = config_.loss.margin_softmax() ? config_.loss.softmax.weight : config_.loss.triplet_weight;
  {
    // At weight 0 (distillation alone) the identity term is only measured, so it builds no graph.
    std::optional<torch::NoGradGuard> measured_only;
    if (identity_weight == 0) measured_only.emplace();
    if (config_.loss.margin_softmax()) {
      loss = margin_softmax_term(embeddings, labels);
    } else {
      if (dist_ && config_.distributed.mine_global) {
        auto global = gather_batch(*dist_, embeddings, labels);
        embeddings = global.embeddings, labels = global.labels, loss_scale = global.loss_scale;
      }
      loss = triplet_term(embeddings, labels);
    }
  }
  // Without distillation and at weight 1 the loss is the identity term itself (bit for bit as before).
  if (identity_weight != 1) loss = loss * identity_weight;
  if (distill.total.defined()) loss = identity_weight == 0 ? distill.total : loss + distill.total;
  optimiser_->zero_grad();
  (loss_scale == 1 ? loss : loss * loss_scale).backward();
  if (reducer_) reducer_->finish();  // gradients averaged over ranks
  last_.loss = loss.detach();
  if (!distill.total.defined()) distill.direct = distill.relational = nan_;  // logged as null
  last_.distill_direct = distill.direct.detach(), last_.distill_relational = distill.relational.detach();

  // The one host sync of the step: apply the update only with triplets and finite values.
  std::vector<torch::Tensor> grads;
  for (auto& p : trained_parameters())
    if (p.grad().defined()) grads.push_back(p.grad());
  auto finite = torch::stack(at::_foreach_norm(grads, 2)).sum().isfinite() & loss.isfinite();
  // A step teaches when it distils, classifies, or mined triplets (and the triplet loss counts).
  auto flags = torch::stack({config_.loss.margin_softmax() ? finite : last_.triplets > 0, finite}).cpu();
  bool usable = distill.total.defined() || (identity_weight > 0 && flags[0].item<bool>());
  bool ok = flags[1].item<bool>();
  if (dist_) {  // every rank takes the same decision: update if any rank mined, unless any is non-finite
    auto votes = dist_->sum_over_ranks({double(usable), double(ok), double(g_stop.load())});
    usable = votes[0] > 0, ok = votes[1] == world_size(), global_stop_ = votes[2] > 0;
  }
  if (usable && ok) {
    optimiser_->step();
    nonfinite_in_row_ = 0;
  } else if (!ok) {
    ++state_.nonfinite_total;
    if (++nonfinite_in_row_ >= config_.guard.max_nonfinite_in_row)
      fail("stopping at step {}: {} steps in a row had a non-finite loss or gradient (lower optimiser.lr, or "
           "check the data); the last checkpoint in '{}' is intact",
           state_.step, nonfinite_in_row_, run_dir_.string());
  } else {
    ++state_.empty_batches;
  }
  ++state_.step;
  state_.epoch = sampler_->epoch();
}

// FaceNet's triplet loss over the triplets mined in the batch (unweighted); fills the triplet telemetry.
torch::Tensor Trainer::triplet_term(const torch::Tensor& embeddings, const torch::Tensor& labels) {
  auto distances = squared_distances(embeddings);
  auto d = distances.detach();
  auto mask = mine_triplets(d, labels, miner_);
  auto triplet = triplet_loss_from_distances(
      distances, mask, {config_.loss.margin, /*average_over_active=*/config_.mining.strategy == "batch_all"});
  torch::NoGradGuard no_grad;
  auto count = mask.sum().to(torch::kFloat32);
  auto safe = count.clamp_min(1);
  auto margins = triplet_margins(d, config_.loss.margin);
  last_.triplets = count;
  last_.active = (mask & (margins > 0)).sum() / safe;
  last_.d_ap = (d.unsqueeze(2) * mask).sum() / safe;
  last_.d_an = (d.unsqueeze(1) * mask).sum() / safe;
  last_.spread = embedding_spread(d);
  last_.triplet_loss = triplet.detach();
  last_.softmax_loss = last_.target_cosine = last_.target_angle = last_.train_accuracy = nan_;
  return triplet;
}

// CosFace or ArcFace against the class centres of the training identities (unweighted); fills
// the margin-softmax telemetry.
torch::Tensor Trainer::margin_softmax_term(const torch::Tensor& embeddings, const torch::Tensor& labels) {
  const auto& l = config_.loss;
  const bool arc = l.name == "arcface";
  auto classes = class_of_label_.index_select(0, labels);
  auto terms = margin_softmax_loss(embeddings, class_centres_, classes,
                                   {margin_kind(l.name), arc ? l.arcface.margin : l.cosface.margin, l.softmax.scale,
                                    arc && l.arcface.easy_margin});
  if (l.softmax.centres == "prototype") {
    // After the loss, so that it compares faces with centres made from other batches (the
    // loss's graph holds the normalised centres, not this tensor, so the update is safe here).
    auto batch = class_sums(embeddings, classes, class_centres_.size(0));
    if (dist_) {  // every rank applies the same update
      dist_->all_reduce_sum(batch.sums);
      dist_->all_reduce_sum(batch.counts);
    }
    update_prototype_centres(class_centres_, batch, l.softmax.prototype_momentum);
  }
  torch::NoGradGuard no_grad;
  last_.triplets = last_.active = last_.d_ap = last_.d_an = last_.triplet_loss = nan_;
  last_.spread = embedding_spread(squared_distances(embeddings.detach()));
  last_.softmax_loss = terms.loss.detach();
  last_.target_cosine = terms.target_cosine, last_.target_angle = terms.target_angle;
  last_.train_accuracy = terms.accuracy;
  return terms.loss;
}

std::vector<torch::Tensor> Trainer::trained_parameters() {
  auto parameters = model_->parameters();
  if (class_centres_.defined() && class_centres_.requires_grad()) parameters.push_back(class_centres_);
  return parameters;
}

// Rows `indices` of the uint8 `images` (host), embedded in eval mode.
torch::Tensor Trainer::embed(const torch::Tensor& images, const torch::Tensor& indices) {
  torch::InferenceMode inference;
  model_->eval();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < indices.size(0); i += config_.evaluation.batch) {
    auto chunk = indices.slice(0, i, i + config_.evaluation.batch);
    auto x = model_input(images.index_select(0, chunk).to(device_));
    x = in_layout(x, config_.runtime.channels_last);
    AutocastScope autocast(precision_, device_);
    out.push_back(model_->forward(x).to(torch::kFloat32).cpu());
  }
  model_->train();
  return torch::cat(out);
}

// Batch-norm running statistics are an exponential average over training batches, far from the
// current weights' statistics early in a run (or after fast changes); evaluating with them
// measures the averaging, not the model. As detectron2's PreciseBN, recompute them as a plain
// average over fixed training batches (the first ones of the training images, no randomness, so
// resumed runs stay identical) before evaluating. Training-mode forwards never read them.
void Trainer::precise_batch_norm() {
  const int64_t batches = config_.evaluation.precise_bn_batches, b = sampler_->batch_size();
  if (batches == 0) return;
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, std::optional<double>>> norms;
  for (auto& m : model_->modules(/*include_self=*/false))
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      norms.emplace_back(bn, bn->options.momentum());
      bn->options.momentum(std::nullopt);  // cumulative average
      bn->reset_running_stats();
    }
  torch::NoGradGuard no_grad;
  model_->train();
  const int64_t n = static_cast<int64_t>(train_images_.size());
  for (int64_t i = 0; i < batches && i * b < n; ++i) {
    std::vector<int64_t> chunk(train_images_.begin() + i * b, train_images_.begin() + std::min(n, (i + 1) * b));
    auto x = model_input(pack_.images.index_select(0, torch::tensor(chunk, torch::kLong)).to(device_));
    AutocastScope autocast(precision_, device_);
    model_->forward(x);
  }
  for (auto& [bn, momentum] : norms) bn->options.momentum(momentum);
}

EvaluationResult Trainer::evaluate() {
  EvaluationResult r;
  if (!has_evaluation()) return r;
  precise_batch_norm();
  r.accuracy = r.auc = r.threshold = std::nan("");  // logged as null without validation pairs
  if (has_validation()) evaluate_validation(r);
  if (lfw_) evaluate_lfw_view1(r);
  r.score = config_.evaluation.select_by == "lfw_view1" ? r.lfw_accuracy : r.accuracy;
  return r;
}

void Trainer::evaluate_validation(EvaluationResult& r) {
  // Embed each validation image once.
  std::vector<int64_t> images;
  std::map<int64_t, int64_t> row;
  for (const auto& p : validation_pairs_)
    for (auto i : {p.first, p.second})
      if (row.emplace(i, static_cast<int64_t>(images.size())).second) images.push_back(i);
  auto embeddings = embed(pack_.images, torch::tensor(images, torch::kLong));
  auto e = embeddings.accessor<float, 2>();
  std::vector<double> distances;
  std::vector<bool> same;
  for (const auto& p : validation_pairs_) {
    double d = 0;
    for (int64_t j = 0; j < embeddings.size(1); ++j) {
      double diff = e[row[p.first]][j] - e[row[p.second]][j];
      d += diff * diff;
    }
    distances.push_back(d);
    same.push_back(p.same);
  }
  int folds = validation_pairs_.size() >= 20 ? 10 : 1;
  if (folds > 1) {
    auto m = verification_metrics(distances, same, folds);
    r.accuracy = m.accuracy_mean;
    r.auc = m.auc;
    r.threshold = m.best_threshold;
  } else {
    auto choice = best_accuracy_threshold(distances, same);
    r.accuracy = choice.accuracy;
    r.threshold = choice.threshold;
  }
  r.pairs = static_cast<int64_t>(validation_pairs_.size());
}

void Trainer::save(const fs::path& path) {
  state_.sampler = sampler_->state();
  state_.world_size = world_size();
  state_.rank_samplers.clear(), state_.rank_rng_cpu.clear(), state_.rank_rng_cuda.clear();
  save_checkpoint(path, model_, *optimiser_, state_, device_, class_centres_);
}

void Trainer::checkpoint(const fs::path& path) {
  if (!dist_) return save(path);
  auto key = fmt::format("checkpoint/{}", checkpoints_written_++);
  auto bytes = [](const torch::Tensor& t) {
    auto c = t.cpu().contiguous();
    return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
  };
  auto tensor = [](const std::string& b) {
    return torch::from_blob(const_cast<char*>(b.data()), {int64_t(b.size())}, torch::kUInt8).clone();
  };
  auto weights = dist_->gather_to_main(key + "/weights", parameters_fingerprint(*model_));
  auto samplers = dist_->gather_to_main(key + "/sampler", sampler_->state());
  auto cpu = dist_->gather_to_main(key + "/rng_cpu", bytes(at::detail::getDefaultCPUGenerator().get_state()));
  auto cuda = dist_->gather_to_main(
      key + "/rng_cuda", device_.is_cuda() ? bytes(at::globalContext().defaultGenerator(device_).get_state()) : "");
  if (!is_main()) return;
  for (int r = 1; r < world_size(); ++r)
    if (weights[r] != weights[0])
      fail("distributed: at step {} rank {} holds other parameters than rank 0 (fingerprints {} and {}): the "
           "ranks diverged, no checkpoint written",
           state_.step, r, weights[r], weights[0]);
  state_.sampler = samplers[0];  // rank 0's own streams are also the single-process entries
  state_.world_size = world_size();
  state_.rank_samplers = samplers;
  for (int r = 0; r < world_size(); ++r) {
    state_.rank_rng_cpu.push_back(tensor(cpu[r]));
    if (device_.is_cuda()) state_.rank_rng_cuda.push_back(tensor(cuda[r]));
  }
  save_checkpoint(path, model_, *optimiser_, state_, device_, class_centres_);
  state_.rank_samplers.clear(), state_.rank_rng_cpu.clear(), state_.rank_rng_cuda.clear();
}

void Trainer::log_metrics(const std::string& json_object) {
  std::ofstream out(run_dir_ / "metrics.jsonl", std::ios::app);
  out << json_object << '\n';
  out.flush();  // a full disk shows here, not in the destructor where nobody checks
  if (!out) fail("cannot append to '{}': {}", (run_dir_ / "metrics.jsonl").string(), std::strerror(errno));
}

// ---- distillation ----------------------------------------------------------------------------

// Targets are centred on their mean over the training images (and the unlabelled faces), never
// the held-out identities, so validation stays untouched by the teacher's view of them.
void Trainer::load_distillation_targets(const std::vector<int64_t>& train_images) {
  const auto& d = config_.data;
  try {
    auto path = d.teacher_targets.empty() ? default_targets_path(d.pack) : fs::path(d.teacher_targets);
    torch::Tensor targets = targets_for_pack(path, pack_);
    if (targets.size(1) != config_.model.embedding_dim)
      fail("teacher targets '{}' are {}-d, the student's model.embedding_dim is {}", path.string(), targets.size(1),
           config_.model.embedding_dim);
    torch::Tensor train = targets.index_select(0, torch::tensor(train_images, torch::kLong));
    torch::Tensor unlabelled;
    if (!d.unlabelled_pack.empty()) {
      Pack extra = load_pack(d.unlabelled_pack);
      auto extra_path = d.unlabelled_targets.empty() ? default_targets_path(d.unlabelled_pack) : fs::path(d.unlabelled_targets);
      unlabelled = targets_for_pack(extra_path, extra);
      if (unlabelled.size(1) != targets.size(1))
        fail("teacher targets '{}' are {}-d, those of the pack are {}-d", extra_path.string(), unlabelled.size(1),
             targets.size(1));
      unlabelled_images_ = d.on_device ? extra.images.to(device_) : extra.images;
      train = torch::cat({train, unlabelled});
    }
    torch::Tensor mean = train.mean(0);
    targets_ = centre_targets(targets, mean).to(device_);
    if (unlabelled.defined()) unlabelled_targets_ = centre_targets(unlabelled, mean).to(device_);
    if (is_main())
      fmt::print("distillation: teacher targets {} ({} x {}), mean cosine to their centre {:.3f}{}\n", path.string(),
                 targets.size(0), targets.size(1), (train.matmul(mean) / mean.norm()).mean().item<double>(),
                 unlabelled.defined() ? fmt::format(", {} unlabelled faces from {}", unlabelled.size(0), d.unlabelled_pack)
                                      : "");
  } catch (const Error& err) {
    fail("distillation (loss.distill.weight {}): {}", config_.loss.distill.weight, err.what());
  }
}

// ---- margin softmax ---------------------------------------------------------------------------

// Every training identity gets a class (in label order); held-out identities get none (-1), so
// validation never sees a centre fitted to its own images.
void Trainer::make_class_centres(const std::vector<int64_t>& train_images) {
  const auto* labels = pack_.labels.data_ptr<int64_t>();
  std::vector<int64_t> class_of(pack_.identities.size(), -1);
  for (auto i : train_images) class_of[labels[i]] = 0;
  int64_t classes = 0;
  for (auto& c : class_of)
    if (c == 0) c = classes++;
  class_of_label_ = torch::tensor(class_of, torch::kLong).to(device_);
  const bool prototype = config_.loss.softmax.centres == "prototype";
  class_centres_ = prototype ? initial_prototype_centres(classes, config_.model.embedding_dim, device_)
                             : initial_class_centres(classes, config_.model.embedding_dim, device_);
  if (is_main())
    fmt::print("{}: {} class centres (training identities) x {}, {}\n", config_.loss.name, classes,
               config_.model.embedding_dim, prototype ? "running class means" : "learned");
}

// ---- LFW View 1 ----------------------------------------------------------------------------

void Trainer::load_lfw_view1() {
  const auto& e = config_.evaluation;
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
    lfw_ = std::make_unique<PackedPairs>(
        resolve_pairs_in_pack(std::move(list), lfw, e.lfw_pack, static_cast<int>(std::min<int64_t>(10, fewest))));
  } catch (const Error& err) {
    fail("LFW View 1 evaluation (evaluation.lfw_pack, evaluation.lfw_pairs): {}", err.what());
  }
}

void Trainer::evaluate_lfw_view1(EvaluationResult& r) {
  auto embeddings = l2_normalise(embed(lfw_->images, torch::arange(lfw_->images.size(0))));
  auto distances = pair_distances(embeddings, lfw_->rows, DistanceKind::squared_l2);
  auto m = verification_metrics(distances, lfw_->same, lfw_->folds);
  r.lfw_accuracy = m.accuracy_mean;
  r.lfw_auc = m.auc;
  r.lfw_pairs = static_cast<int64_t>(distances.size());
}

}  // namespace face
