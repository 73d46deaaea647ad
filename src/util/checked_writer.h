// checked_writer.h: hand LibTorch's serialisers a byte sink that reports a full disk instead of
// killing the process.
//
// LibTorch's own file writers (OutputArchive::save_to(file), jit::Module::save(file)) throw from
// inside their writer when a write fails, then throw again while cleaning up, and the process
// aborts with a backtrace. write_checked gives them a writer function instead: it writes into
// `tmp`, keeps the first OS error (ENOSPC, EFBIG under a file size limit, EIO, ...) and swallows
// the rest of the stream; once the serialiser returns, that error becomes a face::Error naming
// `path` and the reason. Meant to run inside write_atomic (util/atomic_file.h), which then
// removes the temporary and leaves the previous `path` untouched.
#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

namespace face {

using ByteWriter = std::function<size_t(const void* data, size_t size)>;

// `what` names the kind of file in messages ("checkpoint", "model file", "TorchScript model").
void write_checked(const std::filesystem::path& tmp, const std::filesystem::path& path, const std::string& what,
                   const std::function<void(const ByteWriter& writer)>& serialise);

}  // namespace face
