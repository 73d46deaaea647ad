#include "deploy/serve/gallery_store.h"

#include <torch/torch.h>

namespace face::serve {

GalleryStore::GalleryStore(std::string name, const std::filesystem::path& path, const GalleryModel& model)
    : name_(std::move(name)), path_(path), gallery_(path, model) {}

int64_t GalleryStore::enroll(const std::string& person, const std::vector<std::string>& sources,
                             const torch::Tensor& embeddings, std::vector<std::string>* duplicates) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t total = gallery_.enroll(person, sources, embeddings, duplicates);
  ++changes_;
  return total;
}

bool GalleryStore::remove(const std::string& person) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool removed = gallery_.remove(person);
  if (removed) ++changes_;
  return removed;
}

std::vector<PersonSummary> GalleryStore::list() {
  std::lock_guard<std::mutex> lock(mutex_);
  return gallery_.list();
}

std::shared_ptr<const Searcher> GalleryStore::searcher() {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t data_version = gallery_.data_version();
  if (!snapshot_ || snapshot_changes_ != changes_ || snapshot_data_version_ != data_version) {
    // Loading is one read transaction (Gallery::load): a consistent snapshot even mid-enrolment elsewhere.
    snapshot_ = std::make_shared<Searcher>(gallery_, make_exact_index(torch::kCPU));
    snapshot_changes_ = changes_;
    snapshot_data_version_ = data_version;
  }
  return snapshot_;
}

}  // namespace face::serve
