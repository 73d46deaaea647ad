// teacher_targets.h: a teacher's embedding of every image of a pack, computed once and kept
// beside the pack, for distillation (train/distillation_loss.h).
//
// File (a LibTorch archive, default PACK + ".teacher"):
//   "format"               "facenet-cpp teacher targets"
//   "targets"              float (N, D): row i is the teacher's unit embedding of pack image i
//   "done"                 rows computed so far (N when complete)
//   "pack_fingerprint"     the pack's source fingerprint (data/pack.h)
//   "teacher_fingerprint"  the teacher's weights fingerprint (Embedder::fingerprint)
//   "teacher"              the teacher's description
// Stale when either fingerprint differs: then it is recomputed (never silently used). An
// interrupted computation is saved every `save_every_seconds` (atomically), and the next run
// continues from row `done`.
//
// The pack's images must be the teacher's input (e.g. 150x150 dlib chips for dlib-resnet); they
// are resized when they are not its input size, with a warning.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>

#include "data/pack.h"
#include "model/embedder.h"

namespace face {

struct TeacherTargets {
  torch::Tensor targets;  // float (N, D)
  int64_t done = 0;
  std::string pack_fingerprint, teacher_fingerprint, teacher;
  bool complete() const { return targets.defined() && done == targets.size(0); }
};

std::filesystem::path default_targets_path(const std::filesystem::path& pack);

// Reads the file; face::Error naming it when unreadable or not a targets file.
TeacherTargets load_teacher_targets(const std::filesystem::path& path);
void save_teacher_targets(const std::filesystem::path& path, const TeacherTargets& targets);

// Loads complete targets for `pack` and checks they belong to it (face::Error saying what differs).
torch::Tensor targets_for_pack(const std::filesystem::path& path, const Pack& pack);

struct TargetsRun {
  bool computed = false;  // false: the file was complete and current
  std::string reason;     // "up to date", "no targets yet", "resumed at row R", "stale: ..."
  int64_t rows_computed = 0;
  double seconds = 0;
};

// Makes `path` hold `teacher`'s complete targets for `pack`, computing only what is missing.
TargetsRun ensure_teacher_targets(Embedder& teacher, const Pack& pack, const std::filesystem::path& path,
                                  int64_t batch = 64, double save_every_seconds = 60);

}  // namespace face
