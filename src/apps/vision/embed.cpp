// embed: images -> embeddings (.npy, float32 N x D) plus a names file (one line per row).
//
//   embed IMAGE_OR_DIR... [--list FILE] --out emb.npy [--names names.txt]
//         [--model CKPT|TORCHSCRIPT|dlib-resnet|random] [--arch nn4.small2 --seed 0] [--batch 64]
//         [--device cpu|cuda] [--threads N] [--precision auto|fp32|bf16]
//
// Without --model, the released model (vision/model_catalog.h). Images are expected aligned
// with the model's recipe (see `align`); any that are not its input size are resized. A file that
// cannot be read is named in a warning and left out; the run fails only when nothing is embedded.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fstream>

#include "apps/cli_checks.h"
#include "data/normalisation.h"
#include "model/embedder.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/device.h"
#include "util/npy.h"
#include "util/progress.h"
#include "util/threads.h"
#include "vision/face_reader.h"
#include "vision/model_catalog.h"

namespace fs = std::filesystem;

namespace {

struct Input {
  fs::path file;
  std::string name;  // what the names file records
};

std::vector<Input> collect_inputs(const std::vector<std::string>& roots, const std::string& list_file,
                                  int& failures) {
  std::vector<Input> inputs;
  for (const auto& root : roots) {
    std::vector<std::string> warnings;
    try {
      for (const auto& file : face::list_images(root, &warnings)) {
        bool is_dir = fs::is_directory(root);
        // lexically: fs::relative would follow a linked image to its target and misname it.
        inputs.push_back({file, is_dir ? file.lexically_relative(root).string() : file.string()});
      }
    } catch (const face::Error& e) {
      fmt::print(stderr, "warning: {}\n", e.what());
      ++failures;
    }
    for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  }
  if (!list_file.empty()) {
    std::ifstream in(list_file);
    if (!in) face::fail("cannot open list file '{}'", list_file);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) inputs.push_back({line, line});
  }
  // The names file has one line per row: a name with a line break would put rows and names out
  // of step, so such a file is left out, named with its control characters escaped.
  std::vector<Input> usable;
  for (auto& input : inputs) {
    if (input.name.find_first_of("\n\r") == std::string::npos) {
      usable.push_back(std::move(input));
      continue;
    }
    std::string shown;
    for (char c : input.name) shown += c == '\n' ? "\\n" : c == '\r' ? "\\r" : std::string(1, c);
    fmt::print(stderr, "warning: skipped: '{}': a line break in the name would break the names file\n", shown);
    ++failures;
  }
  return usable;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Embed face images with a facenet-cpp or TorchScript model"};
  std::vector<std::string> roots;
  std::string list_file, out, names, model, arch = "nn4.small2", device_name = "cpu";
  uint64_t seed = 0;
  int64_t batch = 64;
  int threads = 0;
  app.add_option("inputs", roots, "image files or folders (searched recursively)");
  app.add_option("--list", list_file, "text file with one image path per line");
  app.add_option("--out", out, "output .npy (float32, N x D)")->required();
  app.add_option("--names", names, "output names file (default: OUT with .txt)");
  app.add_option("--model", model, "checkpoint, model file, TorchScript module, 'dlib-resnet' or 'random' "
                                   "(default: the released model)");
  app.add_option("--arch", arch, "architecture for --model random")->capture_default_str();
  app.add_option("--seed", seed, "seed for --model random")->capture_default_str();
  app.add_option("--batch", batch, "images per forward pass")->capture_default_str()->check(face::cli::batch());
  app.add_option("--device", device_name, "cpu or cuda[:N]")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  std::string precision = "fp32";  // auto once bf16's LFW parity is checked on a native-bf16 CPU
  face::cli::add_precision(app, precision);
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    face::configure_threads(threads);
    torch::Device device = face::parse_device(device_name);
    std::unique_ptr<face::Embedder> embedder =
        face::open_model({model, arch, seed, face::resolve_precision(precision, device)}, device);
    fmt::print(stderr, "precision: {} ({})\n", face::precision_name(embedder->precision()), face::bf16_support(device));
    const int size = static_cast<int>(embedder->input_size());

    int failures = 0;
    std::vector<Input> inputs = collect_inputs(roots, list_file, failures);
    if (inputs.empty()) face::fail("no images found in the given inputs");

    std::vector<torch::Tensor> embeddings;
    std::vector<std::string> kept;
    face::Progress progress("embed", static_cast<int64_t>(inputs.size()));
    for (size_t start = 0; start < inputs.size(); start += batch) {
      size_t end = std::min(inputs.size(), start + static_cast<size_t>(batch));
      std::vector<fs::path> files;
      for (size_t i = start; i < end; ++i) files.push_back(inputs[i].file);
      // Each file is taken whole as the face (no alignment), resized to the model's input.
      face::FaceReadOptions whole;
      whole.size = size;
      face::ReadFaces read = face::read_faces(files, whole);
      const auto& errors = read.errors;
      std::vector<torch::Tensor> good;
      for (size_t i = 0; i < files.size(); ++i) {
        if (!errors[i].empty()) {
          fmt::print(stderr, "warning: skipped: {}\n", errors[i]);
          ++failures;
          continue;
        }
        good.push_back(read.images[static_cast<int64_t>(i)]);
        kept.push_back(inputs[start + i].name);
      }
      if (!good.empty()) embeddings.push_back(embedder->embed(torch::stack(good)));
      progress.advance(static_cast<int64_t>(end - start));
    }
    progress.finish();
    if (kept.empty()) face::fail("none of the {} images could be embedded", inputs.size());

    torch::Tensor matrix = torch::cat(embeddings);
    face::write_npy(out, matrix);
    if (names.empty()) names = fs::path(out).replace_extension(".txt").string();
    std::string names_text;
    for (const auto& n : kept) names_text += n + "\n";
    face::write_file_atomic(names, names_text);
    fmt::print("embedded {} images ({} skipped) with {} -> {} ({} x {}), names in {} ({:.1f} images/s)\n",
               kept.size(), failures, embedder->description(), out, matrix.size(0), matrix.size(1), names,
               progress.rate());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "embed: error: {}\n", e.what());
    return 1;
  }
}
