#include "train/teacher_targets.h"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <chrono>

#include "util/atomic_file.h"
#include "util/checked_writer.h"
#include "util/error.h"
#include "util/progress.h"

namespace face {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "facenet-cpp teacher targets";

std::string read_text(torch::serialize::InputArchive& archive, const char* key, const fs::path& path) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString())
    fail("teacher targets '{}': missing or malformed entry '{}'", path.string(), key);
  return value.toStringRef();
}

}  // namespace

fs::path default_targets_path(const fs::path& pack) { return fs::path(pack.string() + ".teacher"); }

TeacherTargets load_teacher_targets(const fs::path& path) {
  if (!fs::exists(path)) fail("teacher targets '{}' do not exist (make them with `teacher_targets`)", path.string());
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    fail("cannot read teacher targets '{}' (damaged or not a LibTorch archive): {}", path.string(),
         e.what_without_backtrace());
  }
  if (read_text(archive, "format", path) != kFormat) fail("'{}' is not a teacher targets file", path.string());
  TeacherTargets t;
  c10::IValue done;
  if (!archive.try_read("targets", t.targets) || !archive.try_read("done", done) || !done.isInt())
    fail("teacher targets '{}': missing 'targets' or 'done'", path.string());
  t.done = done.toInt();
  if (t.targets.dim() != 2 || t.done < 0 || t.done > t.targets.size(0))
    fail("teacher targets '{}': malformed ({}-d targets, done {})", path.string(), t.targets.dim(), t.done);
  t.pack_fingerprint = read_text(archive, "pack_fingerprint", path);
  t.teacher_fingerprint = read_text(archive, "teacher_fingerprint", path);
  t.teacher = read_text(archive, "teacher", path);
  return t;
}

void save_teacher_targets(const fs::path& path, const TeacherTargets& t) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("targets", t.targets.contiguous());
  archive.write("done", c10::IValue(t.done));
  archive.write("pack_fingerprint", c10::IValue(t.pack_fingerprint));
  archive.write("teacher_fingerprint", c10::IValue(t.teacher_fingerprint));
  archive.write("teacher", c10::IValue(t.teacher));
  write_atomic(path, [&](const fs::path& tmp) {
    write_checked(tmp, path, "teacher targets", [&](const ByteWriter& writer) { archive.save_to(writer); });
  });
}

torch::Tensor targets_for_pack(const fs::path& path, const Pack& pack) {
  TeacherTargets t = load_teacher_targets(path);
  if (t.pack_fingerprint != pack.source_fingerprint)
    fail("teacher targets '{}' were computed for another pack (source fingerprint {}, this pack's is {}): run "
         "`teacher_targets` again",
         path.string(), t.pack_fingerprint, pack.source_fingerprint);
  if (t.targets.size(0) != pack.size())
    fail("teacher targets '{}' have {} rows, the pack has {} images", path.string(), t.targets.size(0), pack.size());
  if (!t.complete())
    fail("teacher targets '{}' are incomplete ({} of {} rows): run `teacher_targets` to finish them", path.string(),
         t.done, t.targets.size(0));
  return t.targets;
}

TargetsRun ensure_teacher_targets(Embedder& teacher, const Pack& pack, const fs::path& path, int64_t batch,
                                  double save_every_seconds) {
  if (batch < 1 || batch > 4096) fail("teacher batch {} is outside 1..4096", batch);
  TargetsRun run;
  TeacherTargets t;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    t = load_teacher_targets(path);
    if (t.pack_fingerprint != pack.source_fingerprint) run.reason = "stale: the pack changed";
    else if (t.teacher_fingerprint != teacher.fingerprint()) run.reason = "stale: another teacher";
    else if (t.targets.size(0) != pack.size() || t.targets.size(1) != teacher.embedding_dim()) run.reason = "stale: sizes differ";
    else if (t.complete()) return {false, "up to date", 0, 0};
    else run.reason = fmt::format("resumed at row {}", t.done);
    if (run.reason.rfind("stale", 0) == 0) t = TeacherTargets();
  } else {
    run.reason = "no targets yet";
  }
  if (!t.targets.defined()) {
    t.targets = torch::zeros({pack.size(), teacher.embedding_dim()});
    t.pack_fingerprint = pack.source_fingerprint;
    t.teacher_fingerprint = teacher.fingerprint();
    t.teacher = teacher.description();
  }
  const int64_t size = teacher.input_size();
  if (pack.images.size(2) != size || pack.images.size(3) != size)
    fmt::print(stderr, "warning: pack images are {}x{}, the teacher takes {}x{}: resized\n", pack.images.size(2),
               pack.images.size(3), size, size);
  namespace F = torch::nn::functional;
  auto start = std::chrono::steady_clock::now(), last_save = start;
  Progress progress("teacher", pack.size() - t.done);
  const int64_t first = t.done;
  for (int64_t i = t.done; i < pack.size(); i += batch) {
    int64_t end = std::min(pack.size(), i + batch);
    torch::Tensor images = pack.images.slice(0, i, end);
    if (images.size(2) != size || images.size(3) != size)
      images = F::interpolate(images.to(torch::kFloat32),
                              F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kBilinear)
                                  .align_corners(false).antialias(true))
                   .round().clamp(0, 255).to(torch::kUInt8);
    t.targets.slice(0, i, end).copy_(teacher.embed(images));
    t.done = end;
    progress.advance(end - i);
    auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_save).count() > save_every_seconds && t.done < pack.size()) {
      save_teacher_targets(path, t);
      last_save = now;
    }
  }
  progress.finish();
  save_teacher_targets(path, t);
  run.computed = true;
  run.rows_computed = pack.size() - first;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace face
