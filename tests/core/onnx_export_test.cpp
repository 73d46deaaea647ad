// export --onnx (deploy/onnx_export.h): the ONNX model in onnxruntime computes what our C++
// embedder computes (batch norm folded, fused LRN kernel) to 1e-5, on a batch size other than the
// one traced, and carries the export's metadata.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include "data/normalisation.h"
#include "model/embedder.h"
#include "test_support.h"
#include "util/npy.h"

using namespace face;

namespace {

std::filesystem::path venv_python() { return test::source_dir() / ".venv/bin/python"; }

}  // namespace

TEST(OnnxExport, OnnxruntimeMatchesOurEmbedder) {
  if (!std::filesystem::exists(venv_python())) GTEST_SKIP() << "no " << venv_python() << " (run tools/setup.sh)";
  test::TempDir dir;
  auto r = test::run_command(fmt::format("{} --untrained nn4.small2 --seed 4 --out {} --threshold 0.9 --onnx {} --threads 2",
                                         test::tool("export").string(), (dir / "m.pt").string(),
                                         (dir / "m.onnx").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(std::filesystem::exists(dir / "m.onnx")) << r.output;
  EXPECT_EQ(std::filesystem::status(dir / "m.onnx").permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::others_read)
      << "the ONNX file gets ordinary permissions, not the temporary file's";

  auto embedder = load_embedder(dir / "m.pt", torch::kCPU);
  torch::manual_seed(5);
  auto images = torch::randint(0, 256, {7, 3, 96, 96}, torch::kUInt8);
  write_npy(dir / "x.npy", to_model_input(images).reshape({7, -1}).contiguous());
  write_npy(dir / "y.npy", embedder->embed(images));
  auto check = test::run_command(fmt::format("{} {} {} {} {} {}", venv_python().string(),
                                             (test::source_dir() / "tests/python/check_onnx.py").string(),
                                             (dir / "m.onnx").string(), (dir / "x.npy").string(),
                                             (dir / "y.npy").string(), embedder->fingerprint()));
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("arch nn4.small2"), std::string::npos) << check.output;
}

TEST(OnnxExport, BadTargetsAreNamedAndLeaveNothingBehind) {
  test::TempDir dir;
  const std::string exe = test::tool("export").string();
  auto same = test::run_command(fmt::format("{} --untrained nn4.small2 --out {} --threshold 0.9 --onnx {}", exe,
                                            (dir / "m.pt").string(), (dir / "m.pt").string()));
  EXPECT_EQ(same.status, 1) << same.output;
  EXPECT_NE(same.output.find("is the --out file"), std::string::npos) << same.output;

  auto opset = test::run_command(fmt::format("{} --untrained nn4.small2 --out {} --threshold 0.9 --onnx {} --opset 99",
                                             exe, (dir / "m.pt").string(), (dir / "m.onnx").string()));
  EXPECT_EQ(opset.status, 2) << opset.output;

  if (!std::filesystem::exists(venv_python())) GTEST_SKIP() << "no " << venv_python();
  auto missing = dir / "no-such-folder" / "m.onnx";
  auto r = test::run_command(fmt::format("{} --untrained nn4.small2 --out {} --threshold 0.9 --onnx {}", exe,
                                         (dir / "m.pt").string(), missing.string()));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(missing.string()), std::string::npos) << "the message names the file: " << r.output;
  EXPECT_FALSE(std::filesystem::exists(missing.parent_path()));
  size_t leftovers = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().filename().string().rfind(".onnx-", 0) == 0) ++leftovers;
  EXPECT_EQ(leftovers, 0u) << "no temporary file left behind";
}
