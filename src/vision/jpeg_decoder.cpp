#include "vision/jpeg_decoder.h"

#include <opencv2/imgproc.hpp>

#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>

#include "util/error.h"

namespace face {

namespace {

struct StrictErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf escape;
  char message[JMSG_LENGTH_MAX] = {0};
};

// Errors and warnings alike end decoding: libjpeg cannot throw through C frames, so longjmp out.
void on_error(j_common_ptr info) {
  auto* m = reinterpret_cast<StrictErrorManager*>(info->err);
  info->err->format_message(info, m->message);
  std::longjmp(m->escape, 1);
}

void on_message(j_common_ptr info, int level) {
  if (level < 0) on_error(info);  // -1: a warning (corrupt data); >= 0: trace messages, ignored
}

}  // namespace

cv::Mat decode_jpeg_strict(const std::string& bytes, const std::string& name) {
  jpeg_decompress_struct info{};
  StrictErrorManager errors;
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_error;
  errors.base.emit_message = on_message;
  cv::Mat out;  // declared before setjmp: nothing with a destructor is created after it
  if (setjmp(errors.escape)) {
    jpeg_destroy_decompress(&info);
    fail("image '{}': corrupt JPEG: {}", name, errors.message);
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&info);
    return out;  // empty: the caller decodes these rare files through OpenCV
  }
  const bool gray = info.jpeg_color_space == JCS_GRAYSCALE;
  info.out_color_space = gray ? JCS_GRAYSCALE : JCS_EXT_BGR;  // BGR, as OpenCV returns it
  jpeg_start_decompress(&info);
  out.create(static_cast<int>(info.output_height), static_cast<int>(info.output_width), gray ? CV_8UC1 : CV_8UC3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out.ptr<unsigned char>(static_cast<int>(info.output_scanline));
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return out;
}

}  // namespace face
