#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/augment.h"
#include "data/draw_weights.h"
#include "data/identity_split.h"
#include "data/validation_pairs.h"
#include "model/dead_filters.h"
#include "model/embedder.h"
#include "model/memory_format.h"
#include "model/precision.h"
#include "train/distributed.h"
#include "train/hooks.h"
#include "train/network_input.h"
#include "train/optimiser.h"
#include "train/precise_bn.h"
#include "train/triplet_loss.h"
#include "util/atomic_file.h"
#include "util/device.h"
#include "util/denormals.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/run_info.h"
#include "util/threads.h"

namespace face {
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};

// `options` (sized for the network's kInputSize input) for images of side `size`: the crop's
// padding scales with the image, the rest does not depend on it.
AugmentOptions at_size(AugmentOptions options, int64_t size) {
  options.crop_padding = (options.crop_padding * size + kInputSize / 2) / kInputSize;
  return options;
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
  if (config_.loss.uses_teacher()) {
    distill_ = load_distillation_data(config_, pack_, train_images_, device_, is_main());
    // A fixed sample of training images, about as many as the held-out identities have (the
    // recipe's 10% of CelebA: ~2,000), so each evaluation embeds a few seconds more.
    std::vector<int64_t> sample = train_images_;
    std::mt19937_64 shuffle(static_cast<uint64_t>(config_.run.seed) + 2);
    std::shuffle(sample.begin(), sample.end(), shuffle);
    sample.resize(std::min<size_t>(sample.size(), 2000));
    evaluation_->compare_with_teacher(distill_.targets, std::move(sample));
  }
  // Data on the device as uint8; converted per batch.
  images_ = config_.data.on_device ? pack_.images.to(device_) : pack_.images;
  labels_ = pack_.labels.to(device_);
  build_model();                                 // network, loss heads, optimiser
  const int64_t p = config_.data.sampler.p;
  int64_t per_epoch = (sampler_->eligible_identities() + p - 1) / p;
  total_steps_ = config_.length.steps > 0
                     ? config_.length.steps
                     : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config_.length.epochs * per_epoch)));
  state_.config_fingerprint = config_.fingerprint();
  run_dir_ = fs::path(config_.run.dir) / config_.run.name;
  resume_or_start(options);
  if (dist_) join_ranks();
  if (is_main()) write_run_record(split, options);
  add_builtin_hooks();
}

// Telemetry, batch-norm statistics, evaluation (rank 0), then checkpoints (every rank: collective).
void Trainer::add_builtin_hooks() {
  if (is_main()) {
    hooks_.push_back(std::make_unique<TelemetryHook>());
    hooks_.push_back(std::make_unique<PreciseBatchNormHook>(
        pack_.images, train_images_,
        PreciseBatchNormOptions{config_.evaluation.precise_bn_batches, sampler_->batch_size(),
                                precision_}));
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
}

// Training identities feed the sampler, held-out ones the validation pairs.
IdentitySplit Trainer::split_identities() {
  std::vector<int64_t> labels(pack_.labels.data_ptr<int64_t>(), pack_.labels.data_ptr<int64_t>() + pack_.size());
  auto split = split_by_identity(labels, pack_.identities, config_.data.validation_fraction, config_.run.seed);
  train_images_ = split.train;
  for (auto i : train_images_) sampler_labels_.push_back(labels[i]);
  PxkOptions sampling = config_.data.sampler;
  sampling.seed = rank_seed(static_cast<uint64_t>(config_.run.seed), dist_ ? dist_->rank() : 0);
  sampler_ = std::make_unique<PxkSampler>(sampler_labels_, sampling);
  // Before any other work: a bad LFW View 1 list or pack stops the run here.
  evaluation_ = std::make_unique<TrainingEvaluation>(
      config_, pack_.images, validation_pairs(labels, split.validation, config_.evaluation.max_pairs, config_.run.seed + 1),
      device_);
  return split;
}

void Trainer::build_model() {
  model_ = Nn4(Nn4Options(config_.model.arch).embedding_dim(config_.model.embedding_dim).seed(config_.run.seed));
  if (!config_.model.init.empty()) init_weights(config_.model.init);
  if (config_.model.revive_dead_filters) {
    auto revived = revive_dead_filters(*model_, static_cast<uint64_t>(config_.run.seed));
    if (is_main())
      fmt::print("model.revive_dead_filters: {} dead filters ({} weights) in {} convolutions re-initialised\n",
                 revived.filters, revived.weights, revived.units);
  }
  model_->to(device_);
  if (config_.runtime.channels_last) use_channels_last(*model_);
  heads_ = make_loss_heads({config_, pack_, train_images_, device_, dist_.get(), is_main(), distill_.targets});
  optimiser_ = make_optimiser(config_.optimiser, trained_parameters());
}

// model.init: every parameter and buffer from another model file of the same shape (fine-tuning).
// Before channels-last and the optimiser, so both see the loaded weights.
void Trainer::init_weights(const std::string& file) {
  LoadedModel from = load_nn4(file, torch::kCPU);
  const auto& o = from.model->options();
  if (o.arch() != config_.model.arch || o.embedding_dim() != config_.model.embedding_dim)
    fail("model.init '{}' is {} with {}-d embeddings, the config asks for {} with {}-d", file, o.arch(),
         o.embedding_dim(), config_.model.arch, config_.model.embedding_dim);
  torch::NoGradGuard no_grad;
  auto source = from.model->named_parameters();
  for (auto& p : model_->named_parameters()) p.value().copy_(source[p.key()]);
  auto buffers = from.model->named_buffers();
  for (auto& b : model_->named_buffers()) b.value().copy_(buffers[b.key()]);
  if (is_main()) fmt::print("model.init: weights {} from {}\n", weights_fingerprint(*model_), file);
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
      {"validation_pairs", evaluation_->validation_pairs()},    {"world_size", world_size()},
      {"precision", precision_name(precision_)}, {"bf16_support", bf16_support(device_)}};
  // The config records the weights file's path; its content can change under the same path.
  if (!config_.data.unlabelled_weights.empty())
    run["unlabelled_weights_fingerprint"] = file_fingerprint(config_.data.unlabelled_weights);
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
  state_ = load_checkpoint(*from, model_, *optimiser_, device_, state_.config_fingerprint,
                           [&](torch::serialize::InputArchive& archive) {
                             for (auto& head : heads_) head->load(archive, *from);
                           });
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
  PxkOptions sampling = config_.data.sampler;
  sampling.seed = seed;
  sampler_ = std::make_unique<PxkSampler>(sampler_labels_, sampling);
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
  const auto& d = distill_;
  // Precomputed targets, unless the teacher embeds this step's views itself (below).
  const bool precomputed = d.targets.defined() && !d.teacher;
  if (precomputed) b.targets = d.targets.index_select(0, on_device);
  torch::Tensor extra;  // the unlabelled faces (uint8), when the recipe adds them
  if (d.unlabelled_images.defined()) {
    // Unlabelled faces join the batch after the P x K labelled ones (distillation terms only).
    const int64_t n = config_.data.unlabelled_per_batch;
    auto pick = d.unlabelled_weights.defined() ? draw_weighted(d.unlabelled_weights, n)
                                               : torch::randint(d.unlabelled_images.size(0), {n}, torch::kLong);
    auto pick_device = pick.to(device_);
    extra = d.unlabelled_images.index_select(0, d.unlabelled_images.is_cuda() == device_.is_cuda() ? pick_device : pick)
                .to(device_);
    if (precomputed) b.targets = torch::cat({b.targets, d.unlabelled_targets.index_select(0, pick_device)});
  }
  if (d.teacher) {
    // Online teaching: augmented at the pack's (the teacher's) size, embedded by the teacher as
    // it is, then resized for the student: both see the same view.
    auto views = to_model_input(extra.defined() ? torch::cat({images, extra}) : images);  // one size: checked at load
    if (config_.data.augment) views = augment(views, at_size(config_.data.augmentation, views.size(-1)));
    b.targets = online_targets(d, views, device_);
    b.images = network_input(views);
  } else {
    b.images = network_input(images);
    if (extra.defined()) b.images = torch::cat({b.images, network_input(extra)});
    if (config_.data.augment) b.images = augment(b.images, config_.data.augmentation);
  }
  b.images = in_layout(b.images, config_.runtime.channels_last);
  return b;
}

void Trainer::step() {
  Batch batch = next_batch();
  lr_ = scheduled_lr(config_.optimiser, config_.schedule, state_.step, total_steps_);
  set_lr(*optimiser_, lr_);
  metrics_.clear();
  StepLoss loss = forward_and_loss(batch);
  optimiser_->zero_grad();
  loss.for_backward.backward();
  if (reducer_) reducer_->finish();  // gradients averaged over ranks
  update_if_sound(loss);
  ++state_.step;
  state_.epoch = sampler_->epoch();
}

// The network's forward and every loss head's term, summed in registry order (identity terms,
// then distillation; at weight 1 and alone a term is the loss itself, bit for bit).
Trainer::StepLoss Trainer::forward_and_loss(const Batch& batch) {
  model_->train();
  torch::Tensor embeddings;
  {
    AutocastScope autocast(precision_, device_);
    embeddings = model_->forward(batch.images);
  }
  LossHeadInput in{embeddings.to(torch::kFloat32), batch.labels, batch.targets};
  {
    torch::NoGradGuard no_grad;
    metrics_.put("embedding_spread", embedding_spread(squared_distances(in.labelled().detach())));
  }
  StepLoss loss;
  for (auto& head : heads_) {
    LossTerm term = head->forward(in, metrics_);
    if (!term.loss.defined()) continue;  // measured only (weight 0)
    auto scaled = term.gradient_scale == 1 ? term.loss : term.loss * term.gradient_scale;
    loss.value = loss.value.defined() ? loss.value + term.loss : term.loss;
    loss.for_backward = loss.for_backward.defined() ? loss.for_backward + scaled : scaled;
    if (term.teaches.defined())
      loss.teaching.push_back(term.teaches);
    else
      loss.always_teaches = true;
  }
  metrics_.put("loss", loss.value);
  return loss;
}

// The one host sync of the step: the update is applied when some term teaches (a triplet term
// teaches only with mined triplets) and the loss and every gradient are finite.
void Trainer::update_if_sound(const StepLoss& loss) {
  std::vector<torch::Tensor> grads;
  for (auto& p : trained_parameters())
    if (p.grad().defined()) grads.push_back(p.grad());
  std::vector<torch::Tensor> flags = {torch::stack(at::_foreach_norm(grads, 2)).sum().isfinite() & loss.value.isfinite()};
  flags.insert(flags.end(), loss.teaching.begin(), loss.teaching.end());
  auto host = torch::stack(flags).cpu();
  bool ok = host[0].item<bool>();
  bool usable = loss.always_teaches || host.slice(0, 1).any().item<bool>();
  if (dist_) {  // every rank takes the same decision: update if any rank's terms teach, unless any is non-finite
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
}

std::vector<torch::Tensor> Trainer::trained_parameters() {
  auto parameters = model_->parameters();
  for (auto& head : heads_)
    for (auto& p : head->parameters()) parameters.push_back(p);
  return parameters;
}

void Trainer::save_heads(torch::serialize::OutputArchive& archive) const {
  for (const auto& head : heads_) head->save(archive);
}

void Trainer::save(const fs::path& path) {
  state_.sampler = sampler_->state();
  state_.world_size = world_size();
  state_.rank_samplers.clear(), state_.rank_rng_cpu.clear(), state_.rank_rng_cuda.clear();
  save_checkpoint(path, model_, *optimiser_, state_, device_, [this](auto& archive) { save_heads(archive); });
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
  save_checkpoint(path, model_, *optimiser_, state_, device_, [this](auto& archive) { save_heads(archive); });
  state_.rank_samplers.clear(), state_.rank_rng_cpu.clear(), state_.rank_rng_cuda.clear();
}

void Trainer::log_metrics(const std::string& json_object) {
  std::ofstream out(run_dir_ / "metrics.jsonl", std::ios::app);
  out << json_object << '\n';
  out.flush();  // a full disk shows here, not in the destructor where nobody checks
  if (!out) fail("cannot append to '{}': {}", (run_dir_ / "metrics.jsonl").string(), std::strerror(errno));
}

}  // namespace face
