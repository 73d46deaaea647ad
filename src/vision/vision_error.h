// vision_error.h: what went wrong with an image or a face, as a kind a caller can act on.
//
// Reading images (image_io.h) and finding faces in them (face_reader.h) fail with VisionError: a
// face::Error like every other (its message names the file and the reason) that also says which
// kind of failure it is. Callers that answer for it map the kinds in one place (serve: to HTTP
// statuses, deploy/serve/http_service.cpp) instead of probing the input first to guess.
#pragma once
#include <fmt/format.h>

#include <string>
#include <utility>

#include "util/error.h"

namespace face {

enum class VisionFailure {
  unreadable,   // missing, a directory, no permission
  too_large,    // over the pixel cap (read from the header, before any pixel is decoded)
  undecodable,  // empty, truncated, corrupt, or not in a format read here
  no_face,      // no face found where one was needed
  not_aligned,  // given as an aligned face, but not of the aligned size
};

struct VisionError : Error {
  VisionError(VisionFailure failure, const std::string& message) : Error(message), failure(failure) {}
  VisionFailure failure;
};

template <class... Args>
[[noreturn]] void fail_as(VisionFailure failure, fmt::format_string<Args...> format, Args&&... args) {
  throw VisionError(failure, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace face
