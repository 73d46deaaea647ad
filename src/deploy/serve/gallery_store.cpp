#include "deploy/serve/gallery_store.h"

#include <torch/torch.h>

namespace face::serve {

GalleryStore::GalleryStore(std::string name, const std::filesystem::path& path, const GalleryModel& model,
                           int write_wait_ms)
    : name_(std::move(name)), path_(path), writer_(path, model, write_wait_ms), reader_(path) {}

int64_t GalleryStore::enroll(const std::string& person, const std::vector<std::string>& sources,
                             const torch::Tensor& embeddings, std::vector<std::string>* duplicates) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return writer_.enroll(person, sources, embeddings, duplicates);
}

bool GalleryStore::remove(const std::string& person) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return writer_.remove(person);
}

std::vector<PersonSummary> GalleryStore::list() {
  std::lock_guard<std::mutex> lock(read_mutex_);
  return reader_.list();
}

std::shared_ptr<const Searcher> GalleryStore::searcher() {
  std::lock_guard<std::mutex> lock(read_mutex_);
  // The writing connection is "another connection" to this one: its commits move data_version too.
  const int64_t data_version = reader_.data_version();
  if (!snapshot_ || snapshot_data_version_ != data_version) {
    // Loading is one read transaction (Gallery::load): a consistent snapshot even mid-enrolment elsewhere.
    snapshot_ = std::make_shared<Searcher>(reader_, make_exact_index(torch::kCPU));
    snapshot_data_version_ = data_version;
  }
  return snapshot_;
}

}  // namespace face::serve
