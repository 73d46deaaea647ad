// config.h: the training recipe as data.
//
// TrainConfig is a tree of small option structs with defaults (the PyTorch C++ frontend's
// options style); where a library takes options of its own (the sampler's PxkOptions,
// augmentation's AugmentOptions, distillation's DistillationOptions, the miner's choices) the
// tree holds those, so their defaults are written once. Choices are parsed once into enums. A YAML file sets any subset of it, and `--set a.b=value` overrides single keys
// after the file. Every key is checked against the schema before any work starts: an unknown
// key, a value of the wrong type or one out of range fails with face::Error naming the key and
// its line. docs/train.md explains every key.
//
// The fingerprint covers only the keys that change what is computed (not the length of the run,
// the device, logging or checkpointing), so a checkpoint can be resumed on another device or
// extended to more steps, but not with a different recipe.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/pxk_sampler.h"
#include "train/distillation_loss.h"
#include "train/low_far_loss.h"
#include "train/miner.h"

namespace face {

struct RunConfig {
  std::string name;                 // run directory name; default: the config file's stem
  std::string dir = "experiments";  // parent of run directories
  int64_t seed = 0;                 // model init, sampler, augmentation and mining randomness
};
struct ModelConfig {
  std::string arch = "nn4.small2";
  int64_t embedding_dim = 128;
  // Weights to start from: a checkpoint, model file or export of this arch and embedding size
  // (fine-tuning a released model); "": seeded random initialisation. A resumed run takes its
  // checkpoint's weights instead.
  std::string init;
  // Re-initialise the filters training has erased (model/dead_filters.h) once the weights are
  // in place: after model.init, before the first step; a resumed run keeps its checkpoint's.
  bool revive_dead_filters = false;
};
struct DataConfig {
  std::string pack;                    // aligned training pack (see `pack`)
  double validation_fraction = 0.1;    // of identities, held out for evaluation
  PxkOptions sampler;                  // data.p, data.k, data.min_images; the seed is run.seed's (per rank)
  bool on_device = true;               // keep the whole pack (uint8) on the training device
  bool augment = true;
  AugmentOptions augmentation;
  // Distillation (loss.distill.weight > 0): the teacher's embeddings of the pack's images
  // (train/teacher_targets.h; default: the pack's path + ".teacher").
  std::string teacher_targets;
  // Online teaching: a model file of the same teacher (export_dlib's TorchScript) that embeds each
  // step's augmented view, so teacher and student see the same pixels (train/distillation_data.h).
  std::string online_teacher;
  // Faces without identity labels that join each batch for the distillation terms only.
  std::string unlabelled_pack;      // a pack (its labels are ignored)
  std::string unlabelled_targets;   // default: unlabelled_pack + ".teacher"
  int64_t unlabelled_per_batch = 0; // added to every P x K batch
  // How often each unlabelled face is drawn ("<path> <weight>" lines, data/draw_weights.h), e.g.
  // under-represented groups drawn as often as the rest; empty: uniformly.
  std::string unlabelled_weights;
};
enum class IdentityLoss { triplet, cosface, arcface };
enum class ClassCentres { learned, prototype, teacher };
std::string choice_name(IdentityLoss loss);  // "triplet" | "cosface" | "arcface"

struct SoftmaxConfig {            // loss.name cosface | arcface (train/margin_softmax_loss.h)
  double scale = 30;              // s
  double weight = 1;              // of the margin-softmax term (0: distillation only)
  ClassCentres centres = ClassCentres::learned;  // by the optimiser | running class means | teacher's class means
  double prototype_momentum = 0.5;  // prototype: share of the old centre kept at each visit
};
struct CosFaceConfig {
  double margin = 0.35;           // subtracted from the target cosine
};
struct ArcFaceConfig {
  double margin = 0.5;            // added to the target angle (radians)
  bool easy_margin = false;       // margin only where the target cosine is positive
};
struct LossConfig {
  IdentityLoss name = IdentityLoss::triplet;  // the identity loss
  double margin = 0.2;          // FaceNet's alpha
  double triplet_weight = 1;    // 0: distillation only
  SoftmaxConfig softmax;
  CosFaceConfig cosface;
  ArcFaceConfig arcface;
  DistillationOptions distill;  // train/distillation_loss.h
  LowFarOptions low_far;        // train/low_far_loss.h
  bool margin_softmax() const { return name != IdentityLoss::triplet; }
  // Whether some term reads the teacher's targets (data.teacher_targets).
  bool uses_teacher() const {
    return distill.weight > 0 || low_far.weight > 0 || (margin_softmax() && softmax.centres == ClassCentres::teacher);
  }
};
struct MiningConfig {  // the miner's choices (its margin is loss.margin)
  MiningStrategy strategy = MinerOptions().strategy;
  MiningFallback fallback = MinerOptions().fallback;
};
enum class OptimiserKind { adam, adamw, adagrad, sgd };
enum class ScheduleKind { constant, step, cosine };
// lfw_view1: View 1's 10-fold accuracy; lfw_view1_val: VAL at FAR 1e-3 over every pair of
// different people among View 1's images (train/evaluation.h), the strict-threshold figure.
enum class SelectBy { validation, lfw_view1, lfw_view1_val };
struct OptimiserConfig {
  OptimiserKind name = OptimiserKind::adam;
  double lr = 1e-3;
  double weight_decay = 0;
  double momentum = 0.9;      // sgd only
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw (eps also adagrad)
};
struct ScheduleConfig {
  ScheduleKind name = ScheduleKind::cosine;
  int64_t warmup_steps = 0;     // linear ramp from 0 to lr
  int64_t step_size = 1000;     // step: multiply by gamma every step_size steps
  double gamma = 0.1;
  double min_lr_ratio = 0.0;    // cosine: final lr = lr * min_lr_ratio
};
struct LengthConfig {
  int64_t steps = 0;   // optimiser steps; when 0, `epochs` decides
  double epochs = 0;   // passes over the training identities (P identities per step)
};
struct RuntimeConfig {
  std::string device = "cpu";      // cpu | cuda | cuda:N
  std::string precision = "fp32";  // auto | fp32 | bf16 (autocast; auto: bf16 where native, model/precision.h)
  bool channels_last = true;       // the fast layout on CPU and CUDA (model/memory_format.h)
  bool cudnn_benchmark = true;
  int64_t threads = 0;             // intra-op CPU threads, 0 = all cores
  bool flush_denormals = true;     // FTZ/DAZ in every CPU thread (util/denormals.h)
};
struct CheckpointConfig {
  int64_t every_steps = 1000;  // 0 = never by count
  double every_minutes = 0;    // 0 = never by time
  int64_t keep_last = 3;
};
struct EvaluationConfig {
  int64_t every_steps = 500;     // 0 = only at the end
  bool at_start = false;         // also evaluate the untrained model
  int64_t max_pairs = 6000;      // validation pairs (half same, half different identity)
  int64_t batch = 256;           // images per forward pass when embedding
  int64_t precise_bn_batches = 8;  // recompute batch-norm statistics on this many batches first
  std::string lfw_pack;          // optional LFW View 1: a pack of LFW images ...
  std::string lfw_pairs;         // ... and pairsDevTest.txt (never View 2 for selection)
  SelectBy select_by = SelectBy::validation;  // the score that keeps best.pt
};
struct LoggingConfig {
  int64_t every_steps = 10;
  bool progress = true;
};
struct DistributedConfig {  // only read when launched by torchrun (train/distributed.h)
  bool mine_global = false;      // all-gather embeddings and mine across the global batch
  double timeout_seconds = 300;  // a dead or stuck peer fails the run after this
  double bucket_mb = 4;          // gradient all-reduce bucket size
};
struct GuardConfig {
  int64_t max_nonfinite_in_row = 20;  // stop after this many skipped non-finite steps in a row
};

struct TrainConfig {
  RunConfig run;
  ModelConfig model;
  DataConfig data;
  LossConfig loss;
  MiningConfig mining;
  OptimiserConfig optimiser;
  ScheduleConfig schedule;
  LengthConfig length;
  RuntimeConfig runtime;
  CheckpointConfig checkpoint;
  EvaluationConfig evaluation;
  LoggingConfig logging;
  GuardConfig guard;
  DistributedConfig distributed;

  std::string to_yaml() const;      // every key, resolved
  std::string fingerprint() const;  // of the keys that change the computation
};

// Loads `path` (may be empty: defaults only), then applies "key=value" overrides (values parsed
// as YAML scalars), then checks cross-key rules. face::Error names the key and line on failure.
TrainConfig load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});

// Every key of the schema with its one-line description, for docs and --help.
std::vector<std::pair<std::string, std::string>> config_keys();

}  // namespace face
