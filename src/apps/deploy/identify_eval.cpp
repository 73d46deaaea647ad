// identify_eval: 1:K identification accuracy on LFW, through a real gallery.
//
//   identify_eval --lfw DIR [--model M | --arch nn4.small2 --seed 0] [--threshold T] [--aligned] [--detector hog|mmod]
//                 [--index exact|faiss] [--gallery FILE [--overwrite]] [--out report.json] [--threads N]
//
// Protocol: every person with two or more images is enrolled with their first image (sorted by
// file name): 1,680 people in LFW. Their other images are the known probes: rank-1 and rank-5
// accuracy say how often the right person is the nearest / among the five nearest. People with
// a single image are never enrolled; they are the open-set probes, and the rejection rate is the
// share of them whose nearest enrolled face is farther than the threshold ("unknown"), the
// correct answer for them. Also reported: the share of known probes that are both accepted
// (below the threshold) and correctly identified at rank 1.
// The report (JSON, with run_info, model, threshold and protocol) goes to --out and stdout.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <torch/torch.h>

#include "apps/cli_checks.h"
#include "deploy/gallery/model_binding.h"
#include "deploy/gallery/searcher.h"
#include "vision/deployed_model.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/device.h"
#include "util/progress.h"
#include "util/run_info.h"
#include "util/threads.h"
#include "vision/image_io.h"

namespace fs = std::filesystem;

namespace {

struct Person {
  std::string name;
  std::vector<fs::path> images;
};

std::vector<Person> list_people(const fs::path& root) {
  if (!fs::is_directory(root)) face::fail("--lfw '{}' is not a directory", root.string());
  std::vector<Person> people;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    Person p{entry.path().filename().string(), face::list_images(entry.path())};
    if (!p.images.empty()) people.push_back(std::move(p));
  }
  std::sort(people.begin(), people.end(), [](const Person& a, const Person& b) { return a.name < b.name; });
  if (people.empty()) face::fail("--lfw '{}' has no per-person folders of images", root.string());
  return people;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"1:K identification on LFW through a gallery"};
  std::string lfw, model, arch = "nn4.small2", index = "exact", gallery_path, out, device_name = "cpu",
              precision = "fp32", detector;
  uint64_t seed = 0;
  double threshold = 0;
  bool aligned = false;
  int threads = 0;
  int64_t batch = 64;
  app.add_option("--lfw", lfw, "LFW tree (one folder per person), aligned faces with --aligned")->required();
  app.add_option("--model", model, "exported model, checkpoint, 'dlib-resnet' or 'random' (default: the released model)");
  app.add_option("--arch", arch, "architecture for --model random")->capture_default_str();
  app.add_option("--seed", seed, "seed for --model random")->capture_default_str();
  auto* t = app.add_option("--threshold", threshold, "open-set threshold (default: the model's)")->check(face::cli::finite(0, 4));
  app.add_flag("--aligned", aligned, "images are already aligned faces");
  app.add_option("--index", index, "exact or faiss")->capture_default_str();
  app.add_option("--gallery", gallery_path, "gallery file to build (default: a temporary one); never replaced "
                                            "unless --overwrite");
  bool overwrite = false;
  app.add_flag("--overwrite", overwrite, "replace an existing --gallery file");
  app.add_option("--out", out, "JSON report");
  app.add_option("--device", device_name, "cpu or cuda[:N]")->capture_default_str();
  face::cli::add_precision(app, precision);
  face::cli::add_detector(app, detector);
  app.add_option("--threads", threads, "intra-op threads (0 = all cores)")->capture_default_str()->check(face::cli::threads());
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    face::configure_threads(threads);
    // A file the user names is theirs: refuse to replace it (checked before any work) unless told.
    if (!gallery_path.empty() && !overwrite)
      for (const char* suffix : {"", "-wal", "-shm"})
        if (fs::exists(gallery_path + suffix))
          face::fail("--gallery '{}' already exists: identify_eval builds a new gallery there and would replace it; "
                     "pass --overwrite to allow that, or name another file", gallery_path + suffix);
    torch::Device device = face::parse_device(device_name);
    face::DeployedModelOptions options;
    options.model = model, options.arch = arch, options.seed = seed, options.device = device_name;
    options.precision = precision;
    options.aligned = aligned;
    options.detector = detector;
    if (t->count()) options.threshold = threshold;
    face::DeployedModel deployed(options);
    face::Embedder* embedder = &deployed.embedder();
    double th = deployed.threshold();
    std::vector<Person> people = list_people(lfw);

    // Embed every image once; failures are named and leave the image out.
    face::FaceReader& faces = deployed.faces();
    std::vector<std::vector<torch::Tensor>> embedded(people.size());
    int64_t total_images = 0, failed = 0;
    for (const auto& p : people) total_images += static_cast<int64_t>(p.images.size());
    face::Progress progress("embed", total_images);
    std::vector<torch::Tensor> pending;
    std::vector<size_t> owner;
    auto flush = [&] {
      if (pending.empty()) return;
      torch::Tensor e = embedder->embed(torch::stack(pending));
      for (size_t i = 0; i < owner.size(); ++i) embedded[owner[i]].push_back(e[static_cast<int64_t>(i)]);
      progress.advance(static_cast<int64_t>(pending.size()));
      pending.clear();
      owner.clear();
    };
    for (size_t p = 0; p < people.size(); ++p) {
      for (const auto& f : people[p].images) {
        try {
          pending.push_back(faces.read(f).image);
          owner.push_back(p);
        } catch (const face::Error& e) {
          fmt::print(stderr, "warning: left out: {}\n", e.what());
          ++failed;
          progress.advance();
        }
        if (static_cast<int64_t>(pending.size()) == batch) flush();
      }
    }
    flush();
    progress.finish();

    // Enrol the first image of everyone with two or more; time the enrolment.
    fs::path gallery_file = gallery_path.empty() ? fs::temp_directory_path() / fmt::format("identify_eval_{}.db", ::getpid())
                                                 : fs::path(gallery_path);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(gallery_file.string() + suffix);
    face::Gallery gallery(gallery_file, face::gallery_model(*embedder));
    std::vector<torch::Tensor> known_probes, open_probes;
    std::vector<std::string> known_truth;
    int64_t enrolled = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t p = 0; p < people.size(); ++p) {
      auto& rows = embedded[p];
      if (rows.size() >= 2) {
        gallery.enroll(people[p].name, {people[p].images[0].string()}, rows[0].unsqueeze(0));
        ++enrolled;
        for (size_t i = 1; i < rows.size(); ++i) {
          known_probes.push_back(rows[i]);
          known_truth.push_back(people[p].name);
        }
      } else if (rows.size() == 1) {
        open_probes.push_back(rows[0]);
      }
    }
    double enrol_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    face::Searcher searcher(gallery, face::make_index(index, device));
    auto t1 = std::chrono::steady_clock::now();
    auto known = searcher.identify(torch::stack(known_probes), 5, th);
    auto open = open_probes.empty() ? std::vector<face::Identification>()
                                    : searcher.identify(torch::stack(open_probes), 1, th);
    double query_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    int64_t rank1 = 0, rank5 = 0, accepted_correct = 0, rejected = 0;
    for (size_t i = 0; i < known.size(); ++i) {
      const auto& c = known[i].candidates;
      for (size_t r = 0; r < c.size(); ++r) {
        if (c[r].name != known_truth[i]) continue;
        if (r == 0) ++rank1;
        ++rank5;
        if (r == 0 && known[i].known) ++accepted_correct;
      }
    }
    for (const auto& o : open) rejected += o.known ? 0 : 1;
    auto share = [](int64_t a, size_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };

    nlohmann::json report = {
        {"protocol", "LFW 1:K: first image of each person with >= 2 images enrolled; their other images are "
                     "known probes; people with 1 image are open-set probes"},
        {"lfw", lfw},
        {"aligned_input", aligned},
        {"align_recipe", faces.recipe()},
        {"model", embedder->description()},
        {"model_fingerprint", embedder->fingerprint()},
        {"random_weights", model.empty()},
        {"threshold", th},
        {"distance", "squared_l2"},
        {"index", searcher.index().name()},
        {"people_enrolled", enrolled},
        {"known_probes", known.size()},
        {"open_set_probes", open.size()},
        {"images_left_out", failed},
        {"rank1_accuracy", share(rank1, known.size())},
        {"rank5_accuracy", share(rank5, known.size())},
        {"open_set_rejection_rate", share(rejected, open.size())},
        {"known_accepted_and_correct_rate", share(accepted_correct, known.size())},
        {"enrolment_people_per_second", enrolled / std::max(enrol_seconds, 1e-9)},
        {"query_ms_per_probe", 1000.0 * query_seconds / std::max<double>(1, known.size() + open.size())},
        {"run_info", face::run_info()},
    };
    if (!out.empty()) face::write_file_atomic(out, report.dump(2) + "\n");
    fmt::print("{}\n", report.dump(2));
    if (gallery_path.empty())
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(gallery_file.string() + suffix);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "identify_eval: error: {}\n", e.what());
    return 1;
  }
}
