// Models whose outputs are not embeddings (issue 26, item 11): a TorchScript returning NaN gave
// "distance nan: DIFFERENT", one returning its input a distance of 2534, and `identify enroll`
// stored NaN rows. Every such model is refused where its output is produced, naming the model.
#include <gtest/gtest.h>
#include <torch/script.h>

#include "deploy/gallery/gallery.h"
#include "deploy_fixtures.h"
#include "model/embedder.h"
#include "util/error.h"

using namespace face;
namespace fs = std::filesystem;

namespace {

// A TorchScript module whose forward is `body` (x: float (m, 3, 96, 96) in [0, 1]).
fs::path script_model(const fs::path& dir, const std::string& name, const std::string& body) {
  torch::jit::Module m("Bad");
  m.define("def forward(self, x):\n    return " + body + "\n");
  m.eval();
  fs::path path = dir / (name + ".pt");
  m.save(path.string());
  return path;
}

void expect_refused(const fs::path& model, const std::string& reason) {
  try {
    auto embedder = load_embedder(model, torch::kCPU);
    embedder->embed(torch::zeros({2, 3, embedder->input_size(), embedder->input_size()}, torch::kUInt8));
    ADD_FAILURE() << model << " was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(model.string()), std::string::npos) << message;
    EXPECT_NE(message.find(reason), std::string::npos) << "expected '" << reason << "' in: " << message;
  }
}

}  // namespace

TEST(ModelOutput, ModelsWhoseOutputsAreNotUnitEmbeddingsAreRefusedNamingTheModel) {
  test::TempDir dir;
  expect_refused(script_model(dir.path, "nan", "torch.full([x.size(0), 128], float('nan'))"), "NaN");
  expect_refused(script_model(dir.path, "identity", "x"), "not one embedding row per image");
  expect_refused(script_model(dir.path, "unnormalised", "torch.ones([x.size(0), 128])"), "not unit length");
  expect_refused(script_model(dir.path, "one_row", "torch.ones([1, 128]) / 128 ** 0.5"), "not one embedding row");
  // A model that does return unit rows is accepted, with its dimension found out.
  auto fine = load_embedder(
      script_model(dir.path, "unit",
                   "(x.mean([2, 3]).repeat(1, 4) + 1.0) / ((x.mean([2, 3]).repeat(1, 4) + 1.0) ** 2).sum(1, True).sqrt()"),
      torch::kCPU);
  EXPECT_EQ(fine->embedding_dim(), 12);
  EXPECT_NEAR(fine->embed(torch::zeros({3, 3, 96, 96}, torch::kUInt8)).norm(2, 1).max().item<double>(), 1.0, 1e-5);
  // The verify tool says what is wrong with such a model rather than "distance nan: DIFFERENT".
  test::write_face(dir / "a.png", 1);
  auto r = test::run_command(fmt::format("{} --aligned --threads 1 --threshold 0.5 --model '{}' '{}' '{}' 2>&1",
                                         test::tool("verify").string(), (dir / "nan.pt").string(),
                                         (dir / "a.png").string(), (dir / "a.png").string()));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("NaN"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("DIFFERENT"), std::string::npos) << r.output;
}

TEST(ModelOutput, AGalleryRefusesNonFiniteRows) {
  test::TempDir dir;
  Gallery g(dir / "g.db", GalleryModel{"fp", 4, "test"});
  torch::Tensor rows = torch::full({1, 4}, 0.5);
  rows[0][2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(g.enroll("alice", {"a.png"}, rows), Error);
  try {
    g.enroll("alice", {"a.png"}, torch::zeros({1, 3, 4, 4}));
    ADD_FAILURE() << "a 4-d tensor was enrolled";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4-dimensional"), std::string::npos) << e.what();  // not "-1-d"
  }
  EXPECT_TRUE(g.list().empty());
}
